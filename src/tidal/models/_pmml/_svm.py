"""``SupportVectorMachineModel``: kernel machines (scikit-learn's SVC, SVR), as JPMML evaluates them.

Each machine sums ``coefficient * kernel(x, support vector)`` over its support vectors in document
order, then adds the ``absoluteValue``. Kernels: linear, polynomial, radial basis and sigmoid.
Classification by ``OneAgainstOne`` votes (a value below the machine's ``threshold`` votes for
``targetCategory``, otherwise for ``alternateTargetCategory``; the first class to reach the most
votes wins) or ``OneAgainstAll`` (the smallest value wins). A row with a missing input gets no
prediction. ``maxWins`` and the ``Coefficients`` representation are refused, as JPMML refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidal.models._pmml._base import Model, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._predicates import parse_array
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._values import equals_text


@dataclass
class Machine:
    vectors: np.ndarray  # (support vectors, fields)
    weights: np.ndarray
    constant: float
    target: str | None
    alternate: str | None
    threshold: float

KERNELS = ("LinearKernelType", "PolynomialKernelType", "RadialBasisKernelType", "SigmoidKernelType")


@register("SupportVectorMachineModel")
class SupportVectorMachine(Model):
    gives_probabilities = False
    def compile(self, element: Element) -> None:
        if element.get("maxWins", "false") == "true":
            raise PmmlUnsupported(f"maxWins=\"true\" of {self.where} is not supported by Tidal's evaluator")
        element.choice("svmRepresentation", "SupportVectors", ("SupportVectors",))
        self.default_threshold = element.number("threshold", 0.0)
        if element.get("alternateBinaryTargetCategory") is not None:
            raise PmmlUnsupported(f"alternateBinaryTargetCategory of {self.where} is not supported by Tidal's evaluator")
        kernels = [child for child in element.children if child.tag in KERNELS]
        if len(kernels) != 1:
            raise PmmlInvalid(f"{self.where} needs exactly one kernel element")
        kernel = kernels[0].use()
        kernel.get("description")
        self.kernel = kernel.tag
        self.gamma = kernel.number("gamma", 1.0)
        self.coef0 = kernel.number("coef0", 1.0)
        self.degree = kernel.number("degree", 1.0)
        dictionary = element.find("VectorDictionary")
        if dictionary is None:
            raise PmmlInvalid(f"{self.where} has no <VectorDictionary>")
        dictionary.get("numberOfVectors")
        fields = dictionary.find("VectorFields")
        if fields is None:
            raise PmmlInvalid(f"{dictionary.describe()} has no <VectorFields>")
        fields.get("numberOfFields")
        self.fields: list[tuple[str, str | None, str]] = []
        for child in fields.element_children():
            child.use()
            if child.tag == "FieldRef":
                self.fields.append((child.require("field"), None, child.describe()))
            elif child.tag == "CategoricalPredictor":
                if child.number("coefficient", 1.0) != 1.0:
                    raise PmmlUnsupported(f"{child.describe()} with a coefficient other than 1 is not supported")
                self.fields.append((child.get("name") or child.require("field"), child.require("value"), child.describe()))
            else:
                raise PmmlUnsupported(f"PMML element <{child.tag}> in <VectorFields> is not supported")
            self.scope.lookup(self.fields[-1][0], child.describe())
        self.vectors: dict[str, np.ndarray] = {}
        for instance in dictionary.findall("VectorInstance"):
            array = instance.find("Array")
            if array is None:
                raise PmmlUnsupported(f"{instance.describe()}: only dense <Array> vectors are supported")
            values = np.array([float(item) for item in parse_array(array)])
            if len(values) != len(self.fields):
                raise PmmlInvalid(f"{instance.describe()} has {len(values)} values for {len(self.fields)} fields")
            self.vectors[instance.require("id")] = values
        self.machines = []
        for machine in element.findall("SupportVectorMachine"):
            ids = [vector.require("vectorId") for vector in (machine.find("SupportVectors") or machine).findall("SupportVector")]
            support = machine.find("SupportVectors")
            if support is not None:
                support.get("numberOfSupportVectors")
                support.get("numberOfAttributes")
            coefficients = machine.find("Coefficients")
            if coefficients is None:
                raise PmmlInvalid(f"{machine.describe()} has no <Coefficients>")
            coefficients.get("numberOfCoefficients")
            weights = [item.number("value", 0.0) for item in coefficients.findall("Coefficient")]
            if len(weights) != len(ids) or any(vector not in self.vectors for vector in ids):
                raise PmmlInvalid(f"{machine.describe()}: its support vectors and coefficients do not match")
            threshold = machine.get("threshold")
            self.machines.append(Machine(
                np.array([self.vectors[vector] for vector in ids]).reshape(len(ids), len(self.fields)),
                np.array(weights), coefficients.number("absoluteValue", 0.0), machine.get("targetCategory"),
                machine.get("alternateTargetCategory"),
                float(threshold) if threshold is not None else self.default_threshold))
        if not self.machines:
            raise PmmlInvalid(f"{self.where} has no <SupportVectorMachine>")
        method = element.get("classificationMethod")
        if self.function == "classification":
            if method is None:
                method = "OneAgainstOne" if self.machines[0].alternate is not None else "OneAgainstAll"
            self.method = method
            if method not in ("OneAgainstOne", "OneAgainstAll"):
                raise PmmlUnsupported(f"classificationMethod=\"{method}\" is not supported")
            labels: list[str] = []
            for item in self.machines:
                if item.target is None or (method == "OneAgainstOne" and item.alternate is None):
                    raise PmmlInvalid(f"{self.where}: a machine lacks its target categories")
                for label in (item.target, item.alternate):
                    if label is not None and label not in labels:
                        labels.append(label)
            self.labels = labels
        elif len(self.machines) != 1:
            raise PmmlInvalid(f"{self.where} is a regression with {len(self.machines)} machines (needs one)")

    def _kernel(self, inputs: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Kernel values (rows, vectors), summing over fields in order as JPMML does."""
        total = np.zeros((len(inputs), len(vectors)))
        for column in range(inputs.shape[1]):
            if self.kernel == "RadialBasisKernelType":
                difference = inputs[:, column][:, None] - vectors[:, column][None, :]
                total = total + difference * difference
            else:
                total = total + inputs[:, column][:, None] * vectors[:, column][None, :]
        with np.errstate(all="ignore"):
            if self.kernel == "RadialBasisKernelType":
                return np.exp(-total * self.gamma)
            if self.kernel == "PolynomialKernelType":
                return np.power(total * self.gamma + self.coef0, self.degree)
            if self.kernel == "SigmoidKernelType":
                return np.tanh(total * self.gamma + self.coef0)
            return total

    def predict(self, context: Context) -> Prediction:
        size = context.size
        inputs = np.zeros((size, len(self.fields)))
        missing = np.zeros(size, dtype=bool)
        for column, (name, category, where) in enumerate(self.fields):
            field = context.get(name)
            missing |= field.missing
            if category is None:
                inputs[:, column] = np.where(field.missing, 0.0, field.values.astype(np.float64))
            else:
                inputs[:, column] = equals_text(field, category, where).astype(np.float64)
        values = []
        for item in self.machines:
            kernel = self._kernel(inputs, item.vectors)
            total = np.zeros(size)
            for index, weight in enumerate(item.weights):
                total = total + weight * kernel[:, index]
            values.append(total + item.constant)
        if self.function == "regression":
            return self.targets.finish_regression(values[0], missing, self.math, self.target_type)
        labels = self.labels
        if self.method == "OneAgainstAll":  # the smallest value wins; there are no probabilities
            prediction = classification(labels, np.full((size, len(labels)), np.nan), missing)
            prediction.winner = np.where(missing, -1, np.argmin(np.column_stack(values), axis=1))
            return prediction
        votes = np.zeros((size, len(labels)))
        first = np.full((size, len(labels)), len(self.machines))
        for number, (value, item) in enumerate(zip(values, self.machines, strict=True)):
            chosen = np.where(value < item.threshold, labels.index(str(item.target)), labels.index(str(item.alternate)))
            rows = np.arange(size)
            votes[rows, chosen] += 1
            first[rows, chosen] = np.minimum(first[rows, chosen], number)
        best = votes.max(axis=1, keepdims=True)
        winner = np.where(votes == best, -first, -np.inf).argmax(axis=1)
        prediction = classification(labels, votes / len(self.machines), missing)
        prediction.winner = np.where(missing, -1, winner)
        return prediction
