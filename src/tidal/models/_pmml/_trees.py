"""``TreeModel``: decision trees, walked for all rows at once.

The rows of a batch flow down the tree together: at each node the remaining rows are split by each
child's predicate in document order (the first TRUE child takes a row), so a tree costs a few numpy
operations per node, not a Python loop per row. Rows whose predicate is UNKNOWN (a missing value)
follow ``missingValueStrategy``:

* ``none``: UNKNOWN counts as FALSE and the next sibling is tried;
* ``nullPrediction``: the row gets no prediction;
* ``lastPrediction``: the row stops at the current node;
* ``defaultChild``: the row continues in the node's ``defaultChild`` (its predicate is not evaluated).

Rows that no child takes follow ``noTrueChildStrategy`` (``returnNullPrediction``, or
``returnLastPrediction``: the current node, if it has a score). ``weightedConfidence`` and
``aggregateNodes`` are refused at load, as JPMML-Evaluator refuses them.

A regression leaf gives its ``score`` (through ``<Targets>``). A classification leaf predicts its
``score`` (as PMML and JPMML define it, even where another class is more probable) and gives the
probabilities of its ``ScoreDistribution``, normalised as JPMML normalises them (probabilities as
given, record counts divided by their sum).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tidal.models._pmml._base import Model, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._functions import EvaluationFailed
from tidal.models._pmml._predicates import Predicate, predicate_of
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._values import typed_constant

STRATEGIES = ("none", "nullPrediction", "lastPrediction", "defaultChild", "weightedConfidence", "aggregateNodes")
NULL = -1


@dataclass
class Node:
    index: int
    predicate: Predicate
    score: str | None
    element: Element
    children: list[Node] = field(default_factory=list)
    default_child: int | None = None
    distribution: list[tuple[str, float]] = field(default_factory=list)
    by_probability: bool = False


@register("TreeModel")
class TreeModel(Model):
    def compile(self, element: Element) -> None:
        self.strategy = element.choice("missingValueStrategy", "none", STRATEGIES)
        if self.strategy in ("weightedConfidence", "aggregateNodes"):
            raise PmmlUnsupported(f"PMML attribute missingValueStrategy=\"{self.strategy}\" of {self.where} is not "
                                  "supported by Tidal's evaluator (JPMML-Evaluator does not support it either)")
        self.no_true_child = element.choice("noTrueChildStrategy", "returnNullPrediction",
                                            ("returnNullPrediction", "returnLastPrediction"))
        element.get("missingValuePenalty")
        root = element.find("Node")
        if root is None:
            raise PmmlInvalid(f"{self.where} has no <Node>")
        self.nodes: list[Node] = []
        self.root = self._compile_node(root)
        self._tabulate()

    def _compile_node(self, element: Element) -> Node:
        pending: list[tuple[Element, Node | None]] = [(element, None)]
        root: Node | None = None
        while pending:
            item, parent = pending.pop()
            item.use()
            for tag in ("Partition", "Regression", "DecisionTree"):
                if item.find(tag) is not None:
                    raise PmmlUnsupported(f"PMML element <{tag}> inside {item.describe()} is not supported "
                                          "by Tidal's evaluator")
            node = Node(len(self.nodes), predicate_of(item, self.scope), item.get("score"), item)
            item.get("id")
            self.nodes.append(node)
            for entry in item.findall("ScoreDistribution"):
                entry.get("confidence")
                probability = entry.get("probability")
                if not node.distribution:
                    node.by_probability = probability is not None
                amount = entry.number("probability") if node.by_probability else entry.number("recordCount")
                node.distribution.append((entry.require("value"), amount))
            if parent is None:
                root = node
            else:
                parent.children.append(node)
            children = item.findall("Node")
            default = item.get("defaultChild")
            if default is not None:
                ids = [child.get("id") for child in children]
                if default not in ids:
                    raise PmmlInvalid(f"defaultChild=\"{default}\" of {item.describe()} is not one of its children")
                node.default_child = ids.index(default)
            elif self.strategy == "defaultChild" and children:
                raise PmmlInvalid(f"{item.describe()} lacks the defaultChild that missingValueStrategy=defaultChild "
                                  "needs on every node with children")
            pending.extend((child, node) for child in reversed(children))
        assert root is not None
        return root

    def _tabulate(self) -> None:
        """Per-node answers, computed once: regression scores, or class distributions and winners."""
        count = len(self.nodes)
        if self.function == "regression":
            self.scores = np.full(count, np.nan, dtype=self.math.dtype)
            self.has_score = np.zeros(count, dtype=bool)
            for node in self.nodes:
                if node.score is not None:
                    self.scores[node.index] = typed_constant(node.score, self.math.type, node.element.describe())
                    self.has_score[node.index] = True
            return
        labels: list[str] = []
        for node in self.nodes:
            for label, _ in node.distribution:
                if label not in labels:
                    labels.append(label)
            if node.score is not None and node.score not in labels:
                labels.append(node.score)
            if node.score is None and not node.children:
                raise PmmlInvalid(f"the leaf {node.element.describe()} of a classification tree has no score")
        self.labels = labels
        self.table = np.zeros((count, len(labels)), dtype=self.math.dtype)
        self.winners = np.full(count, NULL)
        self.has_score = np.zeros(count, dtype=bool)
        for node in self.nodes:
            if node.distribution:
                self._distribution(node)
            elif node.score is not None:  # a vote for the node's score
                self.table[node.index, labels.index(node.score)] = 1
            if node.score is not None:  # JPMML predicts the node's score; the distribution gives probabilities
                self.winners[node.index] = labels.index(node.score)
            self.has_score[node.index] = node.score is not None

    def _distribution(self, node: Node) -> None:
        dtype = self.math.dtype
        total = dtype(0)
        values = []
        for _, amount in node.distribution:
            total = dtype(total + dtype(amount))
            values.append(dtype(amount))
        if total != 1:
            if total == 0:
                raise PmmlInvalid(f"the ScoreDistribution of {node.element.describe()} sums to zero")
            values = [dtype(value / total) for value in values]
        for (label, _), value in zip(node.distribution, values, strict=True):
            self.table[node.index, self.labels.index(label)] = value

    def leaves(self, context: Context) -> np.ndarray:
        """The node each row ends in (``NULL`` for no prediction)."""
        result = np.full(context.size, NULL)
        true, _ = self.root.predicate.evaluate(context)
        pending = [(self.root, np.flatnonzero(true))]
        while pending:
            node, rows = pending.pop()
            if not len(rows):
                continue
            if not node.children:
                result[rows] = node.index
                continue
            remaining = rows
            for child in node.children:
                if not len(remaining):
                    break
                true, unknown = child.predicate.evaluate(context, remaining)
                if true.any():
                    pending.append((child, remaining[true]))
                if unknown.any() and self.strategy != "none":
                    unknown_rows = remaining[unknown]
                    if self.strategy == "lastPrediction":
                        result[unknown_rows] = node.index
                    elif self.strategy == "defaultChild":
                        assert node.default_child is not None
                        pending.append((node.children[node.default_child], unknown_rows))
                    remaining = remaining[~true & ~unknown]
                else:
                    remaining = remaining[~true]
            if len(remaining) and self.no_true_child == "returnLastPrediction" and self.has_score[node.index]:
                result[remaining] = node.index
        return result

    def predict(self, context: Context) -> Prediction:
        leaf = self.leaves(context)
        missing = leaf == NULL
        if self.function == "regression":
            ended = leaf[~missing]
            if ended.size and not self.has_score[ended].all():
                node = self.nodes[int(ended[~self.has_score[ended]][0])]
                raise EvaluationFailed(f"a row ends in {node.element.describe()}, which has no score")
            values = self.scores[np.where(missing, 0, leaf)]
            return self.targets.finish_regression(values, missing, self.math, self.target_type)
        unscored = ~missing & (self.winners[np.where(missing, 0, leaf)] == NULL)
        missing = missing | unscored  # JPMML cannot score a row that ends in a node without a score
        probabilities = self.table[np.where(missing, 0, leaf)].copy()
        prediction = classification(self.labels, probabilities, missing)
        prediction.winner = np.where(missing, NULL, self.winners[np.where(missing, 0, leaf)])
        return self.targets.fill_priors(prediction, self.math)
