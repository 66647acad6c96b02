"""``NearestNeighborModel``: k nearest training instances, as JPMML finds and combines them.

Distances to every training instance are measured like a clustering model's (``euclidean``,
``squaredEuclidean``, ``cityBlock``, ``chebychev``, ``minkowski``; per-input ``fieldWeight`` and
compare function; missing inputs left out and the sum scaled up). The ``numberOfNeighbors`` nearest
are taken (ties by training order). Classification: a (weighted) majority vote; a tie goes to the
class most frequent in the training data, then to the smallest class value. Regression: the
``average``, ``median`` or ``weightedAverage`` (weights ``1 / (distance + threshold)``) of their
targets. Output fields can name the neighbours (``entityId`` with ``rank``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tidal.models._pmml._aggregation import legacy_median
from tidal.models._pmml._base import Model, OutputSpec, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._results import Prediction, classification, label_value, regression_of_type
from tidal.models._pmml._transformations import column_key
from tidal.models._pmml._values import STRING, Column, cast, typed_constant

MEASURES = ("euclidean", "squaredEuclidean", "cityBlock", "chebychev", "minkowski")


@register("NearestNeighborModel")
class NearestNeighbors(Model):
    gives_probabilities = False
    def compile(self, element: Element) -> None:
        self.k = int(element.number("numberOfNeighbors"))
        self.threshold = element.number("threshold", 0.001)
        self.continuous_method = element.choice("continuousScoringMethod", "average",
                                                ("average", "median", "weightedAverage"))
        self.categorical_method = element.choice("categoricalScoringMethod", "majorityVote",
                                                 ("majorityVote", "weightedMajorityVote"))
        identifier = element.get("instanceIdVariable")
        measure = element.find("ComparisonMeasure")
        if measure is None:
            raise PmmlInvalid(f"{self.where} has no <ComparisonMeasure>")
        measure.choice("kind", "distance", ("distance",))
        self.compare = measure.choice("compareFunction", "absDiff", ("absDiff", "delta", "equal"))
        kinds = measure.element_children()
        if len(kinds) != 1 or kinds[0].tag not in MEASURES:
            raise PmmlUnsupported(f"the comparison measure of {self.where} is not supported by Tidal's evaluator "
                                  f"(supported: {', '.join(MEASURES)})")
        self.measure = kinds[0].use().tag
        self.power = kinds[0].number("p-parameter", 2.0) if self.measure == "minkowski" else \
            (1.0 if self.measure in ("cityBlock", "chebychev") else 2.0)
        self.outer = 1.0 if self.measure == "squaredEuclidean" else self.power
        inputs = element.find("KNNInputs")
        if inputs is None:
            raise PmmlInvalid(f"{self.where} has no <KNNInputs>")
        self.fields = []
        for item in inputs.findall("KNNInput"):
            name = item.require("field")
            self.scope.lookup(name, item.describe())
            compare = item.get("compareFunction") or self.compare
            if compare not in ("absDiff", "delta", "equal"):
                raise PmmlUnsupported(f"compareFunction=\"{compare}\" of {item.describe()} is not supported")
            self.fields.append((name, item.number("fieldWeight", 1.0), compare))
        training = element.find("TrainingInstances")
        if training is None:
            raise PmmlInvalid(f"{self.where} has no <TrainingInstances>")
        for name in ("isTransformed", "recordCount", "fieldCount"):
            training.get(name)
        columns = {item.require("field"): column_key(item.require("column"))
                   for item in (training.find("InstanceFields") or training).findall("InstanceField")}
        table = training.find("InlineTable")
        if table is None:
            raise PmmlUnsupported(f"{training.describe()} without an <InlineTable> is not supported")
        rows = [{cell.use().tag: cell.text.strip() for cell in row.children} for row in table.findall("row")]
        needed = [name for name, _, _ in self.fields] + ([self.target.name] if self.target is not None else [])
        for name in needed:
            if name not in columns:
                raise PmmlInvalid(f"{self.where}: the training instances lack the field '{name}'")
        self.instances = np.array([[typed_constant(row[columns[name]], "double", self.where) for name, _, _ in self.fields]
                                   for row in rows]).reshape(len(rows), len(self.fields))
        if identifier is not None:
            if identifier not in columns:
                raise PmmlInvalid(f"{self.where}: the instanceIdVariable '{identifier}' is not an instance field")
            self.ids = [row[columns[identifier]] for row in rows]
        else:
            self.ids = [str(index) for index in range(1, len(rows) + 1)]
        if self.target is None:
            raise PmmlUnsupported(f"{self.where} without a target field is not supported")
        texts = [row[columns[self.target.name]] for row in rows]
        if self.function == "classification":
            self.targets_text = texts
            self.labels = list(dict.fromkeys(texts))
            self.counts = Counter(texts)
        else:
            self.values = np.array([typed_constant(text, "double", self.where) for text in texts], dtype=np.float64)
        if not 0 < self.k <= len(rows):
            raise PmmlInvalid(f"{self.where}: numberOfNeighbors={self.k} for {len(rows)} training instances")

    def supports(self, feature: str) -> bool:
        return feature in ("entityId", "rank", "affinity")

    def _distances(self, context: Context) -> tuple[np.ndarray, np.ndarray]:
        size = context.size
        total = np.zeros((size, len(self.instances)))
        largest = np.full((size, len(self.instances)), -np.inf)
        present = np.zeros((size, len(self.fields)), dtype=bool)
        for column, (name, weight, compare) in enumerate(self.fields):
            value = context.get(name)
            x = value.values.astype(np.float64)
            present[:, column] = ~value.missing
            reference = self.instances[:, column][None, :]
            if compare == "absDiff":
                part = np.abs(x[:, None] - reference)
            else:
                same = x[:, None] == reference
                part = np.where(same, 0.0, 1.0) if compare == "delta" else np.where(same, 1.0, 0.0)
            term = weight * np.power(part, self.power)
            term[value.missing] = 0.0
            total = total + term
            largest = np.maximum(largest, np.where(value.missing[:, None], -np.inf, term))
        with np.errstate(all="ignore"):
            adjustment = len(self.fields) / present.sum(axis=1)
            if self.measure == "chebychev":
                distances = largest * adjustment[:, None]
            else:
                distances = np.power(total * adjustment[:, None], 1.0 / self.outer)
        return distances, np.asarray(~present.any(axis=1), dtype=bool)

    def predict(self, context: Context) -> Prediction:
        distances, missing = self._distances(context)
        order = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
        nearest = np.take_along_axis(distances, order, axis=1)
        size = context.size
        if self.function == "regression":
            targets = self.values[order]
            if self.continuous_method == "median":
                values = np.array([legacy_median(row) for row in targets])
            elif self.continuous_method == "average":
                total = np.zeros(size)
                for column in range(self.k):
                    total = total + targets[:, column]
                values = total / self.k
            else:  # an exact match with threshold 0 weighs infinitely: no answer, as in JPMML
                with np.errstate(divide="ignore", invalid="ignore"):
                    weights = 1.0 / (nearest + self.threshold)
                    total, weight_sum = np.zeros(size), np.zeros(size)
                    for column in range(self.k):
                        total = total + weights[:, column] * targets[:, column]
                        weight_sum = weight_sum + weights[:, column]
                    values = total / weight_sum
            prediction = regression_of_type(values, missing, self.target_type)
        else:
            prediction = self._vote(order, nearest, missing)
        prediction.entities["order"] = order
        prediction.entities["distance"] = nearest
        return prediction

    def _vote(self, order: np.ndarray, nearest: np.ndarray, missing: np.ndarray) -> Prediction:
        labels = self.labels
        size = len(order)
        votes = np.zeros((size, len(labels)))
        with np.errstate(divide="ignore"):
            weights = 1.0 / (nearest + self.threshold) if self.categorical_method == "weightedMajorityVote" else \
                np.ones_like(nearest)
        codes = np.array([labels.index(text) for text in self.targets_text])[order]
        for column in range(self.k):
            votes[np.arange(size), codes[:, column]] += weights[:, column]
        winner = np.full(size, -1)
        for row in range(size):
            best = np.flatnonzero(votes[row] == votes[row].max())
            if len(best) > 1:  # the class most frequent in training, then the smallest value
                frequency = np.array([self.counts[labels[index]] for index in best])
                best = best[frequency == frequency.max()]
                if len(best) > 1:
                    typed: list[Any] = [label_value(labels[index], self.target_type) for index in best]
                    best = np.array([best[typed.index(min(typed))]])
            winner[row] = best[0]
        total = votes.sum(axis=1, keepdims=True)
        prediction = classification(labels, votes / total, missing)
        prediction.winner = np.where(missing, -1, winner)
        return prediction

    def entity_output(self, spec: OutputSpec, prediction: Prediction) -> Column:
        rank = spec.rank - 1
        if rank >= self.k:
            raise PmmlInvalid(f"output field '{spec.name}' asks for neighbour {spec.rank} of {self.k}")
        missing = prediction.missing
        if spec.feature == "entityId":
            ids = np.array(self.ids, dtype=object)[prediction.entities["order"][:, rank]]
            ids[missing] = None
            return cast(Column(STRING, ids, missing.copy()), spec.type)
        distances = np.where(missing, np.nan, prediction.entities["distance"][:, rank])
        return cast(Column("double", distances, missing.copy()), spec.type)


__all__ = ["NearestNeighbors"]
