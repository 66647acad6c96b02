"""The evaluator a caller uses: load a PMML document, then score DataFrames.

:class:`PmmlModel` compiles the whole document at load (refusing anything it cannot evaluate) and
then answers for a batch of rows at once:

* :meth:`PmmlModel.evaluate` gives JPMML's result columns: the target field and the output fields;
* :meth:`PmmlModel.predict` gives the prediction per row: a float for regression (``NaN`` where the
  model gives no prediction), a class label for classification (``None`` where it gives none);
* :meth:`PmmlModel.predict_proba` gives one column per class, in :attr:`PmmlModel.classes` order
  (a row without a prediction is all ``NaN``).

A request may carry more columns than the model uses (every data-dictionary field, as JPMML
clients send): the extra columns are ignored.

Where JPMML-Evaluator raises an error for a single row (a function given a missing argument, a
support vector machine or scorecard that cannot score the row), Tidal gives that row no
prediction instead, since a batch answer cannot carry a per-row error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.models._pmml import (  # noqa: F401 - register the model types
    _bayes,
    _clustering,
    _mining,
    _neighbors,
    _neural,
    _regression,
    _rules,
    _svm,
    _trees,
)
from tidal.models._pmml._base import MODEL_TYPES, Model, compile_model
from tidal.models._pmml._context import Context, Scope
from tidal.models._pmml._document import PmmlInvalid, PmmlUnsupported, parse_document, refuse_unused
from tidal.models._pmml._results import label_value
from tidal.models._pmml._schema import DataField, prepare_input, read_data_dictionary
from tidal.models._pmml._transformations import define_derived_fields
from tidal.models._pmml._values import BOOLEAN, INTEGER, STRING, Column, to_python

#: pandas dtypes a model package declares for PMML data types
PANDAS_TYPES = {"double": "float64", "float": "float64", "integer": "int64", "string": "object", "boolean": "bool"}


class PmmlModel:
    """A compiled PMML document with ``evaluate``, ``predict`` and ``predict_proba`` over DataFrames."""

    def __init__(self, document: bytes, source: str = "the PMML document") -> None:
        self.document = document
        self.source = source
        root = parse_document(document, source)
        scope = Scope()
        self.data_fields: dict[str, DataField] = read_data_dictionary(root.find("DataDictionary"), scope)
        define_derived_fields(root.find("TransformationDictionary"), scope)
        models = [child for child in root.element_children()
                  if child.tag not in ("DataDictionary", "TransformationDictionary")]
        if not models:
            raise PmmlInvalid(f"{source} holds no model")
        if len(models) > 1:
            raise PmmlUnsupported(f"{source} holds {len(models)} models (<{models[0].tag}>, <{models[1].tag}> ...); "
                                  "Tidal's evaluator takes documents with one (combine models in a <MiningModel>)")
        if models[0].tag not in MODEL_TYPES:
            raise PmmlUnsupported(f"PMML element <{models[0].tag}> is not supported by Tidal's evaluator "
                                  f"(supported models: {', '.join(sorted(MODEL_TYPES))})")
        self.scope = scope
        self.model: Model = compile_model(models[0], scope)
        refuse_unused(root)
        self.function = self.model.function
        self.target = self.model.target.name if self.model.target is not None else None
        self.target_type = self.model.target_type
        self.features = [name for name in self.model.inputs]
        for name in self.features:
            if name not in self.data_fields:
                raise PmmlInvalid(f"{source}: the mining field '{name}' is not in the <DataDictionary>")
        self.outputs = self.model.output_fields()
        self.classes: list[Any] = self._classes() if self.function == "classification" else []
        #: whether predict_proba has an answer (support vector machines, neighbours, rule sets vote instead)
        self.gives_probabilities = self.function == "classification" and _probabilistic(self.model)

    @classmethod
    def from_path(cls, path: str | Path) -> PmmlModel:
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise DataError(f"cannot read the PMML file {file}: {error.strerror}") from None
        return cls(data, file.name)

    @property
    def feature_types(self) -> dict[str, str]:
        return {name: PANDAS_TYPES[self.data_fields[name].info.type] for name in self.features}

    def _classes(self) -> list[Any]:
        texts = list(self.model.target.categories) if self.model.target is not None else []
        if not texts:
            texts = list(getattr(self.model, "labels", []))
        return [label_value(text, self.target_type) for text in texts]

    # -- scoring -------------------------------------------------------------------------------------
    def _context(self, frame: pd.DataFrame) -> Context:
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        absent = [name for name in self.features if name not in frame.columns]
        if absent:
            raise DataError(f"the PMML model needs column(s) {', '.join(map(repr, absent))}, which the input lacks "
                            f"(it takes: {', '.join(self.features)})")
        values = {name: prepare_input(frame[name].reset_index(drop=True), self.data_fields[name],
                                      next((item for item in self.model.mining_fields if item.name == name), None))
                  for name in self.features}
        return Context(len(frame), self.scope, values=values)

    def _predict(self, frame: pd.DataFrame) -> Any:
        context = self._context(frame)
        return self.model.evaluate(context)

    def evaluate(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """JPMML's result columns: the target (``None``/``NaN`` where there is no prediction) and the outputs."""
        prediction = self._predict(frame)
        result: dict[str, np.ndarray] = {}
        name = self.target or "prediction"
        result[name] = self._predictions(prediction)
        for spec in self.outputs:
            column = prediction.outputs.get(spec.name)
            if column is None:  # a segment no row reached
                column = Column.empty(spec.type, prediction.size)
            result[spec.name] = _plain(column.values, column.missing, column.type)
        return result

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions per row; a clustering model's cluster ids come as integers when they all are."""
        predictions = self._predictions(self._predict(frame))
        if self.function == "clustering":
            ids = [value for value in predictions if value is not None]
            if all(isinstance(value, str) and value.lstrip("-").isdigit() for value in ids):
                return _array([None if value is None else int(value) for value in predictions], INTEGER)
        return predictions

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.function != "classification" or not self.gives_probabilities:
            raise DataError(f"this PMML model (<{self.model.element.tag}>, {self.function}) gives no class probabilities")
        prediction = self._predict(frame)
        labels = [label_value(label, self.target_type) for label in prediction.labels]
        columns = []
        for value in self.classes:
            matches = [label for label, typed in zip(prediction.labels, labels, strict=True) if typed == value]
            if matches:
                columns.append(prediction.probability_of(matches[0]))
            else:
                columns.append(np.where(prediction.missing, np.nan, 0.0))
        return np.column_stack(columns) if columns else np.zeros((prediction.size, 0))

    def _predictions(self, prediction: Any) -> np.ndarray:
        if self.method_is_list():
            return prediction.value.values
        if prediction.is_classification:
            labels = prediction.predicted_labels()
            values = [None if label is None else label_value(label, self.target_type) for label in labels]
            return _array(values, self.target_type)
        column = prediction.value
        return _plain(column.values, column.missing, column.type)

    def method_is_list(self) -> bool:
        return getattr(self.model, "method", None) == "selectAll"

    def __repr__(self) -> str:
        return f"<PmmlModel {self.model.element.tag} {self.function} inputs={len(self.features)}>"


def _probabilistic(model: Model) -> bool:
    if not model.gives_probabilities:
        return False
    segments = getattr(model, "segments", None)
    if segments is None:
        return True
    method = getattr(model, "method", "")
    if method in ("modelChain", "selectFirst"):
        return all(_probabilistic(segment.model) for segment in segments if segment.model.function == "classification")
    return method not in ("selectAll",)


def _plain(values: np.ndarray, missing: np.ndarray, type: str) -> np.ndarray:
    if type in (STRING, INTEGER, BOOLEAN):
        return _array([None if gone else to_python(value, type) for value, gone in zip(values, missing, strict=True)],
                      type)
    result = values.astype(np.float64)
    result[missing] = np.nan
    return result


def _array(values: list[Any], type: str) -> np.ndarray:
    if any(value is None for value in values) or type == STRING:
        return np.array(values, dtype=object)
    if type == INTEGER:
        return np.array(values, dtype=np.int64)
    if type == BOOLEAN:
        return np.array(values, dtype=bool)
    return np.array(values, dtype=np.float64)
