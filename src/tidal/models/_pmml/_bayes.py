"""``NaiveBayesModel``: class priors times per-field likelihoods, summed in log space as JPMML does.

A continuous field contributes the density of its ``GaussianDistribution`` (or the mass of its
``PoissonDistribution``) per class, raised to ``threshold`` when smaller; a categorical field
contributes ``count / sum of counts`` of the class from its ``PairCounts`` (``threshold`` for a zero
count), optionally after a ``Discretize``. Missing inputs are skipped. The log-sums are turned into
probabilities by a softmax.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from tidal.models._pmml._base import Model, register
from tidal.models._pmml._context import Context
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._results import Prediction, classification
from tidal.models._pmml._transformations import Discretize, expression_of
from tidal.models._pmml._values import cast, equals_text


class Input:
    def __init__(self, element: Element, model: NaiveBayes) -> None:
        self.field = element.get("fieldName") or element.require("field")
        model.scope.lookup(self.field, element.describe())
        self.gaussian: dict[str, tuple[float, float]] = {}
        self.poisson: dict[str, float] = {}
        self.counts: dict[str, dict[str, float]] = {}  # field value -> class -> count
        self.discretize: Discretize | None = None
        stats_element = element.find("TargetValueStats")
        if stats_element is not None:
            for stat in stats_element.findall("TargetValueStat"):
                label = stat.require("value")
                gaussian, poisson = stat.find("GaussianDistribution"), stat.find("PoissonDistribution")
                if gaussian is not None:
                    variance = gaussian.number("variance")
                    if variance <= 0:
                        raise PmmlInvalid(f"{gaussian.describe()} has a variance that is not positive")
                    self.gaussian[label] = (gaussian.number("mean"), variance)
                elif poisson is not None:
                    self.poisson[label] = poisson.number("mean")
                else:
                    raise PmmlUnsupported(f"{stat.describe()}: only Gaussian and Poisson distributions are supported")
            return
        derived = element.find("DerivedField")
        if derived is not None:
            derived.get("optype")
            derived.get("name")
            expression = expression_of(derived)
            if expression.tag != "Discretize":
                raise PmmlUnsupported(f"a <BayesInput> derived field must be a <Discretize>, found <{expression.tag}>")
            self.discretize = Discretize(expression.use(), model.scope)
            self.discretize_type = derived.get("dataType") or self.discretize.type
        for pair in element.findall("PairCounts"):
            value = pair.require("value")
            table = pair.find("TargetValueCounts")
            if table is None:
                raise PmmlInvalid(f"{pair.describe()} has no <TargetValueCounts>")
            self.counts[value] = {count.require("value"): count.number("count") for count in table.findall("TargetValueCount")}
        self.sums: dict[str, float] = {}
        for counts in self.counts.values():
            for label, count in counts.items():
                self.sums[label] = self.sums[label] + count if label in self.sums else count


@register("NaiveBayesModel")
class NaiveBayes(Model):
    supported_functions = ("classification",)

    def compile(self, element: Element) -> None:
        self.threshold = element.number("threshold")
        inputs = element.find("BayesInputs")
        if inputs is None:
            raise PmmlInvalid(f"{self.where} has no <BayesInputs>")
        self.inputs_list = [Input(item, self) for item in inputs.findall("BayesInput")]
        output = element.find("BayesOutput")
        if output is None:
            raise PmmlInvalid(f"{self.where} has no <BayesOutput>")
        output.get("fieldName") or output.get("field")
        counts = output.find("TargetValueCounts")
        if counts is None:
            raise PmmlInvalid(f"{output.describe()} has no <TargetValueCounts>")
        self.priors = [(item.require("value"), item.number("count")) for item in counts.findall("TargetValueCount")]
        self.labels = [label for label, _ in self.priors]

    def predict(self, context: Context) -> Prediction:
        size, labels = context.size, self.labels
        logs = np.zeros((size, len(labels)))
        for column, (_, count) in enumerate(self.priors):
            logs[:, column] += math.log(count) if count > 0 else -math.inf
        for item in self.inputs_list:
            value = context.get(item.field)
            present = ~value.missing
            if item.gaussian or item.poisson:
                x = value.values.astype(np.float64)
                for label, (mean, variance) in item.gaussian.items():
                    density = stats.norm.pdf(x, loc=mean, scale=math.sqrt(variance))
                    self._add(logs, labels, label, present, np.maximum(density, self.threshold))
                for label, mean in item.poisson.items():
                    mass = stats.poisson.pmf(np.where(present, x, 0), mean)
                    self._add(logs, labels, label, present, np.maximum(mass, self.threshold))
                continue
            if item.discretize is not None:
                value = cast(item.discretize.evaluate(context), item.discretize_type)
                present = ~value.missing
            for key, table in item.counts.items():
                rows = present & equals_text(value, key, self.where)
                for label, count in table.items():
                    probability = self.threshold if count == 0 else count / item.sums[label]
                    self._add(logs, labels, label, rows, np.full(size, probability))
        with np.errstate(invalid="ignore", over="ignore"):
            shifted = np.exp(logs - logs.max(axis=1, keepdims=True))
        total = shifted.sum(axis=1, keepdims=True)
        probabilities = np.where(total == 1.0, shifted, shifted / total)
        return self.targets.fill_priors(classification(labels, probabilities, np.zeros(size, dtype=bool)), self.math)

    @staticmethod
    def _add(logs: np.ndarray, labels: list[str], label: str, rows: np.ndarray, probability: np.ndarray) -> None:
        if label not in labels:
            raise PmmlInvalid(f"class '{label}' of a BayesInput is not one of the BayesOutput classes")
        with np.errstate(divide="ignore"):
            logs[rows, labels.index(label)] += np.log(probability[rows])
