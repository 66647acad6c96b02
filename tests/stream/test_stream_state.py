"""The checkpoint contract: learn A, checkpoint, restore, learn B equals learning A then B, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tidal.stream import (
    ADWIN,
    DriftAdaptive,
    FeatureHasher,
    FTRLLogisticRegression,
    OnlineGaussianNB,
    OnlineLinearRegression,
    OnlineStandardScaler,
    PageHinkley,
    StreamingKMeans,
    StreamingStats,
    restore,
)

rng = np.random.default_rng(7)
X = rng.normal(size=(1200, 4))
Y_BINARY = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=1200) > 0).astype(float)
Y_REAL = X @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=1200)

LEARNERS: dict[str, tuple[Callable[[], Any], np.ndarray | None]] = {
    "ftrl-batch": (lambda: FTRLLogisticRegression(alpha=0.3, l1=0.1), Y_BINARY),
    "ftrl-sample": (lambda: FTRLLogisticRegression(alpha=0.3, mode="sample", intercept_lr=0.01), Y_BINARY),
    "ftrl-river": (lambda: FTRLLogisticRegression(alpha=0.3, mode="river", intercept_lr=0.01), Y_BINARY),
    "linear": (lambda: OnlineLinearRegression(forgetting=0.999), Y_REAL),
    "kmeans": (lambda: StreamingKMeans(3, decay=0.9), None),
    "naive-bayes": (lambda: OnlineGaussianNB(classes=[0, 1]), Y_BINARY),
    "scaler": (lambda: OnlineStandardScaler(), None),
    "stats": (lambda: StreamingStats(capacity=64, bin_edges=[-1.0, 0.0, 1.0]), None),
    "adaptive": (lambda: DriftAdaptive(FTRLLogisticRegression(alpha=0.3), ADWIN(delta=0.5, clock=4)), Y_BINARY),
}


def _feed(learner: Any, rows: slice, target: np.ndarray | None) -> Any:
    for start in range(rows.start, rows.stop, 100):
        batch = slice(start, min(start + 100, rows.stop))
        learner.learn(X[batch], None if target is None else target[batch])
    return learner


def _same_state(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key in left:
        if isinstance(left[key], np.ndarray):
            assert left[key].dtype == right[key].dtype and left[key].tobytes() == right[key].tobytes(), key
        else:
            assert left[key] == right[key], key


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_restored_learner_continues_bit_identically(name: str) -> None:
    make, target = LEARNERS[name]
    uninterrupted = _feed(_feed(make(), slice(0, 600), target), slice(600, 1200), target)
    checkpoint = _feed(make(), slice(0, 600), target).state()
    resumed = _feed(restore(checkpoint), slice(600, 1200), target)
    _same_state(uninterrupted.state(), resumed.state())
    assert type(resumed) is type(uninterrupted)


def test_detectors_and_hasher_restore_bit_identically() -> None:
    values = np.concatenate([rng.normal(0, 1, 1500), rng.normal(2, 1, 1500)])
    for make in (ADWIN, PageHinkley):
        whole = make()
        expected = whole.update_many(values)
        first = make()
        found = first.update_many(values[:1000])
        resumed = make.from_state(first.state())
        later = [1000 + index for index in resumed.update_many(values[1000:])]
        assert found + later == expected
        _same_state(resumed.state(), whole.state())
    hasher = FeatureHasher(32, alternate_sign=False)
    assert restore(hasher.state()).state() == hasher.state()


def test_adaptive_learner_records_drift_and_resets() -> None:
    rows = 4000
    features = rng.normal(size=(rows, 3))
    labels = (features[:, 0] > 0).astype(float)
    labels[rows // 2:] = 1 - labels[rows // 2:]  # the concept flips half-way
    adaptive = DriftAdaptive(FTRLLogisticRegression(alpha=0.5), ADWIN())
    for start in range(0, rows, 200):
        adaptive.learn(features[start:start + 200], labels[start:start + 200])
    assert adaptive.drifts and rows // 2 <= adaptive.drifts[0] < rows // 2 + 400, (adaptive.drifts, adaptive.improvements)
    tail = slice(rows - 500, rows)
    accuracy = (adaptive.predict(features[tail]) == labels[tail]).mean()
    assert accuracy > 0.9
