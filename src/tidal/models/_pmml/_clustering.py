"""``ClusteringModel``: center-based clustering (k-means), as JPMML measures distances.

For each cluster, the distance over the ``ClusteringField`` s is ``(sum of fieldWeight *
compare(x, center) ** p) * adjustment`` raised to ``1/p`` (``euclidean``, ``squaredEuclidean``,
``cityBlock``, ``minkowski``) or their weighted maximum (``chebychev``); missing inputs are left out
and the sum is scaled up by the share of weight they carried (``MissingValueWeights`` or equal
weights). The nearest cluster wins; its ``id`` (or 1-based position) is the prediction, and output
fields can report each cluster's ``affinity`` (the distance). Similarity measures and
distribution-based models are refused.
"""

from __future__ import annotations

import numpy as np

from tidal.models._pmml._base import Model, OutputSpec, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._predicates import parse_array
from tidal.models._pmml._results import Prediction
from tidal.models._pmml._values import DOUBLE, STRING, Column, cast

MEASURES = ("euclidean", "squaredEuclidean", "cityBlock", "chebychev", "minkowski")
COMPARE = ("absDiff", "delta", "equal", "gaussSim")


@register("ClusteringModel")
class Clustering(Model):
    supported_functions = ("clustering",)

    def compile(self, element: Element) -> None:
        element.choice("modelClass", "centerBased", ("centerBased",))
        element.get("numberOfClusters")
        measure = element.find("ComparisonMeasure")
        if measure is None:
            raise PmmlInvalid(f"{self.where} has no <ComparisonMeasure>")
        measure.choice("kind", "distance", ("distance",))
        measure.get("minimum")
        measure.get("maximum")
        self.compare = measure.choice("compareFunction", "absDiff", ("absDiff", "delta", "equal"))
        kinds = [child for child in measure.element_children()]
        if len(kinds) != 1 or kinds[0].tag not in MEASURES:
            found = kinds[0].tag if kinds else "nothing"
            raise PmmlUnsupported(f"the comparison measure <{found}> of {self.where} is not supported by Tidal's "
                                  f"evaluator (supported: {', '.join(MEASURES)})")
        self.measure = kinds[0].use().tag
        self.power = kinds[0].number("p-parameter", 2.0) if self.measure == "minkowski" else \
            (1.0 if self.measure in ("cityBlock", "chebychev") else 2.0)
        self.outer = 1.0 if self.measure == "squaredEuclidean" else self.power
        self.fields = []
        for item in element.findall("ClusteringField"):
            if item.get("isCenterField", "true") != "true":
                continue
            name = item.require("field")
            self.scope.lookup(name, item.describe())
            compare = item.get("compareFunction") or self.compare
            if compare not in ("absDiff", "delta", "equal"):
                raise PmmlUnsupported(f"compareFunction=\"{compare}\" of {item.describe()} is not supported")
            item.get("similarityScale")
            self.fields.append((name, item.number("fieldWeight", 1.0), compare))
        weights = element.find("MissingValueWeights")
        self.missing_weights = np.ones(len(self.fields))
        if weights is not None:
            array = weights.find("Array")
            if array is None:
                raise PmmlInvalid(f"{weights.describe()} has no <Array>")
            self.missing_weights = np.array([float(value) for value in parse_array(array)])
        self.ids: list[str] = []
        centers = []
        for index, cluster in enumerate(element.findall("Cluster"), 1):
            cluster.get("name")
            cluster.get("size")
            self.ids.append(cluster.get("id") or str(index))
            array = cluster.find("Array")
            if array is None:
                raise PmmlUnsupported(f"{cluster.describe()} without a center <Array> is not supported")
            center = [float(value) for value in parse_array(array)]
            if len(center) != len(self.fields):
                raise PmmlInvalid(f"{cluster.describe()} has {len(center)} center values for {len(self.fields)} fields")
            centers.append(center)
        self.centers = np.array(centers).reshape(len(self.ids), len(self.fields))
        self.labels = list(self.ids)

    def supports(self, feature: str) -> bool:
        return feature in ("affinity", "entityId", "clusterId")

    def predict(self, context: Context) -> Prediction:
        size = context.size
        present = np.zeros((size, len(self.fields)), dtype=bool)
        distances = np.zeros((size, len(self.ids)))
        largest = np.zeros((size, len(self.ids)))
        for column, (name, weight, compare) in enumerate(self.fields):
            value = context.get(name)
            x = value.values.astype(np.float64)
            present[:, column] = ~value.missing
            centers = self.centers[:, column][None, :]
            if compare == "absDiff":
                part = np.abs(x[:, None] - centers)
            else:
                same = x[:, None] == centers
                part = np.where(same, 0.0, 1.0) if compare == "delta" else np.where(same, 1.0, 0.0)
            term = weight * np.power(part, self.power)
            term[value.missing] = 0.0
            distances = distances + term
            largest = np.maximum(largest, np.where(value.missing[:, None], -np.inf, term))
        with np.errstate(all="ignore"):
            adjustment = self.missing_weights.sum() / (present * self.missing_weights).sum(axis=1)
            if self.measure == "chebychev":
                distances = largest * adjustment[:, None]
            else:
                distances = np.power(distances * adjustment[:, None], 1.0 / self.outer)
        missing = np.asarray(~present.any(axis=1), dtype=bool)
        winner = np.where(missing, -1, np.argmin(np.where(np.isnan(distances), np.inf, distances), axis=1))
        labels = np.array(self.ids + [None], dtype=object)[winner]
        prediction = Prediction(size, missing, value=Column(STRING, labels, missing.copy()))
        prediction.entities["affinity"] = distances
        prediction.entities["winner"] = winner
        return prediction

    def entity_output(self, spec: OutputSpec, prediction: Prediction) -> Column:
        winner = prediction.entities["winner"]
        missing = prediction.missing
        if spec.feature == "affinity":
            affinity = prediction.entities["affinity"]
            if spec.category is None:
                values = affinity[np.arange(prediction.size), np.maximum(winner, 0)]
            elif spec.category in self.ids:
                values = affinity[:, self.ids.index(spec.category)].copy()
            else:
                raise PmmlInvalid(f"output field '{spec.name}' asks for the affinity of cluster '{spec.category}', "
                                  "which does not exist")
            values = np.where(missing, np.nan, values)
            return cast(Column(DOUBLE, values, missing.copy()), spec.type)
        if spec.feature == "clusterId":
            return cast(Column("integer", np.where(missing, np.nan, winner + 1.0), missing.copy()), spec.type)
        assert prediction.value is not None
        return cast(prediction.value, spec.type)
