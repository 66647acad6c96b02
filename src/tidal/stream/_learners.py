"""The registry of stream learners by name, and ``restore`` that rebuilds any of them from a state."""

from __future__ import annotations

from typing import Any

from tidal.stream._drift import ADWIN, PageHinkley
from tidal.stream._encoding import FeatureHasher, OnlineStandardScaler
from tidal.stream._ftrl import FTRLLogisticRegression
from tidal.stream._kmeans import StreamingKMeans
from tidal.stream._linear import OnlineLinearRegression
from tidal.stream._naive_bayes import OnlineGaussianNB
from tidal.stream._river import RiverEstimator
from tidal.stream._state import StateError
from tidal.stream._stats import StreamingStats

#: every learner whose state ``restore`` accepts without trust (RiverEstimator needs it: a pickle)
LEARNERS: dict[str, Any] = {cls.learner: cls for cls in (
    FTRLLogisticRegression, OnlineLinearRegression, StreamingKMeans, OnlineGaussianNB, OnlineStandardScaler,
    FeatureHasher, StreamingStats, ADWIN, PageHinkley)}


def restore(state: Any, *, trust: bool = False, where: str = "a learner state") -> Any:
    """The learner a ``state()`` dict came from; a pickled River estimator only with ``trust``."""
    if not isinstance(state, dict):
        raise StateError(f"{where}: a learner state must be a dict, got {type(state).__name__}")
    name = state.get("learner")
    name = str(name) if name is not None else ""
    if name == RiverEstimator.learner:
        return RiverEstimator.from_state(state, trust=trust, where=where)
    if name == "DriftAdaptive":
        from tidal.stream._adaptive import DriftAdaptive

        return DriftAdaptive.from_state(state)
    if name not in LEARNERS:
        raise StateError(f"{where}: unknown learner {name!r}; known: {', '.join(sorted([*LEARNERS, 'DriftAdaptive', 'RiverEstimator']))}")
    return LEARNERS[name].from_state(state)
