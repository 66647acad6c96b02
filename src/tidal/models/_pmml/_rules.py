"""``RuleSetModel`` and ``Scorecard``: rules that fire, and points that add up.

Rule sets (classification): rules are tried in document order (a ``CompoundRule`` only when its own
predicate is TRUE); fired ``SimpleRule`` s are grouped by score. ``firstHit`` predicts the score of
the first rule that fired; ``weightedSum`` the score whose rules' weights sum highest (divided by
the number of fired rules); ``weightedMax`` the score whose heaviest rule is most confident. When
no rule fires, the ``defaultScore``. Only the first ``RuleSelectionMethod`` is used, as JPMML does.

Scorecards (regression): ``initialScore`` plus, for each ``Characteristic``, the ``partialScore``
of its first ``Attribute`` whose predicate is TRUE (or a ``ComplexPartialScore`` expression). A row
for which a characteristic has no TRUE attribute gets no prediction (JPMML raises an error for it).
Reason codes are not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidal.models._pmml._base import Model, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid
from tidal.models._pmml._predicates import Predicate, predicate_of
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._transformations import Expression, compile_expression, expression_of


@dataclass
class Rule:
    predicate: Predicate
    score: str | None = None  # a SimpleRule
    weight: float = 1.0
    confidence: float = 1.0
    rules: list[Rule] | None = None  # a CompoundRule


@register("RuleSetModel")
class RuleSet(Model):
    supported_functions = ("classification",)
    gives_probabilities = False

    def compile(self, element: Element) -> None:
        rule_set = element.find("RuleSet")
        if rule_set is None:
            raise PmmlInvalid(f"{self.where} has no <RuleSet>")
        for name in ("recordCount", "nbCorrect"):
            rule_set.get(name)
        methods = rule_set.findall("RuleSelectionMethod")
        if not methods:
            raise PmmlInvalid(f"{rule_set.describe()} has no <RuleSelectionMethod>")
        self.criterion = methods[0].choice("criterion", "", ("weightedSum", "weightedMax", "firstHit"))
        for other in methods[1:]:
            other.get("criterion")
        self.default_score = rule_set.get("defaultScore")
        self.default_confidence = rule_set.number("defaultConfidence", 0.0) if rule_set.get(
            "defaultConfidence") is not None else None
        self.rules = self._rules(rule_set)
        labels: list[str] = []
        self._collect(self.rules, labels)
        if self.default_score is not None and self.default_score not in labels:
            labels.append(self.default_score)
        self.labels = labels

    def _rules(self, parent: Element) -> list[Rule]:
        rules = []
        for child in parent.element_children():
            if child.tag == "SimpleRule":
                child.use()
                for name in ("id", "recordCount", "nbCorrect"):
                    child.get(name)
                child.findall("ScoreDistribution")
                for item in child.findall("ScoreDistribution"):
                    for name in ("value", "recordCount", "confidence", "probability"):
                        item.get(name)
                rules.append(Rule(predicate_of(child, self.scope), child.require("score"), child.number("weight", 1.0),
                                  child.number("confidence", 1.0)))
            elif child.tag == "CompoundRule":
                child.use()
                rules.append(Rule(predicate_of(child, self.scope), rules=self._rules(child)))
        return rules

    def _collect(self, rules: list[Rule], labels: list[str]) -> None:
        for rule in rules:
            if rule.rules is not None:
                self._collect(rule.rules, labels)
            elif rule.score not in labels:
                labels.append(str(rule.score))

    def _fire(self, rules: list[Rule], context: Context, active: np.ndarray, fired: list[tuple[Rule, np.ndarray]]) -> None:
        for rule in rules:
            true, _ = rule.predicate.evaluate(context)
            hit = active & true
            if not hit.any():
                continue
            if rule.rules is not None:
                self._fire(rule.rules, context, hit, fired)
            else:
                fired.append((rule, hit))

    def predict(self, context: Context) -> Prediction:
        size = context.size
        fired: list[tuple[Rule, np.ndarray]] = []
        self._fire(self.rules, context, np.ones(size, dtype=bool), fired)
        labels = self.labels
        count = np.zeros(size)
        for _, hit in fired:
            count += hit
        first = np.full((size, len(labels)), len(fired))  # the order each score first fired in
        weight_sum = np.zeros((size, len(labels)))
        best_weight = np.full((size, len(labels)), -np.inf)
        best_confidence = np.zeros((size, len(labels)))
        for number, (rule, hit) in enumerate(fired):
            column = labels.index(str(rule.score))
            first[hit, column] = np.minimum(first[hit, column], number)
            weight_sum[hit, column] += rule.weight
            better = hit & (rule.weight > best_weight[:, column])
            best_weight[better, column] = rule.weight
            best_confidence[better, column] = rule.confidence
        fired_any = count > 0
        if self.criterion == "firstHit":
            winner = np.argmin(first, axis=1)
            values = np.where(first < len(fired), 0.0, np.nan)
        else:
            with np.errstate(all="ignore"):
                values = weight_sum / count[:, None] if self.criterion == "weightedSum" else best_confidence
            values = np.where(first < len(fired), values, -np.inf)
            order = np.argsort(first, axis=1, kind="stable")  # scores in the order they first fired
            ranked = np.take_along_axis(values, order, axis=1)
            winner = np.take_along_axis(order, ranked.argmax(axis=1)[:, None], axis=1)[:, 0]
        missing = ~fired_any
        if self.default_score is not None:
            winner = np.where(fired_any, winner, labels.index(self.default_score))
            missing = np.zeros(size, dtype=bool)
        prediction = classification(labels, np.full((size, len(labels)), np.nan), missing)
        prediction.winner = np.where(missing, -1, winner)
        return prediction


@register("Scorecard")
class Scorecard(Model):
    supported_functions = ("regression",)

    def compile(self, element: Element) -> None:
        self.initial = element.number("initialScore", 0.0)
        for name in ("useReasonCodes", "reasonCodeAlgorithm", "baselineScore", "baselineMethod"):
            element.get(name)
        characteristics = element.find("Characteristics")
        if characteristics is None:
            raise PmmlInvalid(f"{self.where} has no <Characteristics>")
        self.characteristics: list[list[tuple[Predicate, float | Expression]]] = []
        for item in characteristics.findall("Characteristic"):
            for name in ("name", "reasonCode", "baselineScore"):
                item.get(name)
            attributes = []
            for attribute in item.findall("Attribute"):
                attribute.get("reasonCode")
                complex_score = attribute.find("ComplexPartialScore")
                score: float | Expression = (compile_expression(expression_of(complex_score), self.scope)
                                             if complex_score is not None else attribute.number("partialScore"))
                attributes.append((predicate_of(attribute, self.scope), score))
            self.characteristics.append(attributes)

    def predict(self, context: Context) -> Prediction:
        size = context.size
        total = np.full(size, self.initial)
        missing = np.zeros(size, dtype=bool)
        for attributes in self.characteristics:
            pending = np.ones(size, dtype=bool)
            partial = np.zeros(size)
            for predicate, score in attributes:
                true, _ = predicate.evaluate(context)
                hit = pending & true
                if not hit.any():
                    continue
                if isinstance(score, Expression):
                    column = score.evaluate(context)
                    missing |= hit & column.missing
                    partial = np.where(hit, np.where(column.missing, 0.0, column.values.astype(np.float64)), partial)
                else:
                    partial = np.where(hit, score, partial)
                pending &= ~hit
            missing |= pending  # no attribute matched: JPMML cannot score the row
            total = total + partial
        return self.targets.finish_regression(total, missing, self.math, self.target_type)
