"""What a model computes for a batch of rows, the ``<Targets>`` post-processing, and the math context.

A :class:`Prediction` holds, per row, either a regression value or a class distribution (labels in
the order JPMML inserts them, probabilities, the winning label), and a ``missing`` mask: rows with no
prediction (JPMML's null). :class:`Targets` applies ``min``/``max``, ``rescaleFactor``,
``rescaleConstant`` and ``castInteger`` to regression values, and supplies ``defaultValue`` or
``priorProbability`` answers for rows without a prediction.

:class:`MathContext` does arithmetic in the precision a model declares: ``x-mathContext="float"``
(XGBoost) computes in float32 step by step, as JPMML's FloatValue does; otherwise in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tidal.models._pmml._context import FieldInfo
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._functions import EvaluationFailed
from tidal.models._pmml._values import DOUBLE, FLOAT, INTEGER, STRING, Column, cast, parse_value

FLOAT_E = 2.7182817  # the base JPMML's float arithmetic raises for exp()


class MathContext:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.float32 if name == "float" else np.float64
        self.type = FLOAT if name == "float" else DOUBLE

    def zeros(self, size: int) -> np.ndarray:
        return np.zeros(size, dtype=self.dtype)

    def scalar(self, value: float) -> np.floating:
        return self.dtype(value)

    def array(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values).astype(self.dtype)

    def exp(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            if self.name == "float":  # JPMML's FloatValue.exp: (float) Math.pow(2.7182817, x)
                return np.power(FLOAT_E, values.astype(np.float64)).astype(np.float32)
            return np.exp(values)


def math_context(element: Element, inherited: MathContext | None = None) -> MathContext:
    name = element.get("x-mathContext")
    if name is None:
        return inherited or MathContext("double")
    if name not in ("float", "double"):
        raise PmmlUnsupported(f"PMML attribute x-mathContext=\"{name}\" of {element.describe()} is not supported")
    return MathContext(name)


@dataclass
class Prediction:
    """One model's answers for a batch of rows."""

    size: int
    missing: np.ndarray
    value: Column | None = None  # regression (and clustering) value, typed
    labels: list[str] = field(default_factory=list)  # classification: category keys, in insertion order
    probabilities: np.ndarray | None = None  # (rows, labels); 0 for a label a row's answer lacks
    winner: np.ndarray | None = None  # index into labels, -1 where missing
    outputs: dict[str, Column] = field(default_factory=dict)
    entities: dict[str, np.ndarray] = field(default_factory=dict)  # clusters, neighbours: extra per-row arrays

    @property
    def is_classification(self) -> bool:
        return self.probabilities is not None

    def probability_of(self, label: str) -> np.ndarray:
        assert self.probabilities is not None
        if label in self.labels:
            result = self.probabilities[:, self.labels.index(label)].astype(np.float64)
        else:
            result = np.zeros(self.size)
        result[self.missing] = np.nan
        return result

    def predicted_labels(self) -> np.ndarray:
        """The winning label text per row (None where missing)."""
        labels = np.array(self.labels + [None], dtype=object)
        assert self.winner is not None
        return labels[np.where(self.missing, -1, self.winner)]

    def take(self, rows: np.ndarray) -> Prediction:
        return Prediction(
            len(rows), self.missing[rows], self.value.take(rows) if self.value is not None else None,
            list(self.labels), self.probabilities[rows] if self.probabilities is not None else None,
            self.winner[rows] if self.winner is not None else None,
            {name: column.take(rows) for name, column in self.outputs.items()},
            {name: values[rows] for name, values in self.entities.items()},
        )


def first_winner(probabilities: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The first label with the highest probability in each row (JPMML breaks ties by insertion order)."""
    if probabilities.shape[1] == 0:
        return np.full(len(probabilities), -1)
    filled = np.where(np.isnan(probabilities), -np.inf, probabilities)
    winner = filled.argmax(axis=1)
    winner[missing] = -1
    return winner


def classification(labels: list[str], probabilities: np.ndarray, missing: np.ndarray) -> Prediction:
    probabilities = probabilities.copy()
    probabilities[missing] = np.nan
    return Prediction(len(missing), missing, labels=labels, probabilities=probabilities,
                      winner=first_winner(probabilities, missing))


def regression(values: np.ndarray, missing: np.ndarray, type: str) -> Prediction:
    values = values.copy()
    values[missing] = np.nan
    return Prediction(len(missing), missing, value=Column(type, values, missing.copy()))


class Targets:
    """The ``<Target>`` of one target field (or none)."""

    def __init__(self, element: Element | None, target: FieldInfo | None) -> None:
        self.minimum = self.maximum = None
        self.factor, self.constant = 1.0, 0.0
        self.cast_integer: str | None = None
        self.default: float | None = None
        self.priors: list[tuple[str, float]] = []
        if element is None:
            return
        items = element.findall("Target")
        if target is not None:
            items = [item for item in items if item.get("field") in (None, target.name)]
        if len(items) > 1:
            raise PmmlUnsupported(f"several <Target> elements for one target in {element.describe()} are not supported")
        if not items:
            return
        item = items[0]
        item.get("field")
        item.get("optype")
        self.minimum = item.number("min") if item.get("min") is not None else None
        self.maximum = item.number("max") if item.get("max") is not None else None
        self.factor = item.number("rescaleFactor", 1.0)
        self.constant = item.number("rescaleConstant", 0.0)
        cast_integer = item.get("castInteger")
        if cast_integer is not None:
            self.cast_integer = item.choice("castInteger", "round", ("round", "ceiling", "floor"))
        values = item.findall("TargetValue")
        for value in values:
            value.get("displayValue")
            if value.get("defaultValue") is not None:
                self.default = value.number("defaultValue")
            if value.get("priorProbability") is not None:
                self.priors.append((value.require("value"), value.number("priorProbability")))
            elif value.get("value") is not None and value.get("defaultValue") is None:
                raise PmmlUnsupported(f"{value.describe()} without a priorProbability is not supported")

    def rescale(self, values: np.ndarray, math: MathContext) -> np.ndarray:
        """JPMML's TargetUtil.processValue, step by step in the model's precision."""
        values = math.array(values)
        if self.minimum is not None or self.maximum is not None:
            low = math.scalar(self.minimum if self.minimum is not None else -np.inf)
            high = math.scalar(self.maximum if self.maximum is not None else np.inf)
            values = np.minimum(np.maximum(values, low), high)
        if self.factor != 1.0:
            values = values * math.scalar(self.factor)
        if self.constant != 0.0:
            values = values + math.scalar(self.constant)
        if self.cast_integer == "round":
            values = np.floor(values + math.scalar(0.5))
        elif self.cast_integer == "ceiling":
            values = np.ceil(values)
        elif self.cast_integer == "floor":
            values = np.floor(values)
        return values

    def finish_regression(self, values: np.ndarray, missing: np.ndarray, math: MathContext,
                          target_type: str) -> Prediction:
        """Rescale, fill rows without a prediction with the default value, and cast to the target type."""
        values = self.rescale(values, math)
        if self.default is not None and missing.any():
            values = values.copy()
            values[missing] = self.rescale(np.array([self.default]), math)[0]
            missing = np.zeros_like(missing)
        return regression_of_type(values, missing, target_type)

    def fill_priors(self, prediction: Prediction, math: MathContext) -> Prediction:
        """Rows without a prediction get the prior probabilities, when the document gives them."""
        if not self.priors or not prediction.missing.any() or prediction.probabilities is None:
            return prediction
        labels = list(prediction.labels)
        for label, _ in self.priors:
            if label not in labels:
                labels.append(label)
        probabilities = np.zeros((prediction.size, len(labels)), dtype=math.dtype)
        probabilities[:, : len(prediction.labels)] = np.nan_to_num(prediction.probabilities)
        total = math.scalar(0.0)
        for _, prior in self.priors:
            total = math.dtype(total + math.scalar(prior))
        prior_row = np.zeros(len(labels), dtype=math.dtype)
        for label, prior in self.priors:
            value = math.scalar(prior)
            prior_row[labels.index(label)] = value if total == 1 else math.dtype(value / total)
        probabilities[prediction.missing] = prior_row
        return classification(labels, probabilities, np.zeros(prediction.size, dtype=bool))


def regression_of_type(values: np.ndarray, missing: np.ndarray, target_type: str) -> Prediction:
    column = Column(FLOAT if values.dtype == np.float32 else DOUBLE, values.copy(), missing.copy())
    column.values[missing] = np.nan
    if target_type != column.type:
        try:
            column = cast(column, target_type)
        except ValueError as error:
            raise EvaluationFailed(f"a prediction does not fit the target's dataType {target_type}: {error}") from None
    return Prediction(len(missing), missing.copy(), value=column)


def label_value(label: str, target_type: str) -> object:
    """A category key as a value of the target's type (JPMML's parseOrCast)."""
    if target_type == STRING:
        return label
    try:
        value = parse_value(label, target_type)
    except ValueError:
        raise PmmlInvalid(f"category '{label}' is not a valid {target_type} for the target field") from None
    if target_type == INTEGER:
        return int(value)
    if target_type == "boolean":
        return bool(value)
    return float(value)
