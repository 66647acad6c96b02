"""``MiningModel``: ensembles and chains of models (random forests, gradient boosting, stacking).

Each ``Segment`` has a predicate and a model of its own type and ``functionName`` (a boosted
classifier chains regression segments into a classification one). A segment is evaluated for the
rows its predicate selects, and the results are combined per ``multipleModelMethod``:

* regression: ``sum``, ``weightedSum``, ``average``, ``weightedAverage``, ``median``, ``weightedMedian``;
* classification: ``majorityVote``, ``weightedMajorityVote``, ``average``, ``weightedAverage``,
  ``median``, ``max``;
* any function: ``modelChain`` (a segment's output fields are inputs of the segments after it; the
  last segment evaluated gives the answer), ``selectFirst`` and ``selectAll``.

Sums run in segment order, in the model's precision, as JPMML sums them. Segments without a
prediction for a row follow ``missingPredictionTreatment`` (``returnMissing``, ``skipSegment`` with
``missingThreshold``, ``continue``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidal.models._pmml._aggregation import Evaluated, extreme, weighted_median
from tidal.models._pmml._base import Model, OutputSpec, compile_model, register
from tidal.models._pmml._context import Context, FieldInfo
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._predicates import Constant, Predicate, predicate_of
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._values import Column

REGRESSION_METHODS = ("sum", "weightedSum", "average", "weightedAverage", "median", "weightedMedian")
CLASSIFICATION_METHODS = ("majorityVote", "weightedMajorityVote", "average", "weightedAverage", "median", "max")
GENERAL_METHODS = ("modelChain", "selectFirst", "selectAll")
ALL_METHODS = tuple(dict.fromkeys(REGRESSION_METHODS + CLASSIFICATION_METHODS + GENERAL_METHODS))


@dataclass
class Segment:
    predicate: Predicate
    weight: float
    model: Model
    always: bool  # the predicate is <True/>


@register("MiningModel")
class MiningModel(Model):
    supported_functions = ("regression", "classification", "clustering")

    def compile(self, element: Element) -> None:
        segmentation = element.find("Segmentation")
        if segmentation is None:
            raise PmmlInvalid(f"{self.where} has no <Segmentation>")
        self.method = segmentation.choice("multipleModelMethod", "", ALL_METHODS)
        allowed = {"regression": REGRESSION_METHODS, "classification": CLASSIFICATION_METHODS,
                   "clustering": ("majorityVote", "weightedMajorityVote")}[self.function] + GENERAL_METHODS
        if self.method not in allowed:
            raise PmmlInvalid(f"multipleModelMethod=\"{self.method}\" is not defined for a {self.function} "
                              f"<MiningModel> ({self.where})")
        self.treatment = segmentation.choice("missingPredictionTreatment", "continue",
                                             ("returnMissing", "skipSegment", "continue"))
        self.threshold = segmentation.number("missingThreshold", 1.0)
        if self.treatment == "skipSegment" and self.method in ("modelChain", "selectAll"):
            raise PmmlUnsupported(f"missingPredictionTreatment=\"skipSegment\" with {self.method} is not supported")
        parent_target = self.target if self.function == "classification" else None
        if parent_target is None and self.function == "classification":
            parent_target = FieldInfo("", self.target_type, "categorical")
        self.segments: list[Segment] = []
        for item in segmentation.findall("Segment"):
            item.get("id")
            models = [child for child in item.element_children() if child.tag.endswith("Model")
                      or child.tag in ("NeuralNetwork", "Scorecard", "RuleSetModel")]
            if len(models) != 1:
                raise PmmlInvalid(f"{item.describe()} must hold exactly one model")
            predicate = predicate_of(item, self.scope)
            always = isinstance(predicate, Constant) and predicate.value
            model = compile_model(models[0], self.scope, self.math, nested=True, parent_target=parent_target)
            if self.method not in ("modelChain",) and model.function != self.function:
                raise PmmlInvalid(f"{models[0].describe()} in {item.describe()} is a {model.function} model inside a "
                                  f"{self.function} <MiningModel>")
            if self.method == "modelChain":
                for spec in model.outputs:
                    self.scope.define(FieldInfo(spec.name, spec.type))
            self.segments.append(Segment(predicate, item.number("weight", 1.0), model, always))
        if not self.segments:
            raise PmmlInvalid(f"{self.where} has no segments")
        if self.method == "modelChain" and self.segments[-1].model.function != self.function:
            raise PmmlInvalid(f"the last segment of the model chain {self.where} is not a {self.function} model")
        if self.function == "classification":
            self.labels = self._labels()

    def _labels(self) -> list[str]:
        labels: list[str] = []
        if self.target is not None:
            labels.extend(self._target_categories())
        for segment in self.segments:
            for label in getattr(segment.model, "labels", []):
                if label not in labels:
                    labels.append(label)
        return labels

    def _target_categories(self) -> list[str]:
        return list(self.target.categories) if self.target is not None else []

    # -- evaluation ---------------------------------------------------------------------------------
    def predict(self, context: Context) -> Prediction:
        size = context.size
        if self.method == "modelChain":
            evaluated, failed = self._chain(context)
        elif self.method == "selectFirst":
            evaluated, failed = self._select_first(context)
        else:
            evaluated, failed = self._all(context)
        if self.method in GENERAL_METHODS:
            prediction = self._last(evaluated, size, self.method == "selectAll")
            prediction.missing = prediction.missing | failed
            return self._without(prediction, failed)
        if self.function == "regression":
            values, missing = self._aggregate_values(evaluated, size)
            missing |= failed
            return self.targets.finish_regression(values, missing, self.math, self.target_type)
        if self.method in ("majorityVote", "weightedMajorityVote"):
            prediction = self._votes(evaluated, size)
        else:
            prediction = self._probabilities(evaluated, size)
        prediction.missing = prediction.missing | failed
        prediction = self._without(prediction, prediction.missing)
        return self.targets.fill_priors(prediction, self.math)

    def _selected(self, segment: Segment, context: Context, active: np.ndarray) -> np.ndarray:
        if segment.always:
            return active
        true, _ = segment.predicate.evaluate(context)
        return active & true

    def _run(self, segment: Segment, context: Context, chosen: np.ndarray) -> Evaluated | None:
        rows = np.flatnonzero(chosen)
        if not len(rows):
            return None
        scope = context if len(rows) == context.size else context.subset(rows)
        return Evaluated(rows, segment.model.evaluate(scope), segment.weight)

    def _all(self, context: Context) -> tuple[list[Evaluated], np.ndarray]:
        size = context.size
        evaluated, failed = [], np.zeros(size, dtype=bool)
        active = np.ones(size, dtype=bool)
        for segment in self.segments:
            result = self._run(segment, context, self._selected(segment, context, active))
            if result is None:
                continue
            if self.treatment == "returnMissing":
                failed[result.rows[result.prediction.missing]] = True
            evaluated.append(result)
        return evaluated, failed

    def _select_first(self, context: Context) -> tuple[list[Evaluated], np.ndarray]:
        size = context.size
        evaluated, failed = [], np.zeros(size, dtype=bool)
        pending = np.ones(size, dtype=bool)
        for segment in self.segments:
            result = self._run(segment, context, self._selected(segment, context, pending))
            if result is None:
                continue
            missing_rows = result.rows[result.prediction.missing]
            if self.treatment == "returnMissing":
                failed[missing_rows] = True
            if self.treatment == "skipSegment" and len(missing_rows):
                kept = ~result.prediction.missing
                result = Evaluated(result.rows[kept], result.prediction.take(np.flatnonzero(kept)), result.weight)
            pending[result.rows] = False
            evaluated.append(result)
        return evaluated, failed

    def _chain(self, context: Context) -> tuple[list[Evaluated], np.ndarray]:
        size = context.size
        evaluated, failed = [], np.zeros(size, dtype=bool)
        active = np.ones(size, dtype=bool)
        for segment in self.segments:
            result = self._run(segment, context, self._selected(segment, context, active & ~failed))
            if result is None:
                for spec in segment.model.outputs:
                    if spec.name not in context.values:
                        context.declare(spec.name, Column.empty(spec.type, size))
                continue
            if self.treatment == "returnMissing":
                failed[result.rows[result.prediction.missing]] = True
            for spec in segment.model.outputs:
                column = result.prediction.outputs[spec.name]
                if len(result.rows) == size:
                    context.declare(spec.name, column)
                else:
                    previous = context.values.get(spec.name)
                    if previous is None:
                        previous = Column.empty(spec.type, size)
                    context.declare(spec.name, previous.fill(result.rows, column))
            evaluated.append(result)
        return evaluated, failed

    def _last(self, evaluated: list[Evaluated], size: int, collect: bool) -> Prediction:
        """Per row, the last evaluated segment's prediction (selectAll: all of them, as lists)."""
        if not evaluated:
            return Prediction(size, np.ones(size, dtype=bool), value=Column.empty(self.target_type, size))
        first = evaluated[-1].prediction
        last = np.full(size, -1)
        for number, result in enumerate(evaluated):
            if collect or result.prediction.is_classification == first.is_classification:
                last[result.rows] = number
        missing = last < 0
        answering = [(number, result) for number, result in enumerate(evaluated)
                     if collect or (last[result.rows] == number).any()]
        if first.is_classification and not collect:
            labels: list[str] = []
            for _, result in answering:
                labels.extend(label for label in result.prediction.labels if label not in labels)
            probabilities = np.zeros((size, len(labels)), dtype=first.probabilities.dtype)  # type: ignore[union-attr]
            winner = np.full(size, -1)
            for number, result in answering:
                mine = last[result.rows] == number
                rows = result.rows[mine]
                columns = [labels.index(label) for label in result.prediction.labels]
                assert result.prediction.probabilities is not None and result.prediction.winner is not None
                probabilities[np.ix_(rows, columns)] = result.prediction.probabilities[mine]
                winners = result.prediction.winner[mine]
                winner[rows] = np.where(winners < 0, -1, np.array(columns + [-1])[winners])
                missing[rows] = result.prediction.missing[mine]
            prediction = Prediction(size, missing, labels=labels, probabilities=probabilities, winner=winner)
        elif collect:
            values = np.empty(size, dtype=object)
            for row in range(size):
                values[row] = []
            for result in evaluated:
                answers = (result.prediction.predicted_labels() if result.prediction.is_classification
                           else result.prediction.value.values)  # type: ignore[union-attr]
                for row, answer, gone in zip(result.rows, answers, result.prediction.missing, strict=True):
                    values[row].append(None if gone else answer)
            prediction = Prediction(size, missing, value=Column("string", values, missing.copy()))
        else:
            kinds = {result.prediction.value.type for _, result in answering if result.prediction.value is not None}
            type = kinds.pop() if len(kinds) == 1 else self.target_type
            column = Column.empty(type, size)
            for number, result in answering:
                mine = last[result.rows] == number
                assert result.prediction.value is not None
                column = column.fill(result.rows[mine], result.prediction.value.take(np.flatnonzero(mine)))
            missing = column.missing.copy()
            prediction = Prediction(size, missing, value=column)
        for result in evaluated:  # nested output fields, for the rows each segment answered
            for name, column in result.prediction.outputs.items():
                merged = prediction.outputs.get(name)
                if merged is None:
                    merged = Column.empty(column.type, size)
                prediction.outputs[name] = merged.fill(result.rows, column)
        return prediction

    @staticmethod
    def _without(prediction: Prediction, failed: np.ndarray) -> Prediction:
        if not failed.any():
            return prediction
        prediction.missing = prediction.missing | failed
        if prediction.value is not None:
            prediction.value = prediction.value.with_missing(failed)
        if prediction.probabilities is not None:
            prediction.probabilities = prediction.probabilities.copy()
            prediction.probabilities[failed] = np.nan
        if prediction.winner is not None:
            prediction.winner = np.where(failed, -1, prediction.winner)
        return prediction

    # -- aggregation ---------------------------------------------------------------------------------
    def _skip_missing(self, evaluated: list[Evaluated], size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Rows that fail under the treatment, and per segment which of its rows count."""
        counted = []
        failed = self._missing_fraction(evaluated, size) if self.treatment == "skipSegment" else np.zeros(size, bool)
        for result in evaluated:
            missing = result.prediction.missing
            if self.treatment != "skipSegment":
                failed[result.rows[missing]] = True
            counted.append(~missing)
        return failed, counted

    def _missing_fraction(self, evaluated: list[Evaluated], size: int) -> np.ndarray:
        """Rows where the segments without a prediction weigh more than ``missingThreshold``."""
        total, absent = np.zeros(size), np.zeros(size)
        for result in evaluated:
            total[result.rows] += result.weight
            absent[result.rows[result.prediction.missing]] += result.weight
        with np.errstate(invalid="ignore", divide="ignore"):
            return (absent / total) > self.threshold

    def _aggregate_values(self, evaluated: list[Evaluated], size: int) -> tuple[np.ndarray, np.ndarray]:
        math = self.math
        failed, counted = self._skip_missing(evaluated, size)
        weighted = self.method.startswith("weighted")
        if self.method in ("median", "weightedMedian"):
            values = weighted_median(evaluated, counted, size, weighted)
            return self.math.array(values), failed | self._none(evaluated, counted, size)
        total, weights, count = math.zeros(size), math.zeros(size), np.zeros(size)
        for result, keep in zip(evaluated, counted, strict=True):
            rows = result.rows[keep]
            assert result.prediction.value is not None
            values = math.array(result.prediction.value.values[keep])
            if weighted and result.weight != 1.0:
                values = math.scalar(result.weight) * values
            total[rows] = total[rows] + values
            weights[rows] = weights[rows] + math.scalar(result.weight)
            count[rows] += 1
        none = count == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.method == "average":
                total = total / math.array(np.maximum(count, 1))
            elif self.method == "weightedAverage":
                total = total / weights
        return total, failed | none

    @staticmethod
    def _none(evaluated: list[Evaluated], counted: list[np.ndarray], size: int) -> np.ndarray:
        count = np.zeros(size)
        for result, keep in zip(evaluated, counted, strict=True):
            count[result.rows[keep]] += 1
        return count == 0

    def _votes(self, evaluated: list[Evaluated], size: int) -> Prediction:
        math = self.math
        labels = list(self.labels)
        votes = np.zeros((size, len(labels) + 1), dtype=math.dtype)  # the last column: missing votes
        first_vote = np.full((size, len(labels) + 1), np.iinfo(np.int64).max)
        failed = np.zeros(size, dtype=bool)
        if self.treatment in ("skipSegment", "continue"):  # JPMML checks missingThreshold for both
            failed = self._missing_fraction(evaluated, size)
        weighted = self.method == "weightedMajorityVote"
        for number, result in enumerate(evaluated):
            prediction = result.prediction
            winners = prediction.predicted_labels() if prediction.is_classification else _value_labels(prediction)
            for label in winners:
                if label is not None and label not in labels:
                    labels.append(label)
                    votes = np.insert(votes, len(labels) - 1, 0, axis=1)
                    first_vote = np.insert(first_vote, len(labels) - 1, np.iinfo(np.int64).max, axis=1)
            columns = np.array([len(labels) if label is None else labels.index(label) for label in winners])
            if self.treatment == "skipSegment":
                keep = columns < len(labels)
                rows, columns = result.rows[keep], columns[keep]
            else:
                rows = result.rows
                if self.treatment == "returnMissing":
                    failed[rows[columns == len(labels)]] = True
            amount = math.scalar(result.weight if weighted else 1.0)
            votes[rows, columns] = votes[rows, columns] + amount
            first_vote[rows, columns] = np.minimum(first_vote[rows, columns], number)
        missing_votes = votes[:, -1]
        votes, first_vote = votes[:, :-1], first_vote[:, :-1]
        none = ~(votes > 0).any(axis=1)
        if self.treatment == "continue":
            failed |= missing_votes > votes.max(axis=1, initial=0)
        total = math.zeros(size)
        order = np.argsort(first_vote, axis=1, kind="stable")
        for position in range(votes.shape[1]):  # JPMML sums the votes in the order labels got them
            column = order[:, position]
            present = first_vote[np.arange(size), column] < np.iinfo(np.int64).max
            total = np.where(present, total + votes[np.arange(size), column], total)
        with np.errstate(invalid="ignore", divide="ignore"):
            probabilities = np.where((total == 1)[:, None], votes, votes / total[:, None])
        missing = failed | none
        prediction = classification(labels, probabilities.astype(math.dtype), missing)
        ranked = np.where(first_vote < np.iinfo(np.int64).max, -first_vote, -np.inf)
        best = votes.max(axis=1, initial=0)[:, None]
        winner = np.where(votes == best, ranked, -np.inf).argmax(axis=1)
        prediction.winner = np.where(missing, -1, winner)
        return prediction

    def _probabilities(self, evaluated: list[Evaluated], size: int) -> Prediction:
        math = self.math
        failed, counted = self._skip_missing(evaluated, size)
        labels = list(self.labels)
        for result in evaluated:
            labels.extend(label for label in result.prediction.labels if label not in labels)
        stacks = np.full((len(evaluated), size, len(labels)), np.nan, dtype=math.dtype)
        for number, (result, keep) in enumerate(zip(evaluated, counted, strict=True)):
            prediction = result.prediction
            if prediction.probabilities is None:
                raise PmmlInvalid(f"a segment of {self.where} gives no probabilities to average")
            columns = [labels.index(label) for label in prediction.labels]
            rows = result.rows[keep]
            stacks[number][np.ix_(rows, columns)] = prediction.probabilities[keep]
            stacks[number][rows] = np.nan_to_num(stacks[number][rows], nan=0.0)
        present = ~np.isnan(stacks[:, :, 0])  # (segments, rows)
        none = ~present.any(axis=0)
        if self.method in ("average", "weightedAverage"):
            total = np.zeros((size, len(labels)), dtype=math.dtype)
            weight_sum = math.zeros(size)
            count = np.zeros(size)
            for number, result in enumerate(evaluated):
                rows = present[number]
                values = stacks[number][rows]
                if self.method == "weightedAverage" and result.weight != 1.0:
                    values = math.scalar(result.weight) * values
                total[rows] = total[rows] + values
                weight_sum[rows] = weight_sum[rows] + math.scalar(result.weight)
                count[rows] += 1
            with np.errstate(invalid="ignore", divide="ignore"):
                divisor = weight_sum if self.method == "weightedAverage" else math.array(count)
                probabilities = total / divisor[:, None]
        else:
            categories = [labels.index(label) for label in self._target_categories() if label in labels]
            probabilities = extreme(self.method, stacks, present, categories or list(range(len(labels))), self.math)
        return classification(labels, probabilities, failed | none)

    def output_fields(self) -> list[OutputSpec]:
        nested: list[OutputSpec] = []
        if self.method in ("modelChain", "selectFirst"):
            segments = self.segments
            if self.method == "modelChain":
                tail = next((index for index in range(len(segments) - 1, -1, -1) if segments[index].always), 0)
                chosen = segments[tail:]
            else:
                head = next((index for index, segment in enumerate(segments) if segment.always), len(segments) - 1)
                chosen = segments[: head + 1]
            for segment in chosen:
                nested.extend(segment.model.output_fields())
        return nested + super().output_fields()


def _value_labels(prediction: Prediction) -> np.ndarray:
    assert prediction.value is not None
    labels = [None if gone else str(value) for value, gone in zip(prediction.value.values, prediction.missing,
                                                                   strict=True)]
    return np.array(labels, dtype=object)
