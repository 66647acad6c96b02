"""Any River estimator or transformer behind the micro-batch interface of Tidal's learners.

``learn`` uses River's ``learn_many`` (pandas batch) when the estimator has it and ``batch=True``,
else ``learn_one`` row by row; predictions likewise use ``predict_many``/``predict_proba_many`` or
loop over ``*_one``. River models are plain Python objects: their state can only be stored as a
pickle, and a pickle runs code when loaded. So ``state()`` holds the pickle bytes (as a uint8
array) and ``from_state`` refuses it unless the operator passes ``trust=True``; the ``stream``
model flavor applies the same rule to packages (CLI ``--trust``).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.models._trust import require_trust
from tidal.stream._state import StateReader, as_matrix


class RiverEstimator:
    """Wraps ``estimator`` (e.g. ``river.linear_model.LogisticRegression()``) for micro-batches of numpy rows."""

    learner = "RiverEstimator"

    def __init__(self, estimator: Any, *, features: list[str] | None = None, batch: bool = False) -> None:
        if not any(hasattr(estimator, name) for name in ("learn_one", "learn_many")):
            raise DataError(f"RiverEstimator wraps a River estimator (with learn_one); got {type(estimator).__name__}")
        self.estimator = estimator
        self.features = features
        self.batch = bool(batch)

    def _frame(self, X: Any) -> pd.DataFrame:
        array = as_matrix(X, n_features=len(self.features) if self.features else None)
        if self.features is None:
            self.features = [f"x{index}" for index in range(array.shape[1])]
        return pd.DataFrame(array, columns=self.features)

    def learn(self, X: Any, y: Any = None) -> RiverEstimator:
        frame = self._frame(X)
        target = None if y is None else pd.Series(np.asarray(y).reshape(-1))
        if self.batch and hasattr(self.estimator, "learn_many"):
            self.estimator.learn_many(frame) if target is None else self.estimator.learn_many(frame, target)
            return self
        for index, row in enumerate(frame.to_dict("records")):
            self.estimator.learn_one(row) if target is None else self.estimator.learn_one(row, target.iloc[index].item())
        return self

    def predict(self, X: Any) -> np.ndarray:
        frame = self._frame(X)
        if self.batch and hasattr(self.estimator, "predict_many"):
            return np.asarray(self.estimator.predict_many(frame))
        return np.array([self.estimator.predict_one(row) for row in frame.to_dict("records")])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the classes 0 and 1 (binary classifiers), one row per input row."""
        frame = self._frame(X)
        if self.batch and hasattr(self.estimator, "predict_proba_many"):
            table = self.estimator.predict_proba_many(frame)
            positive = np.asarray(table.get(True, table.get(1, 0.0)), dtype=np.float64)
        else:
            positive = np.array([_positive(self.estimator.predict_proba_one(row)) for row in frame.to_dict("records")])
        return np.column_stack([1.0 - positive, positive])

    def transform(self, X: Any) -> np.ndarray:
        frame = self._frame(X)
        rows = [self.estimator.transform_one(row) for row in frame.to_dict("records")]
        return np.array([[row[name] for name in sorted(row)] for row in rows])

    def state(self) -> dict[str, Any]:
        """The estimator as pickle bytes: restoring it needs trust (see the module docstring)."""
        return {"learner": self.learner, "batch": int(self.batch), "features": ",".join(self.features or []),
                "pickle": np.frombuffer(pickle.dumps(self.estimator, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8).copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any], *, trust: bool = False, where: str = "a learner state") -> RiverEstimator:
        require_trust(trust, "a pickled River estimator", where)
        read = StateReader(state, cls.learner)
        payload = read.array("pickle", (None,), dtype="uint8")
        estimator = pickle.loads(payload.tobytes())  # noqa: S301 - the operator trusted the source
        names = read.text("features")
        return cls(estimator, features=names.split(",") if names else None, batch=bool(read.number("batch", low=0, high=1, integer=True)))


def _positive(probabilities: dict[Any, float]) -> float:
    for key in (True, 1, 1.0):
        if key in probabilities:
            return float(probabilities[key])
    return 0.0
