"""Online Gaussian naive Bayes: per-class means and variances updated exactly with each micro-batch.

The update is scikit-learn's ``GaussianNB.partial_fit``, operation for operation, so the two agree
to rounding: each class's mean and variance are merged with the batch's by Chan's formula, and the
variance smoothing ``epsilon = var_smoothing * max(var(X_batch))`` is the one of the latest batch
(scikit-learn's convention: it takes the previous batch's epsilon off and adds the new one). The
loop runs over classes, never over rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from tidal.core._errors import DataError, ParameterError
from tidal.stream._state import StateReader, as_matrix, as_vector


class OnlineGaussianNB:
    """Gaussian naive Bayes over micro-batches; ``classes`` (numbers) must be known up front.

    >>> import numpy as np
    >>> X = np.array([[0.0], [0.2], [5.0], [5.2]]); y = np.array([0, 0, 1, 1])
    >>> OnlineGaussianNB(classes=[0, 1]).learn(X[:2], y[:2]).learn(X[2:], y[2:]).predict(np.array([[0.1], [4.0]])).tolist()
    [0.0, 1.0]
    """

    learner = "OnlineGaussianNB"

    def __init__(self, classes: Any, *, var_smoothing: float = 1e-9) -> None:
        values = np.unique(np.asarray(classes, dtype=np.float64))
        if values.size < 2 or not np.isfinite(values).all():
            raise ParameterError(f"OnlineGaussianNB needs at least two finite numeric classes, got {list(classes)}")
        if not var_smoothing >= 0:
            raise ParameterError(f"OnlineGaussianNB 'var_smoothing' must be >= 0, got {var_smoothing}")
        self.classes = values
        self.var_smoothing = float(var_smoothing)
        self.means = np.zeros((0, 0))
        self.variances = np.zeros((0, 0))
        self.counts = np.zeros(values.size)
        self.epsilon = 0.0

    def learn(self, X: Any, y: Any) -> OnlineGaussianNB:
        inputs = as_matrix(X, n_features=self.means.shape[1] if self.means.size else None)
        labels = as_vector(y, inputs.shape[0])
        unknown = np.setdiff1d(np.unique(labels), self.classes)
        if unknown.size:
            raise DataError(f"y holds class(es) {unknown.tolist()} that this learner was not given; its classes are {self.classes.tolist()}")
        first = self.means.size == 0
        self.epsilon = self.var_smoothing * float(np.var(inputs, axis=0).max())
        if first:
            self.means = np.zeros((self.classes.size, inputs.shape[1]))
            self.variances = np.zeros_like(self.means)
        else:
            self.variances -= self.epsilon
        for value in np.unique(labels):
            index = int(np.searchsorted(self.classes, value))
            rows = inputs[labels == value]
            self.means[index], self.variances[index] = _merge(self.counts[index], self.means[index], self.variances[index], rows)
            self.counts[index] += rows.shape[0]
        self.variances += self.epsilon
        return self

    def _joint_log_likelihood(self, X: Any) -> np.ndarray:
        if self.means.size == 0:
            raise ParameterError("OnlineGaussianNB has learned nothing yet; call learn first")
        inputs = as_matrix(X, n_features=self.means.shape[1])
        with np.errstate(divide="ignore"):
            prior = np.log(self.counts / self.counts.sum())
        normaliser = -0.5 * np.log(2.0 * np.pi * self.variances).sum(axis=1)
        distance = ((inputs[:, None, :] - self.means[None]) ** 2 / self.variances[None]).sum(axis=2)
        return prior + normaliser - 0.5 * distance  # type: ignore[no-any-return]

    def predict_proba(self, X: Any) -> np.ndarray:
        joint = self._joint_log_likelihood(X)
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes[self._joint_log_likelihood(X).argmax(axis=1)]  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner, "classes": self.classes.copy(), "var_smoothing": self.var_smoothing,
                "means": self.means.copy(), "variances": self.variances.copy(), "counts": self.counts.copy(), "epsilon": self.epsilon}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineGaussianNB:
        read = StateReader(state, cls.learner)
        classes = read.array("classes", (None,))
        learner = cls(classes, var_smoothing=read.number("var_smoothing", low=0))
        if learner.classes.size != classes.size:
            raise DataError("OnlineGaussianNB state entry 'classes' holds repeated values")
        means = read.array("means", (None, None))
        shape = (classes.size, means.shape[1]) if means.size else (0, 0)
        learner.means = read.array("means", shape)
        learner.variances = read.array("variances", shape, nonnegative=True)
        learner.counts = read.array("counts", (classes.size,), nonnegative=True)
        learner.epsilon = read.number("epsilon", low=0)
        return learner


def _merge(count: float, mean: np.ndarray, variance: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) variance of the rows seen before and ``rows`` together."""
    new_count = rows.shape[0]
    new_mean, new_variance = np.mean(rows, axis=0), np.var(rows, axis=0)
    if count == 0:
        return new_mean, new_variance
    total = float(count + new_count)
    merged_mean = (new_count * new_mean + count * mean) / total
    squares = count * variance + new_count * new_variance + (new_count * count / total) * (mean - new_mean) ** 2
    return merged_mean, squares / total
