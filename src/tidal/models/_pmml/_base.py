"""What every model element shares: its mining schema, target, local transformations and outputs.

:class:`Model` compiles those parts of a model element; each model type (regression, tree, mining,
...) subclasses it and implements :meth:`Model.predict` over a whole batch. Model types register
themselves in :data:`MODEL_TYPES` by element name, so a ``MiningModel`` can compile its segments
without importing every model type.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tidal.models._pmml._context import Context, FieldInfo, Scope
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._results import MathContext, Prediction, Targets, label_value, math_context
from tidal.models._pmml._schema import (
    TARGET_USAGES,
    MiningField,
    read_mining_schema,
    treat_missing,
    treat_outliers,
)
from tidal.models._pmml._transformations import (
    compile_expression,
    define_derived_fields,
    expression_of,
)
from tidal.models._pmml._values import DOUBLE, FLOAT, STRING, Column, cast, check_type

FUNCTIONS = ("regression", "classification", "clustering")
MODEL_TYPES: dict[str, Callable[..., Model]] = {}
OUTPUT_FEATURES = ("predictedValue", "probability", "transformedValue", "decision", "entityId", "clusterId",
                   "affinity")


def register(tag: str) -> Callable[[type[Model]], type[Model]]:
    def add(cls: type[Model]) -> type[Model]:
        MODEL_TYPES[tag] = cls
        return cls

    return add


def compile_model(element: Element, scope: Scope, math: MathContext | None = None, nested: bool = False,
                  parent_target: FieldInfo | None = None) -> Model:
    element.use()
    factory = MODEL_TYPES.get(element.tag)
    if factory is None:
        raise PmmlUnsupported(f"PMML element <{element.tag}> is not supported by Tidal's evaluator "
                              f"(supported models: {', '.join(sorted(MODEL_TYPES))})")
    return factory(element, scope, math, nested, parent_target)


class OutputSpec:
    """One ``<OutputField>``: what it reports about the prediction, and in which type."""

    def __init__(self, element: Element, scope: Scope, model: Model) -> None:
        self.name = element.require("name")
        self.feature = element.choice("feature", "predictedValue", OUTPUT_FEATURES)
        self.final = element.get("isFinalResult", "true") == "true"
        self.category = element.get("value")
        self.rank = int(element.get("rank", "1") or 1)
        element.get("optype")
        if element.get("segmentId") is not None:
            raise PmmlUnsupported(f"{element.describe()} with a segmentId is not supported by Tidal's evaluator")
        target_field = element.get("targetField")
        if target_field is not None and (model.target is None or target_field != model.target.name):
            raise PmmlUnsupported(f"{element.describe()} reports on another target ({target_field}); "
                                  "models with several targets are not supported")
        self.expression = None
        if self.feature in ("transformedValue", "decision"):
            self.expression = compile_expression(expression_of(element), scope)
        elif element.element_children():
            for child in element.element_children():
                if child.tag != "Value":
                    raise PmmlUnsupported(f"PMML element <{child.tag}> inside {element.describe()} is not supported")
                child.use()
                child.require("value")
        default = {"predictedValue": model.target_type, "probability": DOUBLE, "affinity": DOUBLE,
                   "entityId": STRING, "clusterId": "integer"}.get(self.feature)
        if self.expression is not None:
            default = self.expression.type
        self.type = check_type(element.get("dataType"), element.describe(), default or DOUBLE)
        if self.rank != 1 and not model.supports("rank"):
            raise PmmlUnsupported(f"{element.describe()} asks for rank {self.rank}, which <{model.element.tag}> "
                                  "does not report")
        if self.feature in ("entityId", "clusterId", "affinity") and not model.supports(self.feature):
            raise PmmlUnsupported(f"output feature '{self.feature}' of {element.describe()} is not supported for "
                                  f"<{model.element.tag}>")
        if self.feature == "probability" and (model.function != "classification" or not model.gives_probabilities):
            raise PmmlUnsupported(f"{element.describe()} asks for a probability, which is not supported for "
                                  f"<{model.element.tag}> ({model.function}: it gives no class probabilities)")
        self.model = model

    def compute(self, prediction: Prediction, context: Context) -> Column:
        size = prediction.size
        if self.expression is not None:
            return cast(self.expression.evaluate(context), self.type)
        if self.feature == "predictedValue":
            if prediction.is_classification:
                labels = prediction.predicted_labels()
                values = np.array([None if label is None else label_value(label, self.model.target_type)
                                   for label in labels], dtype=object)
                return _typed(values, self.model.target_type, self.type)
            assert prediction.value is not None
            return cast(prediction.value, self.type)
        if self.feature == "probability":
            assert prediction.probabilities is not None and prediction.winner is not None
            dtype = prediction.probabilities.dtype
            if self.category is not None:
                probabilities = prediction.probability_of(self.category)
            else:
                winner = np.where(prediction.missing, 0, prediction.winner)
                probabilities = prediction.probabilities[np.arange(size), winner].astype(np.float64)
                probabilities[prediction.missing] = np.nan
            source = FLOAT if dtype == np.float32 else DOUBLE
            return cast(Column(source, probabilities.astype(dtype)), self.type)
        return self.model.entity_output(self, prediction)


def _typed(values: np.ndarray, source_type: str, type: str) -> Column:
    missing = np.array([value is None for value in values], dtype=bool)
    if source_type == STRING:
        return cast(Column(STRING, values, missing), type)
    numbers = np.array([np.nan if value is None else float(value) for value in values])
    return cast(Column(source_type, numbers, missing), type)


class Model:
    """A compiled model element. Subclasses set ``function`` and implement :meth:`predict`."""

    supported_functions: tuple[str, ...] = ("regression", "classification")
    gives_probabilities = True  # a classifier whose answers are class probabilities (JPMML's HasProbability)

    def __init__(self, element: Element, scope: Scope, math: MathContext | None, nested: bool,
                 parent_target: FieldInfo | None) -> None:
        self.element = element
        self.where = element.describe()
        self.function = element.choice("functionName", "", self.supported_functions)
        if element.get("isScorable", "true") != "true":
            raise PmmlUnsupported(f"{self.where} is marked isScorable=false")
        self.math = math_context(element, math)
        self.scope = scope.child()
        self.mining_fields = read_mining_schema(element, scope)
        targets = [item for item in self.mining_fields if item.usage in TARGET_USAGES]
        if len(targets) > 1:
            raise PmmlUnsupported(f"{self.where} has several targets; Tidal's evaluator supports one")
        self.target: FieldInfo | None = scope.lookup(targets[0].name) if targets else None
        if self.target is None and element.get("targetField") is not None:
            self.target = scope.lookup(element.require("targetField"))
        self.target_type = self._target_type(parent_target)
        self.categories = self._categories(parent_target)
        self.nested_treatments = [item for item in self.mining_fields
                                  if nested and item.usage == "active" and item.has_treatments]
        self.inputs = [item.name for item in self.mining_fields if item.usage == "active"]
        define_derived_fields(element.find("LocalTransformations"), self.scope)
        self.targets = Targets(element.find("Targets"), self.target)
        self.compile(element)
        self.outputs: list[OutputSpec] = []
        output = element.find("Output")
        if output is not None:
            for item in output.findall("OutputField"):
                item.use()
                spec = OutputSpec(item, self.scope, self)
                self.scope.define(FieldInfo(spec.name, spec.type))
                self.outputs.append(spec)
        element.find("ModelVerification")

    def _target_type(self, parent_target: FieldInfo | None) -> str:
        if self.target is not None:
            return self.target.type
        if self.function == "clustering":
            return STRING
        if self.function == "classification":
            return parent_target.type if parent_target is not None else STRING
        return FLOAT if self.math.name == "float" else DOUBLE

    def _categories(self, parent_target: FieldInfo | None) -> tuple[str, ...]:
        return ()

    def compile(self, element: Element) -> None:
        raise NotImplementedError

    def predict(self, context: Context) -> Prediction:
        raise NotImplementedError

    def supports(self, feature: str) -> bool:
        return False

    def entity_output(self, spec: OutputSpec, prediction: Prediction) -> Column:
        raise PmmlUnsupported(f"output feature '{spec.feature}' is not supported for <{self.element.tag}>")

    def evaluate(self, context: Context) -> Prediction:
        """Predict for every row of ``context`` and compute this model's output fields."""
        local = context.enter(self.scope)
        for item in self.nested_treatments:
            local.declare(item.name, treat_missing(treat_outliers(local.get(item.name), item), item))
        prediction = self.predict(local)
        for spec in self.outputs:
            column = spec.compute(prediction, local)
            local.declare(spec.name, column)
            prediction.outputs[spec.name] = column
        return prediction

    def output_fields(self) -> list[OutputSpec]:
        """Output fields reported to the caller: this model's, and for a chain its last segment's."""
        return [spec for spec in self.outputs if spec.final]


def numeric_input(context: Context, name: str, math: MathContext) -> tuple[np.ndarray, np.ndarray]:
    """A field's values as numbers in the model's precision, and its missing mask."""
    column = context.get(name)
    if column.type == STRING:
        raise PmmlInvalid(f"field '{name}' holds strings where the model needs numbers")
    return column.values.astype(math.dtype) if column.values.dtype != math.dtype else column.values, column.missing


__all__ = ["MODEL_TYPES", "MiningField", "Model", "OutputSpec", "compile_model", "numeric_input", "register"]
