"""``RegressionModel``: linear and logistic regression, evaluated column by column.

Each ``RegressionTable`` is summed in JPMML's order (numeric predictors, categorical predictors,
predictor terms, then the intercept), so the float32 arithmetic of ``x-mathContext="float"`` models
rounds at the same steps. A missing numeric input makes the row's prediction missing; a missing
categorical input only drops its term. Normalisations: ``none``, ``softmax``, ``simplemax``,
``logit``, ``probit``, ``cloglog``, ``loglog``, ``cauchit`` and ``exp``, with JPMML's binomial,
multinomial and ordinal rules (a two-class ``softmax`` whose second table is empty is a ``logit``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from tidal.models._pmml._base import Model, numeric_input, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._results import MathContext, Prediction, classification
from tidal.models._pmml._values import equals_text

METHODS = ("none", "simplemax", "softmax", "logit", "probit", "cloglog", "exp", "loglog", "cauchit")


class Table:
    def __init__(self, element: Element, model: Model) -> None:
        self.category = element.get("targetCategory")
        self.intercept = element.number("intercept", 0.0)
        self.numeric = []
        for item in element.findall("NumericPredictor"):
            name = item.get("name") or item.require("field")
            model.scope.lookup(name, item.describe())
            self.numeric.append((name, int(item.number("exponent", 1.0)), item.number("coefficient")))
        self.categorical = []
        for item in element.findall("CategoricalPredictor"):
            name = item.get("name") or item.require("field")
            model.scope.lookup(name, item.describe())
            self.categorical.append((name, item.require("value"), item.number("coefficient"), item.describe()))
        self.terms = []
        for item in element.findall("PredictorTerm"):
            item.get("name")
            names = [reference.require("field") for reference in item.findall("FieldRef")]
            for name in names:
                model.scope.lookup(name, item.describe())
            self.terms.append((names, item.number("coefficient")))
        self.empty = not (self.numeric or self.categorical or self.terms) and self.intercept == 0.0

    def evaluate(self, context: Context, math: MathContext) -> tuple[np.ndarray, np.ndarray]:
        """The table's value per row, and which rows cannot be evaluated (a missing input)."""
        total = math.zeros(context.size)
        missing = np.zeros(context.size, dtype=bool)
        for name, exponent, coefficient in self.numeric:
            values, absent = numeric_input(context, name, math)
            missing |= absent
            factor = values if exponent == 1 else math.array(np.power(values.astype(np.float64), exponent))
            total = total + math.scalar(coefficient) * factor
        if self.categorical:
            total = self._categorical(context, math, total)
        for names, coefficient in self.terms:
            product = np.full(context.size, math.scalar(coefficient), dtype=math.dtype)
            for name in names:
                values, absent = numeric_input(context, name, math)
                missing |= absent
                product = product * values
            total = total + product
        total = total + math.scalar(self.intercept)
        return total, missing

    def _categorical(self, context: Context, math: MathContext, total: np.ndarray) -> np.ndarray:
        # JPMML takes at most one predictor per run of predictors on the same field: once a row matched
        # (or the field is missing), the rest of that run is skipped for the row
        matched = np.zeros(context.size, dtype=bool)
        previous = None
        for name, value, coefficient, where in self.categorical:
            if name != previous:
                matched = np.zeros(context.size, dtype=bool)
            column = context.get(name)
            hit = equals_text(column, value, where) & ~matched
            total = np.where(hit, total + math.scalar(coefficient), total)
            matched = matched | hit | column.missing
            previous = name
        return total


@register("RegressionModel")
class RegressionModel(Model):
    def compile(self, element: Element) -> None:
        self.method = element.choice("normalizationMethod", "none", METHODS)
        element.get("modelType")
        element.get("targetFieldName")
        self.tables = [Table(table, self) for table in element.findall("RegressionTable")]
        if not self.tables:
            raise PmmlInvalid(f"{self.where} has no <RegressionTable>")
        if self.math.name == "float" and self.method == "probit":
            raise PmmlUnsupported(f"{self.where}: normalizationMethod=\"probit\" in float arithmetic is not supported")
        if self.function == "regression":
            if len(self.tables) != 1:
                raise PmmlInvalid(f"{self.where} is a regression with {len(self.tables)} tables (needs one)")
            if self.method == "simplemax":
                raise PmmlInvalid(f"{self.where}: normalizationMethod=\"simplemax\" is not defined for regression")
            return
        optype = self.target.optype if self.target is not None else "categorical"
        if optype == "continuous":
            raise PmmlInvalid(f"{self.where} classifies into a continuous target")
        self.ordinal = optype == "ordinal"
        if len(self.tables) < 2:
            raise PmmlInvalid(f"{self.where} is a classification with fewer than two tables")
        if any(table.category is None for table in self.tables):
            raise PmmlInvalid(f"{self.where}: every RegressionTable of a classification needs a targetCategory")
        self.labels = [str(table.category) for table in self.tables]
        binary = len(self.tables) == 2
        allowed: tuple[str, ...]
        if self.ordinal:
            allowed = ("none", "logit", "probit", "cloglog", "loglog", "cauchit")
        elif binary:
            allowed = tuple(method for method in METHODS if method != "exp")
        else:
            allowed = ("none", "softmax", "simplemax", "logit")
        if self.method not in allowed:
            raise PmmlInvalid(f"{self.where}: normalizationMethod=\"{self.method}\" is not defined for a "
                              f"{'ordinal' if self.ordinal else 'binary' if binary else 'multiclass'} classification")

    def predict(self, context: Context) -> Prediction:
        values, missing = [], np.zeros(context.size, dtype=bool)
        for table in self.tables:
            total, absent = table.evaluate(context, self.math)
            values.append(total)
            missing |= absent
        if self.function == "regression":
            result = _inverse_link(values[0], self.method, self.math)
            return self.targets.finish_regression(result, missing, self.math, self.target_type)
        probabilities = self._probabilities(values)
        return self.targets.fill_priors(classification(self.labels, probabilities, missing), self.math)

    def _probabilities(self, values: list[np.ndarray]) -> np.ndarray:
        math, method = self.math, self.method
        one = math.scalar(1.0)
        if self.ordinal:
            result, total = [], None
            for value in values[:-1]:
                value = _binary(value, method, math)
                if total is None:
                    total = value.copy()
                else:
                    value = value - total
                    total = total + value
                result.append(value)
            assert total is not None
            result.append(one - total)
            return np.column_stack(result)
        if len(values) == 2 and (method not in ("softmax", "simplemax") or (method == "softmax" and self.tables[1].empty)):
            first = _binary(values[0], "logit" if method == "softmax" else method, math)
            return np.column_stack([first, one - first])
        if method == "none":
            total = values[0].copy()
            for value in values[1:-1]:
                total = total + value
            return np.column_stack(values[:-1] + [one - total])
        if method == "logit":
            return np.column_stack([_binary(value, "logit", math) for value in values])
        stacked = np.column_stack(values)
        if method == "softmax":
            peak = _first_max(stacked)
            stacked = math.exp(stacked - peak[:, None])
        total = stacked[:, 0].copy()
        for column in range(1, stacked.shape[1]):
            total = total + stacked[:, column]
        ones = total == one
        with np.errstate(all="ignore"):
            divided = stacked / total[:, None]
        return np.where(ones[:, None], stacked, divided)


def _first_max(values: np.ndarray) -> np.ndarray:
    return values.max(axis=1)


def _binary(value: np.ndarray, method: str, math: MathContext) -> np.ndarray:
    if method == "none":
        return np.minimum(np.maximum(value, math.scalar(0.0)), math.scalar(1.0))
    return _inverse_link(value, method, math)


def _inverse_link(value: np.ndarray, method: str, math: MathContext) -> np.ndarray:
    one = math.scalar(1.0)
    with np.errstate(over="ignore"):
        if method == "none":
            return value
        if method in ("logit", "softmax"):
            return one / (one + math.exp(-value))
        if method == "exp":
            return math.exp(value)
        if method == "probit":
            return special.ndtr(value.astype(np.float64)).astype(math.dtype)
        if method == "cloglog":
            return one - math.exp(-math.exp(value))
        if method == "loglog":
            return math.exp(-math.exp(-value))
        if method == "cauchit":
            if math.name == "float":
                return math.scalar(0.5) + math.scalar(1 / np.pi) * np.arctan(value.astype(np.float64)).astype(np.float32)
            return 0.5 + 0.3183098861837907 * np.arctan(value)
    raise PmmlUnsupported(f"normalizationMethod=\"{method}\" is not supported for this model")
