"""FTRL-proximal logistic regression (McMahan et al., 2013, "Ad click prediction"), with Alink's
parameters ``alpha``, ``beta``, ``l1`` and ``l2``.

Each coordinate keeps ``z`` (the accumulated gradients, shifted) and ``n`` (the accumulated squared
gradients); the weights are a closed form of them::

    w_i = 0                                                  if |z_i| <= l1
    w_i = -(z_i - sign(z_i) l1) / ((beta + sqrt(n_i)) / alpha + l2)   otherwise

Three modes, one state:

- ``batch`` (default): the gradients of every row of a micro-batch are computed at the weights of
  the batch's start and summed (two matrix products per batch, no loop over rows). With one row
  per batch it is exactly ``sample``; larger batches trade a little loss for throughput
  (``benchmarks/stream.md`` measures how much).
- ``sample``: the textbook algorithm, one row at a time (a loop over rows: FTRL is sequential).
- ``river``: River's ``LogisticRegression(optimizer=FTRLProximal())`` step for step, for parity:
  River computes a row's gradient at the weights it stored on the previous row (one step behind
  the textbook) and keeps a weight unchanged while ``|z_i| <= l1``.

The intercept is an FTRL coordinate (a constant feature, as in Alink and the paper) unless
``intercept_lr`` is given; then it is learned by plain SGD at that rate, as River does.
Fixed input scaling (``center``/``scale``) is part of the model: a learner warm-started from a
standardized batch model sees the same encoding as the batch model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from tidal.core._errors import ParameterError
from tidal.stream._state import StateReader, as_matrix, binary_labels

MODES = ("batch", "sample", "river")


class FTRLLogisticRegression:
    """Binary logistic regression learned online by FTRL-proximal over micro-batches.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)); y = (X @ [1.0, -2.0, 0.5] > 0).astype(float)
    >>> learner = FTRLLogisticRegression(alpha=0.5, l1=0.1)
    >>> for start in range(0, 2000, 100):
    ...     _ = learner.learn(X[start:start + 100], y[start:start + 100])
    >>> float(((learner.predict_proba(X)[:, 1] > 0.5) == y).mean()) > 0.95
    True
    """

    learner = "FTRLLogisticRegression"

    def __init__(self, alpha: float = 0.05, beta: float = 1.0, l1: float = 0.0, l2: float = 1.0, *,
                 mode: str = "batch", intercept_lr: float | None = None, n_features: int | None = None,
                 center: Any = None, scale: Any = None) -> None:
        for name, value, low in (("alpha", alpha, 0.0), ("beta", beta, 0.0), ("l1", l1, 0.0), ("l2", l2, 0.0)):
            if not np.isfinite(value) or value < low or (name == "alpha" and value == 0):
                raise ParameterError(f"FTRL parameter '{name}' must be a finite number {'> 0' if name == 'alpha' else '>= 0'}, got {value}")
        if mode not in MODES:
            raise ParameterError(f"FTRL parameter 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
        if intercept_lr is not None and (not np.isfinite(intercept_lr) or intercept_lr < 0):
            raise ParameterError(f"FTRL parameter 'intercept_lr' must be a finite number >= 0 or None, got {intercept_lr}")
        self.alpha, self.beta, self.l1, self.l2 = float(alpha), float(beta), float(l1), float(l2)
        self.mode = mode
        self.intercept_lr = None if intercept_lr is None else float(intercept_lr)
        self.n_features: int | None = None
        self.center: np.ndarray | None = None if center is None else np.asarray(center, dtype=np.float64).copy()
        self.scale: np.ndarray | None = None if scale is None else np.asarray(scale, dtype=np.float64).copy()
        self.intercept = 0.0
        self.n_seen = 0
        self.features: list[str] | None = None  # column names, when known (warm start, components)
        self.classes: list[Any] | None = None
        if n_features is not None:
            self._allocate(int(n_features))

    # -- layout ---------------------------------------------------------------------------------------
    @property
    def _bias_coordinate(self) -> bool:
        return self.intercept_lr is None

    def _allocate(self, n_features: int) -> None:
        if n_features < 1:
            raise ParameterError(f"n_features must be at least 1, got {n_features}")
        self.n_features = n_features
        size = n_features + (1 if self._bias_coordinate else 0)
        self.z = np.zeros(size)
        self.n = np.zeros(size)
        self.stored = np.zeros(size)  # the weights River's mode predicts with (one step behind)
        for name, value in (("center", self.center), ("scale", self.scale)):
            if value is not None and value.shape != (n_features,):
                raise ParameterError(f"FTRL '{name}' has {value.size} values for {n_features} features")
        if self.scale is not None and not (self.scale > 0).all():
            raise ParameterError("FTRL 'scale' must be positive for every feature")

    def _inputs(self, X: Any) -> np.ndarray:
        array = as_matrix(X, n_features=self.n_features)
        if self.n_features is None:
            self._allocate(array.shape[1])
        if self.center is not None:
            array = array - self.center
        if self.scale is not None:
            array = array / self.scale
        if self._bias_coordinate:
            array = np.hstack([array, np.ones((array.shape[0], 1))])
        return array

    # -- the model ------------------------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """The weights (with the intercept last when it is an FTRL coordinate) the next prediction uses."""
        if self.n_features is None:
            return np.zeros(0)
        if self.mode == "river":
            return self.stored.copy()
        return self._closed_form(self.z, self.n)

    def _closed_form(self, z: np.ndarray, n: np.ndarray) -> np.ndarray:
        shrunk = z - np.sign(z) * self.l1
        weights = -shrunk / ((self.beta + np.sqrt(n)) / self.alpha + self.l2)
        return np.where(np.abs(z) > self.l1, weights, 0.0)

    def decision_function(self, X: Any) -> np.ndarray:
        inputs = self._inputs(X)
        return inputs @ self.weights() + self.intercept  # type: ignore[no-any-return]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of class 0 and class 1, one row per input row."""
        positive = expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)

    # -- learning -------------------------------------------------------------------------------------
    def learn(self, X: Any, y: Any) -> FTRLLogisticRegression:
        """Learn from one micro-batch; ``y`` holds 0/1 labels."""
        inputs = self._inputs(X)
        labels = binary_labels(y, inputs.shape[0])
        if self.mode == "batch":
            self._learn_batch(inputs, labels)
        elif self.mode == "sample":
            for row in range(inputs.shape[0]):
                self._learn_batch(inputs[row:row + 1], labels[row:row + 1])
        else:
            self._learn_river(inputs, labels)
        self.n_seen += inputs.shape[0]
        return self

    def _learn_batch(self, inputs: np.ndarray, labels: np.ndarray) -> None:
        weights = self._closed_form(self.z, self.n)
        residual = expit(inputs @ weights + self.intercept) - labels
        gradient = residual @ inputs
        squared = (residual * residual) @ (inputs * inputs)
        updated = self.n + squared
        sigma = (np.sqrt(updated) - np.sqrt(self.n)) / self.alpha
        self.z += gradient - sigma * weights
        self.n = updated
        if self.intercept_lr is not None:
            self.intercept -= self.intercept_lr * float(residual.sum())

    def _learn_river(self, inputs: np.ndarray, labels: np.ndarray) -> None:
        """River's order of operations, one row at a time (see the module docstring)."""
        z, n, stored = self.z, self.n, self.stored
        alpha, beta, l1, l2 = self.alpha, self.beta, self.l1, self.l2
        rate = self.intercept_lr
        for row in range(inputs.shape[0]):
            x = inputs[row]
            residual = float(expit(float(x @ stored) + self.intercept)) - labels[row]
            gradient = residual * x
            if rate is not None:
                self.intercept -= rate * residual
            active = np.abs(z) > l1
            fresh = -((beta + np.sqrt(n)) / alpha + l2) ** -1 * (z - np.sign(z) * l1)
            stored = np.where(active, fresh, stored)
            squared = gradient * gradient
            sigma = (np.sqrt(n + squared) - np.sqrt(n)) / alpha
            z = z + gradient - sigma * stored
            n = n + squared
        self.z, self.n, self.stored = z, n, stored

    def forget(self, factor: float) -> None:
        """Weigh everything learned so far as ``factor`` of it (``z`` and ``n`` scaled): learning rates
        rise again, so a new concept is picked up faster (used on drift, see ``DriftAdaptive``)."""
        if self.n_features is not None:
            self.z *= factor
            self.n *= factor * factor
            self.stored = self._closed_form(self.z, self.n) if self.mode == "river" else self.stored

    # -- checkpoints ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the learner knows, as arrays and scalars; ``from_state`` restores it exactly."""
        state: dict[str, Any] = {
            "learner": self.learner, "alpha": self.alpha, "beta": self.beta, "l1": self.l1, "l2": self.l2,
            "mode": self.mode, "intercept_lr": -1.0 if self.intercept_lr is None else self.intercept_lr,
            "intercept": self.intercept, "n_seen": self.n_seen, "n_features": self.n_features or 0,
        }
        if self.n_features is not None:
            state.update(z=self.z.copy(), n=self.n.copy(), stored=self.stored.copy())
        state["center"] = np.zeros(0) if self.center is None else self.center.copy()
        state["scale"] = np.zeros(0) if self.scale is None else self.scale.copy()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FTRLLogisticRegression:
        read = StateReader(state, cls.learner)
        rate = read.number("intercept_lr")
        features = read.number("n_features", low=0, high=10**8, integer=True)
        center = read.optional_array("center", (features,)) if features else None
        scale = read.optional_array("scale", (features,)) if features else None
        learner = cls(read.number("alpha", low=1e-300), read.number("beta", low=0), read.number("l1", low=0),
                      read.number("l2", low=0), mode=read.text("mode", MODES), intercept_lr=None if rate == -1.0 else rate,
                      center=center, scale=scale)
        if features:
            learner._allocate(features)
            size = features + (1 if learner._bias_coordinate else 0)
            learner.z = read.array("z", (size,))
            learner.n = read.array("n", (size,), nonnegative=True)
            learner.stored = read.array("stored", (size,))
        learner.intercept = read.number("intercept")
        learner.n_seen = read.number("n_seen", low=0, integer=True)
        return learner

    # -- warm start -----------------------------------------------------------------------------------
    @classmethod
    def from_batch_model(cls, model: Any, **params: Any) -> FTRLLogisticRegression:
        """A learner whose first predictions equal a fitted binary logistic regression's: a Tidal model
        package from ``classification.logistic_regression`` or a scikit-learn estimator (a bare
        ``LogisticRegression`` or a pipeline of ``StandardScaler`` and it)."""
        from tidal.stream._warm_start import linear_parts

        parts = linear_parts(model, kind="classification")
        learner = cls(**params, n_features=parts.coef.size, center=parts.center, scale=parts.scale)
        learner.features, learner.classes = parts.features, parts.classes
        denominator = learner.beta / learner.alpha + learner.l2
        coordinates = np.append(parts.coef, parts.intercept) if learner._bias_coordinate else parts.coef
        # with n = 0 the closed form gives back exactly these weights
        learner.z = -(coordinates * denominator + np.sign(coordinates) * learner.l1)
        learner.stored = learner._closed_form(learner.z, learner.n)
        if not learner._bias_coordinate:
            learner.intercept = parts.intercept
        return learner
