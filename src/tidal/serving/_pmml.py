"""A small PMML evaluator in pure Python (no JVM): regression, tree and simple ensemble models.

Supported: ``RegressionModel`` (regression and classification; normalization none, softmax,
logit, simplemax; numeric and categorical predictors), ``TreeModel`` (simple, set and compound
predicates, score distributions, missing values by ``noTrueChildStrategy``), and ``MiningModel``
segmentations of those (average, weightedAverage, sum, majorityVote). Anything else is refused
with a message naming the element. The XML is parsed by the standard library, which does not
fetch external entities.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError
from tidal.models._flavors import register_flavor

MODELS = ("RegressionModel", "TreeModel", "MiningModel")
TYPES = {"double": "float64", "float": "float64", "integer": "int64", "string": "object", "boolean": "bool"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _attribute(element: ElementTree.Element, *names: str, default: str | None = None) -> str:
    """The first of ``names`` the element has (or ``default``); a missing required attribute is an error."""
    for name in names:
        value = element.get(name)
        if value is not None:
            return value
    if default is None:
        raise TidalError(f"PMML element {_local(element.tag)} lacks the attribute '{names[0]}'")
    return default


def _typed(value: str, data_type: str) -> Any:
    if data_type == "integer":
        return int(float(value))
    if data_type in ("double", "float"):
        return float(value)
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class PmmlModel:
    """A parsed PMML document with ``predict`` and ``predict_proba`` over DataFrames."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as error:
            raise TidalError(f"{path} is not valid PMML XML: {error}") from None
        dictionary = _child(root, "DataDictionary")
        self.types = {field.get("name"): field.get("dataType", "double") for field in _children(dictionary, "DataField")} if dictionary is not None else {}
        models = [child for child in root if _local(child.tag) in MODELS]
        if not models:
            found = [_local(child.tag) for child in root if _local(child.tag).endswith("Model")]
            raise TidalError(f"{path.name}: no supported model ({', '.join(MODELS)}); found {', '.join(found) or 'none'}")
        self.model = models[0]
        schema = _child(self.model, "MiningSchema")
        fields = _children(schema, "MiningField") if schema is not None else []
        self.features = [str(f.get("name")) for f in fields if f.get("usageType", "active") == "active"]
        targets = [f.get("name") for f in fields if f.get("usageType") in ("target", "predicted")]
        self.target = targets[0] if targets else None
        self.function = self.model.get("functionName", "regression")
        self.classes: list[Any] = []
        if self.function == "classification" and dictionary is not None:
            for field in _children(dictionary, "DataField"):
                if field.get("name") == self.target:
                    kind = field.get("dataType", "string")
                    self.classes = [_typed(_attribute(value, "value"), kind) for value in _children(field, "Value")]

    # -- evaluation ----------------------------------------------------------------------------------
    def _row_scores(self, element: ElementTree.Element, row: dict[str, Any]) -> dict[Any, float] | float | None:
        kind = _local(element.tag)
        if kind == "RegressionModel":
            return self._regression(element, row)
        if kind == "TreeModel":
            return self._tree(element, row)
        if kind == "MiningModel":
            return self._mining(element, row)
        raise TidalError(f"PMML element {kind} is not supported")

    def _regression(self, model: ElementTree.Element, row: dict[str, Any]) -> dict[Any, float] | float:
        values = {}
        for table in _children(model, "RegressionTable"):
            total = float(table.get("intercept", 0))
            for predictor in _children(table, "NumericPredictor"):
                field = _attribute(predictor, "name")
                value = row.get(field)
                if _missing(value):
                    raise TidalError(f"PMML regression: field '{field}' is missing")
                power = int(_attribute(predictor, "exponent", default="1"))
                total += float(_attribute(predictor, "coefficient")) * float(value) ** power  # type: ignore[arg-type]
            for predictor in _children(table, "CategoricalPredictor"):
                if str(row.get(_attribute(predictor, "name"))) == predictor.get("value"):
                    total += float(_attribute(predictor, "coefficient"))
            values[table.get("targetCategory")] = total
        method = model.get("normalizationMethod", "none")
        if model.get("functionName", self.function) != "classification":
            (score,) = values.values()
            if method == "logit":
                return 1.0 / (1.0 + math.exp(-score))
            if method == "exp":
                return math.exp(score)
            if method != "none":
                raise TidalError(f"PMML normalizationMethod '{method}' is not supported for regression")
            return score
        keys = list(values)
        raw = np.array([values[key] for key in keys])
        if method == "softmax":
            exp = np.exp(raw - raw.max())
            probabilities = exp / exp.sum()
        elif method == "logit":
            probabilities = 1.0 / (1.0 + np.exp(-raw))
            if len(keys) == 2:
                probabilities[1] = 1.0 - probabilities[0]
        elif method == "simplemax":
            probabilities = raw / raw.sum()
        elif method == "none" and len(keys) == 2:
            probabilities = np.array([raw[0], 1.0 - raw[0]])
        else:
            raise TidalError(f"PMML normalizationMethod '{method}' is not supported for classification")
        return {self._class(key): float(value) for key, value in zip(keys, probabilities, strict=True)}

    def _class(self, key: Any) -> Any:
        for value in self.classes:
            if str(value) == str(key):
                return value
        return key

    def _tree(self, model: ElementTree.Element, row: dict[str, Any]) -> dict[Any, float] | float | None:
        node = _child(model, "Node")
        strategy = model.get("noTrueChildStrategy", "returnNullPrediction")
        if node is None or not self._predicate(node, row):
            return None
        while True:
            children = _children(node, "Node")
            chosen = next((child for child in children if self._predicate(child, row)), None)
            if chosen is None:
                if children and strategy == "returnNullPrediction" and node.get("score") is None:
                    return None
                break
            node = chosen
        distribution = _children(node, "ScoreDistribution")
        if model.get("functionName", self.function) == "classification":
            if distribution:
                counts = {self._class(item.get("value")): float(_attribute(item, "probability", "confidence", "recordCount"))
                          for item in distribution}
                total = sum(counts.values()) or 1.0
                return {key: value / total for key, value in counts.items()}
            return {self._class(node.get("score")): 1.0}
        return float(_attribute(node, "score"))

    def _predicate(self, node: ElementTree.Element, row: dict[str, Any]) -> bool:
        for child in node:
            kind = _local(child.tag)
            if kind in ("True", "False", "SimplePredicate", "SimpleSetPredicate", "CompoundPredicate"):
                return self._test(child, row)
        return False

    def _test(self, predicate: ElementTree.Element, row: dict[str, Any]) -> bool:
        kind = _local(predicate.tag)
        if kind == "True":
            return True
        if kind == "False":
            return False
        if kind == "CompoundPredicate":
            results = [self._test(child, row) for child in predicate]
            operator = predicate.get("booleanOperator")
            if operator == "and":
                return all(results)
            if operator == "or":
                return any(results)
            if operator == "xor":
                return sum(results) % 2 == 1
            if operator == "surrogate":
                return results[0]
            raise TidalError(f"PMML booleanOperator '{operator}' is not supported")
        name = _attribute(predicate, "field")
        value = row.get(name)
        if kind == "SimpleSetPredicate":
            array = _child(predicate, "Array")
            members = (array.text or "").replace('"', " ").split() if array is not None else []
            inside = str(value) in members
            return inside if predicate.get("booleanOperator") == "isIn" else not inside
        operator = predicate.get("operator")
        if operator == "isMissing":
            return _missing(value)
        if operator == "isNotMissing":
            return not _missing(value)
        if _missing(value):
            return False
        target = _typed(str(predicate.get("value")), str(self.types.get(name, "double")))
        if isinstance(target, float):
            value = float(value)  # type: ignore[arg-type]
        comparisons = {"equal": value == target, "notEqual": value != target}
        if operator in comparisons:
            return comparisons[operator]
        ordered = {"lessThan": value < target, "lessOrEqual": value <= target,
                   "greaterThan": value > target, "greaterOrEqual": value >= target}
        if operator not in ordered:
            raise TidalError(f"PMML operator '{operator}' is not supported")
        return ordered[operator]

    def _mining(self, model: ElementTree.Element, row: dict[str, Any]) -> dict[Any, float] | float | None:
        segmentation = _child(model, "Segmentation")
        if segmentation is None:
            raise TidalError("PMML MiningModel without a Segmentation is not supported")
        method = segmentation.get("multipleModelMethod")
        if method == "modelChain":  # each segment's predicted value is a field for the next ones
            row, result = dict(row), None
            for segment in _children(segmentation, "Segment"):
                if not self._predicate(segment, row):
                    continue
                inner = next(child for child in segment if _local(child.tag) in MODELS)
                result = self._row_scores(inner, row)
                output = _child(inner, "Output")
                for field in _children(output, "OutputField") if output is not None else []:
                    if field.get("feature", "predictedValue") == "predictedValue":
                        row[_attribute(field, "name")] = result
            return result
        results, weights = [], []
        for segment in _children(segmentation, "Segment"):
            if not self._predicate(segment, row):
                continue
            inner = next(child for child in segment if _local(child.tag) in MODELS)
            results.append(self._row_scores(inner, row))
            weights.append(float(segment.get("weight", 1)))
        if not results:
            return None
        if self.function == "classification":
            keys = list(dict.fromkeys(key for result in results for key in result))  # type: ignore[union-attr]
            if method == "majorityVote":
                votes = {key: 0.0 for key in keys}
                for result, weight in zip(results, weights, strict=True):
                    votes[max(result, key=result.get)] += weight  # type: ignore[arg-type, union-attr, misc]
                total = sum(votes.values())
                return {key: value / total for key, value in votes.items()}
            if method in ("average", "weightedAverage"):
                use = weights if method == "weightedAverage" else [1.0] * len(results)
                return {key: sum(w * r.get(key, 0.0) for r, w in zip(results, use, strict=True)) / sum(use)  # type: ignore[union-attr, misc]
                        for key in keys}
            raise TidalError(f"PMML multipleModelMethod '{method}' is not supported for classification")
        numbers = np.array(results, dtype=float)
        if method == "sum":
            return float(numbers.sum())
        if method == "average":
            return float(numbers.mean())
        if method == "weightedAverage":
            return float(np.average(numbers, weights=weights))
        raise TidalError(f"PMML multipleModelMethod '{method}' is not supported for regression")

    def _scores(self, frame: pd.DataFrame) -> list[Any]:
        rows = frame[self.features].to_dict(orient="records")
        return [self._row_scores(self.model, row) for row in rows]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        scores = self._scores(frame)
        if self.function == "classification":
            return np.array([max(score, key=score.get) if score else None for score in scores], dtype=object if not self.classes
                            or not isinstance(self.classes[0], (int, float)) else type(self.classes[0]))
        return np.array([np.nan if score is None else score for score in scores], dtype=float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.function != "classification":
            raise TidalError("a PMML regression model gives no class probabilities")
        return np.array([[(score or {}).get(key, np.nan) for key in self.classes] for score in self._scores(frame)])


class PmmlFlavor:
    name = "pmml"
    libraries = ("numpy",)

    def accepts(self, model: Any) -> bool:
        return isinstance(model, PmmlModel)

    def save(self, model: Any, folder: Path) -> str:
        shutil.copyfile(model.path, folder / "model.pmml")
        return "model.pmml"

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        keep = Path(tempfile.mkdtemp(prefix="tidal-pmml-")) / "model.pmml"  # the package folder may be temporary
        shutil.copyfile(folder / payload, keep)
        return PmmlModel(keep)


def pmml_package(pmml_file: str | Path) -> Any:
    """A model package from a PMML file: inputs, task and classes come from the document."""
    from tidal.models import ModelPackage

    model = PmmlModel(Path(pmml_file))
    if model.function == "classification":
        task = "binary" if len(model.classes) == 2 else "multiclass"
    else:
        task = "regression"
    types = {name: TYPES.get(model.types.get(name, "double"), "float64") for name in model.features}
    return ModelPackage(model=model, task=task, features=list(model.features), flavor="pmml", label=model.target,
                        classes=model.classes or None, feature_types=types)


register_flavor(PmmlFlavor())
