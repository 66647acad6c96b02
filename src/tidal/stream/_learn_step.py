"""The learner step of a stream job: FTRL with progressive validation and gated snapshots.

Each micro-batch is scored, then learned; the rows pass on with the probability the model gave
them before it saw them. Every ``snapshot_every`` events the step proposes a snapshot; the quality
gate compares the metric on the holdout window (the rows scored since the previous snapshot, none
of which the model had learned when it scored them) with the last accepted snapshot's, and accepts
it unless it is worse by more than ``margin``. Accepted snapshots become model packages (and
versions in the registry when the job names a model).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.stream._ftrl import FTRLLogisticRegression
from tidal.stream._operators import Operator, StepOutput, _columns, _require


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def auc(p: np.ndarray, y: np.ndarray) -> float:
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if not positives or not negatives:
        return math.nan
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class LearnFTRL(Operator):
    def __init__(self, where: str, *, label: str, features: Any, alpha: float = 0.05, beta: float = 1.0, l1: float = 0.0,
                 l2: float = 1.0, snapshot_every: int = 0, gate: str = "log_loss", margin: float = 0.01,
                 probability_column: str = "probability", warm_start: Any = None) -> None:
        super().__init__(where)
        if gate not in ("log_loss", "auc"):
            raise DataError(f"{where}: 'gate' must be log_loss or auc, got {gate!r}")
        self.features = _columns(features)
        if not self.features:
            raise DataError(f"{where}: 'features' needs the numeric feature columns")
        self.label, self.gate, self.margin, self.every, self.column = label, gate, float(margin), int(snapshot_every), probability_column
        self.learner = FTRLLogisticRegression(alpha=alpha, beta=beta, l1=l1, l2=l2)
        if warm_start is not None:
            self.learner = self._warm(warm_start, {"alpha": alpha, "beta": beta, "l1": l1, "l2": l2})
        self.window_p, self.window_y = np.zeros(0), np.zeros(0)
        self.accepted: float | None = None
        self.snapshots = 0
        self.proposed: list[dict[str, Any]] = []  # filled by process, taken by the runner

    def _warm(self, package: Any, params: dict[str, float]) -> FTRLLogisticRegression:
        """The learner a model package starts: a binary logistic regression's weights and scaling, or an FTRL model's
        state; the step then reads the features in the model's order."""
        where = f"{self.where}: parameter 'warm_start'"
        if package.flavor == "stream":
            from tidal.stream._learners import restore

            learner = restore(package.model.learner.state())
            if not isinstance(learner, FTRLLogisticRegression):
                raise DataError(f"{where} holds a {type(learner).__name__}; an FTRL model or a binary logistic regression is needed")
        else:
            learner = FTRLLogisticRegression.from_batch_model(package, **params)
        features = [str(name) for name in package.features]
        if sorted(features) != sorted(self.features):
            raise DataError(f"{where}: the model reads features {features}, the step {self.features}; "
                            "give the step the model's features")
        classes = package.classes
        if classes is not None and list(classes) != [0, 1]:
            raise DataError(f"{where}: the model's classes are {classes}; this step learns a 0/1 label")
        self.features = features
        learner.features = features
        return learner

    def process(self, frame: pd.DataFrame) -> StepOutput:
        self.proposed = []
        if frame.empty:
            return StepOutput(frame)
        _require(frame, [*self.features, self.label], self.where)
        X = frame[self.features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        y = pd.to_numeric(frame[self.label], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(X).all(axis=1) | ~np.isin(y, (0.0, 1.0))
        good = ~bad
        X, y = X[good], y[good]
        p = self.learner.predict_proba(X)[:, 1] if self.learner.n_features else np.full(len(X), 0.5)
        if len(X):
            self.learner.learn(X, y)
        out = frame[good].reset_index(drop=True)
        out[self.column] = p
        self.window_p, self.window_y = np.concatenate([self.window_p, p]), np.concatenate([self.window_y, y])
        if self.every and len(self.window_y) >= self.every:
            self._propose()
        return StepOutput(out, frame[bad] if bad.any() else None,
                          f"label not 0/1 or a feature not a finite number (features: {', '.join(self.features)})")

    def _propose(self) -> None:
        value = log_loss(self.window_p, self.window_y) if self.gate == "log_loss" else auc(self.window_p, self.window_y)
        if self.accepted is None or math.isnan(self.accepted):
            accepted, why = True, "first snapshot"
        elif self.gate == "log_loss":
            accepted = value <= self.accepted + self.margin
            why = f"log loss {value:.5f} vs {self.accepted:.5f} accepted before (margin {self.margin})"
        else:
            accepted = not math.isnan(value) and value >= self.accepted - self.margin
            why = f"AUC {value:.5f} vs {self.accepted:.5f} accepted before (margin {self.margin})"
        self.snapshots += 1
        self.proposed.append({"index": self.snapshots, "accepted": bool(accepted), "metric": self.gate, "value": value,
                              "reason": why, "rows": len(self.window_y), "n_seen": self.learner.n_seen,
                              "state": self.learner.state() if accepted else None})
        if accepted:
            self.accepted = value
        self.window_p, self.window_y = np.zeros(0), np.zeros(0)

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner.state(), "window_p": self.window_p, "window_y": self.window_y,
                "accepted": math.nan if self.accepted is None else self.accepted, "snapshots": self.snapshots}

    def load(self, state: dict[str, Any]) -> None:
        self.learner = FTRLLogisticRegression.from_state(state["learner"])
        self.window_p, self.window_y = np.asarray(state["window_p"]), np.asarray(state["window_y"])
        accepted = float(state["accepted"])
        self.accepted = None if math.isnan(accepted) else accepted
        self.snapshots = int(state["snapshots"])
