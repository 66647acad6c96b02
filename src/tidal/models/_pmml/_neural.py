"""``NeuralNetwork``: feed-forward networks (scikit-learn's MLP), one matrix product per layer.

Inputs come from each ``NeuralInput``'s derived field (a missing input leaves the row without a
prediction); each ``NeuralLayer`` sums its connections, adds the bias and applies its activation
(``identity``, ``logistic``, ``tanh``, ``rectifier`` (leaky with a ``threshold``), ``threshold``,
``exponential``, ``reciprocal``, ``square``, ``Gauss``, ``sine``, ``cosine``, ``Elliott``,
``arctan``), then normalises (``none``, ``simplemax``, ``softmax``). Classification reads class
probabilities from the output neurons named by ``NormDiscrete`` outputs; regression reads one
neuron through ``FieldRef`` or a de-normalising ``NormContinuous``. ``radialBasis`` layers are
refused. Sums are matrix products in float64: they may round differently from JPMML's sequential
sums in the last bits (far below 1e-9).
"""

from __future__ import annotations

import numpy as np

from tidal.models._pmml._base import Model, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._transformations import (
    Expression,
    NormContinuous,
    compile_expression,
    expression_of,
)
from tidal.models._pmml._values import DOUBLE

ACTIVATIONS = ("threshold", "logistic", "tanh", "identity", "exponential", "reciprocal", "square", "Gauss", "sine",
               "cosine", "Elliott", "arctan", "rectifier")
NORMALIZATIONS = ("none", "simplemax", "softmax")


def _activate(values: np.ndarray, function: str, threshold: float | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if function == "identity":
            return values
        if function == "logistic":
            return 1.0 / (1.0 + np.exp(-values))
        if function == "tanh":
            return np.tanh(values)
        if function == "rectifier":
            if threshold is None:
                return np.maximum(values, 0.0)
            return np.where(values > 0, values, values * threshold)
        if function == "threshold":
            return np.where(values > (threshold or 0.0), 1.0, 0.0)
        if function == "exponential":
            return np.exp(values)
        if function == "reciprocal":
            return 1.0 / values
        if function == "square":
            return values * values
        if function == "Gauss":
            return np.exp(-(values * values))
        if function == "sine":
            return np.sin(values)
        if function == "cosine":
            return np.cos(values)
        if function == "Elliott":
            return values / (1.0 + np.abs(values))
        return 2.0 * np.arctan(values) / np.pi


def _normalize(values: np.ndarray, method: str) -> np.ndarray:
    if method == "none":
        return values
    if method == "softmax":
        values = np.exp(values - values.max(axis=1, keepdims=True))
    total = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        total = total + values[:, column]
    with np.errstate(all="ignore"):
        return np.where((total == 1.0)[:, None], values, values / total[:, None])


class Layer:
    def __init__(self, element: Element, network: Element, known: list[str]) -> None:
        self.activation = element.get("activationFunction") or network.get("activationFunction") or ""
        if self.activation not in ACTIVATIONS:
            raise PmmlUnsupported(f"activationFunction=\"{self.activation}\" of {element.describe()} is not supported "
                                  f"by Tidal's evaluator (supported: {', '.join(ACTIVATIONS)})")
        threshold = element.get("threshold") or network.get("threshold")
        self.threshold = float(threshold) if threshold is not None else None
        self.normalization = element.get("normalizationMethod") or network.get("normalizationMethod") or "none"
        if self.normalization not in NORMALIZATIONS:
            raise PmmlUnsupported(f"normalizationMethod=\"{self.normalization}\" of {element.describe()} is not "
                                  "supported by Tidal's evaluator")
        for name in ("width", "altitude"):
            element.get(name)
        element.get("numberOfNeurons")
        neurons = element.findall("Neuron")
        self.ids = [neuron.require("id") for neuron in neurons]
        position = {name: index for index, name in enumerate(known)}
        self.weights = np.zeros((len(known), len(neurons)))
        self.bias = np.zeros(len(neurons))
        for column, neuron in enumerate(neurons):
            neuron.get("width")
            self.bias[column] = neuron.number("bias", 0.0)
            for connection in neuron.findall("Con"):
                source = connection.require("from")
                if source not in position:
                    raise PmmlInvalid(f"{connection.describe()} of neuron '{self.ids[column]}' comes from "
                                      f"'{source}', which is not an earlier neuron or input")
                self.weights[position[source], column] += connection.number("weight")

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        return _normalize(_activate(inputs @ self.weights + self.bias, self.activation, self.threshold),
                          self.normalization)


@register("NeuralNetwork")
class NeuralNetwork(Model):
    def compile(self, element: Element) -> None:
        element.get("numberOfLayers")
        for name in ("activationFunction", "normalizationMethod", "threshold", "width", "altitude"):
            element.get(name)
        inputs = element.find("NeuralInputs")
        if inputs is None:
            raise PmmlInvalid(f"{self.where} has no <NeuralInputs>")
        inputs.get("numberOfInputs")
        self.inputs_ids: list[str] = []
        self.input_expressions: list[Expression] = []
        for item in inputs.findall("NeuralInput"):
            self.inputs_ids.append(item.require("id"))
            derived = item.find("DerivedField")
            if derived is None:
                raise PmmlInvalid(f"{item.describe()} has no <DerivedField>")
            derived.get("optype")
            derived.get("dataType")
            self.input_expressions.append(compile_expression(expression_of(derived), self.scope))
        known = list(self.inputs_ids)
        self.layers: list[tuple[Layer, list[int]]] = []
        for layer_element in element.findall("NeuralLayer"):
            layer = Layer(layer_element, element, known)
            self.layers.append((layer, list(range(len(known), len(known) + len(layer.ids)))))
            known += layer.ids
        self.known = known
        outputs = element.find("NeuralOutputs")
        if outputs is None:
            raise PmmlInvalid(f"{self.where} has no <NeuralOutputs>")
        outputs.get("numberOfOutputs")
        self.labels: list[str] = []
        self.output_neurons: list[int] = []
        self.denormalize: NormContinuous | None = None
        for item in outputs.findall("NeuralOutput"):
            neuron = item.require("outputNeuron")
            if neuron not in known:
                raise PmmlInvalid(f"{item.describe()} reads neuron '{neuron}', which does not exist")
            derived = item.find("DerivedField")
            if derived is None:
                raise PmmlInvalid(f"{item.describe()} has no <DerivedField>")
            derived.get("optype")
            derived.get("dataType")
            expression = expression_of(derived).use()
            if self.function == "classification":
                if expression.tag != "NormDiscrete":
                    raise PmmlUnsupported(f"a classification <NeuralOutput> with <{expression.tag}> is not supported")
                expression.require("field")
                self.labels.append(expression.require("value"))
            elif expression.tag == "NormContinuous":
                self.denormalize = NormContinuous(expression, self.scope)
            elif expression.tag == "FieldRef":
                expression.require("field")
            else:
                raise PmmlUnsupported(f"a regression <NeuralOutput> with <{expression.tag}> is not supported")
            self.output_neurons.append(known.index(neuron))
        if self.function == "regression" and len(self.output_neurons) != 1:
            raise PmmlUnsupported(f"{self.where}: a regression network with several outputs is not supported")

    def predict(self, context: Context) -> Prediction:
        size = context.size
        values = np.zeros((size, len(self.known)))
        missing = np.zeros(size, dtype=bool)
        for index, expression in enumerate(self.input_expressions):
            column = expression.evaluate(context)
            missing |= column.missing
            values[:, index] = np.where(column.missing, 0.0, column.values.astype(np.float64))
        for layer, columns in self.layers:
            values[:, columns] = layer.forward(values[:, : columns[0]])
        outputs = values[:, self.output_neurons]
        if self.function == "classification":
            return self.targets.fill_priors(classification(self.labels, outputs, missing), self.math)
        result = outputs[:, 0]
        if self.denormalize is not None:
            result = _denormalize(result, self.denormalize)
        return self.targets.finish_regression(result, missing, self.math, self.target_type if self.target_type != "float"
                                              else DOUBLE)


def _denormalize(values: np.ndarray, norm: NormContinuous) -> np.ndarray:
    """The inverse of a piecewise-linear normalisation (JPMML's NormalizationUtil.denormalize)."""
    original, normalized = norm.original, norm.normalized
    segment = np.clip(np.searchsorted(normalized, values, side="right") - 1, 0, len(normalized) - 2)
    low, high = normalized[segment], normalized[segment + 1]
    start, end = original[segment], original[segment + 1]
    with np.errstate(all="ignore"):
        return start + (values - low) / (high - low) * (end - start)
