"""A second-order factorization machine classifier in plain numpy (Rendle, 2010).

    logit(x) = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j

The pairwise term is computed in O(k·d) per row with Rendle's identity
``sum_{i<j} <v_i, v_j> x_i x_j = 1/2 * sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]``.
Binary problems have one output and a logistic loss; multiclass problems have one output per
class and a softmax loss. Training is mini-batch Adam with L2 regularization; every random
choice (initial factors, batch order) comes from ``random_state``, so a seed fixes the model.
Attributes are numpy arrays, so skops stores the fitted model without pickle.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data


class FactorizationMachineClassifier(ClassifierMixin, BaseEstimator):
    """Factorization machine for binary and multiclass classification."""

    _parameter_constraints: dict[str, list[Any]] = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_factors: int = 8,
        *,
        learning_rate: float = 0.01,
        epochs: int = 30,
        batch_size: int = 256,
        l2: float = 1e-4,
        init_scale: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.l2 = l2
        self.init_scale = init_scale
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FactorizationMachineClassifier:
        self._validate_params()
        X = validate_data(self, X, reset=True, dtype=np.float64)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"the label has only one class ({self.classes_[0]!r}); a classifier needs two or more")
        rows, width = X.shape
        outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        targets = codes[:, None].astype(np.float64) if outputs == 1 else np.eye(outputs)[codes]
        weights = np.ones(rows) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rng = np.random.default_rng(self.random_state)
        self.intercept_ = np.zeros(outputs)
        self.coef_ = np.zeros((width, outputs))
        self.factors_ = rng.normal(0.0, self.init_scale, size=(outputs, width, self.n_factors))
        parameters = [self.intercept_, self.coef_, self.factors_]
        first = [np.zeros_like(p) for p in parameters]
        second = [np.zeros_like(p) for p in parameters]
        step = 0
        for _ in range(self.epochs):
            order = rng.permutation(rows)
            for start in range(0, rows, self.batch_size):
                batch = order[start : start + self.batch_size]
                gradients = self._gradients(X[batch], targets[batch], weights[batch])
                step += 1
                for parameter, gradient, m, v in zip(parameters, gradients, first, second, strict=True):
                    m *= 0.9
                    m += 0.1 * gradient
                    v *= 0.999
                    v += 0.001 * gradient**2
                    parameter -= self.learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        return self

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        projected = np.einsum("nd,odk->nok", X, self.factors_)
        squared = np.einsum("nd,odk->nok", X**2, self.factors_**2)
        logits = self.intercept_ + X @ self.coef_ + 0.5 * (projected**2 - squared).sum(axis=2)
        return logits, projected

    def _gradients(self, X: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
        logits, projected = self._forward(X)
        scores = expit(logits) if logits.shape[1] == 1 else softmax(logits, axis=1)
        total = weights.sum()
        residual = (scores - targets) * (weights / (total if total > 0 else 1.0))[:, None]
        intercept = residual.sum(axis=0)
        coef = X.T @ residual + self.l2 * self.coef_
        factors = (
            np.einsum("no,nd,nok->odk", residual, X, projected)
            - self.factors_ * np.einsum("no,nd->od", residual, X**2)[:, :, None]
            + self.l2 * self.factors_
        )
        return [intercept, coef, factors]

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        logits, _ = self._forward(X)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self.decision_function(X)
        if logits.ndim == 1:
            positive = expit(logits)
            return np.column_stack([1.0 - positive, positive])
        return softmax(logits, axis=1)  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]  # type: ignore[no-any-return]
