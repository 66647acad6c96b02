"""A learner wired to a drift detector: on drift, reset it or make it forget part of its past.

Each micro-batch is first scored (progressive validation: predict, then learn); the per-row error
(0/1 misclassification for classifiers, absolute error for regressors) feeds the detector. When
the detector fires at row ``i``, rows up to ``i`` are learned by the current learner, and, when the
error went up (a detector with a window, as ADWIN, also fires when the error falls as the learner
improves; those detections are recorded in ``improvements`` and change nothing), then:

- ``reset``: the learner goes back to the state it had when wrapped (the warm-start model, or an
  empty learner) and learns the rest of the batch from there;
- ``forget``: the learner's accumulated statistics are scaled by ``factor`` (FTRL: ``z`` and
  ``n``; they weigh as ``factor`` of the rows seen), so its learning rates rise again and the new
  concept wins faster while the old weights are kept as a starting point.

``benchmarks/stream_ftrl.py`` measures both against no detector on a drifting stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidal.core._errors import ParameterError
from tidal.stream._state import StateReader, as_matrix, as_vector

ACTIONS = ("reset", "forget")


class DriftAdaptive:
    learner = "DriftAdaptive"

    def __init__(self, learner: Any, detector: Any, *, action: str = "reset", factor: float = 0.01) -> None:
        if action not in ACTIONS:
            raise ParameterError(f"DriftAdaptive 'action' must be one of {', '.join(ACTIONS)}, got {action!r}")
        if action == "forget" and not hasattr(learner, "forget"):
            raise ParameterError(f"{type(learner).__name__} cannot forget part of its past; use action='reset'")
        if not 0 <= factor < 1:
            raise ParameterError(f"DriftAdaptive 'factor' must lie in [0, 1), got {factor}")
        self.model, self.detector, self.action, self.factor = learner, detector, action, float(factor)
        self.initial = learner.state()
        self.drifts: list[int] = []  # rows (counted from the start of the stream) where the error rose
        self.improvements: list[int] = []  # rows where the detector fired because the error fell
        self.n_seen = 0
        self.error_sum, self.error_count = 0.0, 0  # since the last reaction

    def _scores(self, X: np.ndarray) -> np.ndarray:
        if hasattr(self.model, "predict_proba"):
            return self.model.predict_proba(X)[:, 1]  # type: ignore[no-any-return]
        return self.model.predict(X)  # type: ignore[no-any-return]

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.model.predict_proba(X)  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        return self.model.predict(X)  # type: ignore[no-any-return]

    def learn(self, X: Any, y: Any) -> np.ndarray:
        """Score the batch with the current model, learn it, react to drift; returns the scores
        (probability of class 1, or the regression prediction) made before learning each row's segment."""
        inputs = as_matrix(X)
        target = as_vector(y, inputs.shape[0])
        scores = np.empty(inputs.shape[0])
        start = 0
        while start < inputs.shape[0]:
            scores[start:] = self._scores(inputs[start:])
            if hasattr(self.model, "predict_proba"):
                errors = ((scores[start:] > 0.5) != (target[start:] > 0.5)).astype(np.float64)
            else:
                errors = np.abs(scores[start:] - target[start:])
            found = self.detector.update_many(errors, stop_at_drift=True)
            end = inputs.shape[0] if not found else start + found[0] + 1
            self.model.learn(inputs[start:end], target[start:end])
            self.error_sum += float(errors[: end - start].sum())
            self.error_count += end - start
            if found:
                recent = getattr(self.detector, "estimation", None)
                if recent is not None and recent <= self.error_sum / self.error_count:
                    self.improvements.append(self.n_seen + end - 1)
                else:
                    self.drifts.append(self.n_seen + end - 1)
                    self.error_sum, self.error_count = 0.0, 0
                    self._react()
            start = end
        self.n_seen += inputs.shape[0]
        return scores

    def _react(self) -> None:
        from tidal.stream._learners import restore

        if self.action == "reset":
            self.model = restore(self.initial)
        else:
            self.model.forget(self.factor)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"learner": DriftAdaptive.learner, "action": self.action, "factor": self.factor,
                                 "n_seen": self.n_seen, "drifts": np.array(self.drifts, dtype=np.int64),
                                 "improvements": np.array(self.improvements, dtype=np.int64), "error_sum": self.error_sum,
                                 "error_count": self.error_count}
        for prefix, part in (("model.", self.model.state()), ("detector.", self.detector.state()), ("initial.", self.initial)):
            state.update({prefix + key: value for key, value in part.items()})
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DriftAdaptive:
        from tidal.stream._learners import restore

        read = StateReader(state, cls.learner)

        def part(prefix: str) -> dict[str, Any]:
            return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}

        wrapped = cls(restore(part("model."), where="DriftAdaptive 'model.'"), restore(part("detector."), where="DriftAdaptive 'detector.'"),
                      action=read.text("action", ACTIONS), factor=read.number("factor", low=0, high=0.999999999))
        wrapped.initial = part("initial.")
        restore(wrapped.initial, where="DriftAdaptive 'initial.'")  # checked now, not at the first drift
        wrapped.n_seen = read.number("n_seen", low=0, integer=True)
        wrapped.drifts = read.array("drifts", (None,), dtype="int64").tolist()
        wrapped.improvements = read.array("improvements", (None,), dtype="int64").tolist()
        wrapped.error_sum = read.number("error_sum", low=0)
        wrapped.error_count = read.number("error_count", low=0, integer=True)
        return wrapped
