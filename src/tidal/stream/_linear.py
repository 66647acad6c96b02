"""Online linear regression by recursive least squares, kept in information form.

The learner keeps ``A = λ^t δ I + Σ λ^(t-s) x_s x_sᵀ`` and ``b = λ^t δ w₀ + Σ λ^(t-s) x_s y_s``
(rows with a constant 1 appended for the intercept) and solves ``A w = b`` when it predicts. A
micro-batch adds ``Xᵀ Λ X`` and ``Xᵀ Λ y`` (two matrix products, no loop over rows), with ``Λ`` the
forgetting weights of its rows, so the result equals row-by-row RLS exactly. With ``forgetting=1``
the weights are the ridge solution over every row seen (penalty ``δ``, pulling towards the warm-start
weights ``w₀``, zero by default); with ``forgetting<1`` old rows fade geometrically, which tracks drift.

RLS rather than SGD: it needs no learning rate, reaches the least-squares answer after one pass,
and warm-starts from ``regression.linear_regression`` exactly. It costs O(d²) memory and an
O(d³) solve per prediction, fine for the tens to a few hundred features of a dense stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidal.core._errors import ParameterError
from tidal.stream._state import StateReader, as_matrix, as_vector


class OnlineLinearRegression:
    """Recursive least squares over micro-batches.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); y = X @ [2.0, -1.0] + 3.0
    >>> learner = OnlineLinearRegression().learn(X[:250], y[:250]).learn(X[250:], y[250:])
    >>> np.round(learner.coef_, 4).tolist(), round(learner.intercept_, 4)
    ([2.0, -1.0], 3.0)
    """

    learner = "OnlineLinearRegression"

    def __init__(self, *, penalty: float = 1e-6, forgetting: float = 1.0, n_features: int | None = None,
                 center: Any = None, scale: Any = None) -> None:
        if not np.isfinite(penalty) or penalty <= 0:
            raise ParameterError(f"OnlineLinearRegression 'penalty' must be a finite number > 0, got {penalty}")
        if not 0 < forgetting <= 1:
            raise ParameterError(f"OnlineLinearRegression 'forgetting' must lie in (0, 1], got {forgetting}")
        self.penalty, self.forgetting = float(penalty), float(forgetting)
        self.center = None if center is None else np.asarray(center, dtype=np.float64).copy()
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64).copy()
        self.n_features: int | None = None
        self.n_seen = 0
        self.features: list[str] | None = None
        if n_features is not None:
            self._allocate(int(n_features))

    def _allocate(self, n_features: int, prior: np.ndarray | None = None) -> None:
        self.n_features = n_features
        self.information = self.penalty * np.eye(n_features + 1)
        self.moment = self.penalty * (np.zeros(n_features + 1) if prior is None else prior)
        self._solution: np.ndarray | None = None

    def _inputs(self, X: Any) -> np.ndarray:
        array = as_matrix(X, n_features=self.n_features)
        if self.n_features is None:
            self._allocate(array.shape[1])
        if self.center is not None:
            array = array - self.center
        if self.scale is not None:
            array = array / self.scale
        return np.hstack([array, np.ones((array.shape[0], 1))])

    def learn(self, X: Any, y: Any) -> OnlineLinearRegression:
        inputs = self._inputs(X)
        target = as_vector(y, inputs.shape[0])
        rows = inputs.shape[0]
        if self.forgetting == 1.0:
            self.information += inputs.T @ inputs
            self.moment += target @ inputs
        else:
            weights = self.forgetting ** np.arange(rows - 1, -1, -1, dtype=np.float64)
            decay = self.forgetting**rows
            self.information = decay * self.information + (inputs.T * weights) @ inputs
            self.moment = decay * self.moment + (weights * target) @ inputs
        self._solution = None
        self.n_seen += rows
        return self

    def _weights(self) -> np.ndarray:
        if self._solution is None:
            if self.n_features is None:
                raise ParameterError("OnlineLinearRegression has learned nothing yet; call learn first")
            self._solution = np.linalg.solve(self.information, self.moment)
        return self._solution

    @property
    def coef_(self) -> np.ndarray:
        return self._weights()[:-1]

    @property
    def intercept_(self) -> float:
        return float(self._weights()[-1])

    def predict(self, X: Any) -> np.ndarray:
        return self._inputs(X) @ self._weights()  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"learner": self.learner, "penalty": self.penalty, "forgetting": self.forgetting,
                                 "n_seen": self.n_seen, "n_features": self.n_features or 0,
                                 "center": np.zeros(0) if self.center is None else self.center.copy(),
                                 "scale": np.zeros(0) if self.scale is None else self.scale.copy()}
        if self.n_features is not None:
            state.update(information=self.information.copy(), moment=self.moment.copy())
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineLinearRegression:
        read = StateReader(state, cls.learner)
        features = read.number("n_features", low=0, high=10**5, integer=True)
        learner = cls(penalty=read.number("penalty", low=1e-300), forgetting=read.number("forgetting", low=1e-300, high=1.0),
                      center=read.optional_array("center", (features,)) if features else None,
                      scale=read.optional_array("scale", (features,)) if features else None)
        if features:
            learner._allocate(features)
            learner.information = read.array("information", (features + 1, features + 1))
            learner.moment = read.array("moment", (features + 1,))
        learner.n_seen = read.number("n_seen", low=0, integer=True)
        return learner

    @classmethod
    def from_batch_model(cls, model: Any, **params: Any) -> OnlineLinearRegression:
        """Start from a fitted linear regression (``regression.linear_regression`` package or estimator):
        the first predictions equal the batch model's; later rows pull away from it as they accumulate."""
        from tidal.stream._warm_start import linear_parts

        parts = linear_parts(model, kind="regression")
        learner = cls(**params, center=parts.center, scale=parts.scale)
        learner._allocate(parts.coef.size, prior=np.append(parts.coef, parts.intercept))
        learner.features = parts.features
        return learner
