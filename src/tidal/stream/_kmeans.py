"""Streaming k-means with forgetting, as Spark MLlib's ``StreamingKMeans`` defines it.

For each micro-batch every row joins its nearest centre; then each centre ``c`` with weight ``n``
that received ``m`` rows with mean ``x̄`` moves to ``(c·n·a + x̄·m) / (n·a + m)`` and its weight
becomes ``n·a + m``, where ``a = decay`` (1: every row counts forever; 0: only the last batch).
All of it is a few vectorised numpy operations per batch. When a centre's weight falls below
1e-8 of the largest, Spark's rule applies: it is replaced by splitting the largest centre in two
(moved apart by 1e-14 relative, each with half its weight).

Centres start from the first ``k`` distinct rows seen (or a batch k-means model, see
``from_batch_model``), so a run is deterministic; when the first rows all come from one cluster,
two centres can share it for a long time, so warm-start from a batch k-means when you can.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidal.core._errors import ParameterError
from tidal.stream._state import StateReader, as_matrix


class StreamingKMeans:
    """Mini-batch k-means with decay over a stream.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.empty((600, 2)); X[0::2], X[1::2] = rng.normal(0, 0.1, (300, 2)), rng.normal(5, 0.1, (300, 2))
    >>> learner = StreamingKMeans(k=2)
    >>> for start in range(0, 600, 100):
    ...     learner = learner.learn(X[start:start + 100])
    >>> sorted(np.round(learner.centers[:, 0]).astype(int).tolist())
    [0, 5]
    """

    learner = "StreamingKMeans"

    def __init__(self, k: int = 2, *, decay: float = 1.0, center: Any = None, scale: Any = None) -> None:
        if int(k) < 1:
            raise ParameterError(f"StreamingKMeans 'k' must be at least 1, got {k}")
        if not 0 <= decay <= 1:
            raise ParameterError(f"StreamingKMeans 'decay' must lie in [0, 1], got {decay}")
        self.k, self.decay = int(k), float(decay)
        self.center = None if center is None else np.asarray(center, dtype=np.float64).copy()
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64).copy()
        self.centers = np.zeros((0, 0))
        self.counts = np.zeros(0)
        self.n_seen = 0
        self.features: list[str] | None = None

    def _inputs(self, X: Any) -> np.ndarray:
        array = as_matrix(X, n_features=self.centers.shape[1] if self.centers.size else None)
        if self.center is not None:
            array = array - self.center
        if self.scale is not None:
            array = array / self.scale
        return array

    def _nearest(self, inputs: np.ndarray) -> np.ndarray:
        distances = (inputs * inputs).sum(axis=1)[:, None] - 2 * inputs @ self.centers.T + (self.centers * self.centers).sum(axis=1)
        return distances.argmin(axis=1)  # type: ignore[no-any-return]

    def predict(self, X: Any) -> np.ndarray:
        if len(self.centers) < self.k:
            raise ParameterError(f"StreamingKMeans has {len(self.centers)} of its {self.k} centres; let it learn from more distinct rows first")
        return self._nearest(self._inputs(X)).astype(np.int64)

    def learn(self, X: Any, y: Any = None) -> StreamingKMeans:
        inputs = self._inputs(X)
        self.n_seen += inputs.shape[0]
        if len(self.centers) < self.k:
            inputs = self._seed(inputs)
            if not inputs.size:
                return self
        nearest = self._nearest(inputs)
        received = np.bincount(nearest, minlength=self.k).astype(np.float64)
        sums = np.zeros_like(self.centers)
        np.add.at(sums, nearest, inputs)
        faded = self.counts * self.decay
        total = faded + received
        moved = total > 0
        self.centers[moved] = (self.centers[moved] * faded[moved, None] + sums[moved]) / total[moved, None]
        self.counts = total
        self._split_dying()
        return self

    def _seed(self, inputs: np.ndarray) -> np.ndarray:
        """Take the first distinct rows as the missing centres; returns the rows left to learn from."""
        centers = list(self.centers) if self.centers.size else []
        used = 0
        for row in inputs:
            if len(centers) == self.k:
                break
            used += 1
            if not any(np.array_equal(row, seen) for seen in centers):
                centers.append(row.copy())
        self.centers = np.array(centers)
        self.counts = np.append(self.counts, np.ones(len(centers) - len(self.counts)))
        return inputs[used:] if len(centers) == self.k else inputs[:0]

    def _split_dying(self) -> None:
        largest = int(self.counts.argmax())
        dying = np.flatnonzero(self.counts < 1e-8 * self.counts[largest])
        for index in dying:
            largest = int(self.counts.argmax())
            weight = self.counts[largest] / 2
            centre = self.centers[largest]
            self.centers[index] = centre * (1 + 1e-14) + 1e-14 * (centre == 0)
            self.centers[largest] = centre * (1 - 1e-14)
            self.counts[index] = self.counts[largest] = weight

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner, "k": self.k, "decay": self.decay, "n_seen": self.n_seen,
                "centers": self.centers.copy(), "counts": self.counts.copy(),
                "center": np.zeros(0) if self.center is None else self.center.copy(),
                "scale": np.zeros(0) if self.scale is None else self.scale.copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingKMeans:
        read = StateReader(state, cls.learner)
        k = read.number("k", low=1, high=10**6, integer=True)
        centers = read.array("centers", (None, None))
        if centers.size and centers.shape[0] > k:
            raise ParameterError(f"StreamingKMeans state holds {centers.shape[0]} centres for k={k}")
        features = centers.shape[1] if centers.size else None
        learner = cls(k, decay=read.number("decay", low=0, high=1),
                      center=read.optional_array("center", (features,)) if features else None,
                      scale=read.optional_array("scale", (features,)) if features else None)
        learner.centers = centers
        learner.counts = read.array("counts", (centers.shape[0],), nonnegative=True)
        learner.n_seen = read.number("n_seen", low=0, integer=True)
        return learner

    @classmethod
    def from_batch_model(cls, model: Any, *, decay: float = 1.0) -> StreamingKMeans:
        """Start from a fitted k-means (``clustering.kmeans`` package or scikit-learn ``KMeans``): same
        centres, each weighted by the rows the batch model gave it; first assignments equal the batch model's."""
        from tidal.stream._warm_start import kmeans_parts

        centres, center, scale, features, counts = kmeans_parts(model)
        learner = cls(len(centres), decay=decay, center=center, scale=scale)
        learner.centers = centres
        learner.counts = np.ones(len(centres)) if counts is None else counts
        learner.features = features
        return learner
