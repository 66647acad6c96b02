"""Streaming statistics per column: count, mean, variance, min, max (exact), quantiles (a sketch)
and histograms.

Mean and variance are merged batch by batch with Chan's parallel formula, so they equal the
two-pass figures over every row seen to rounding. Quantiles come from a compactor sketch (the
scheme of KLL and of Manku-Rajagopalan-Lindsay, here with equal capacities and alternating
offsets, written for numpy: a batch is appended, and a full level is sorted and every other item
promoted, with double weight, to the level above). Each compaction at level ``h`` moves any rank
by at most ``2**h``, and level ``h`` compacts at most ``n / (capacity 2**h)`` times, so the rank
error of any quantile is at most ``levels * n / (capacity - 1)``: with the default capacity 2048
and a million rows (9 levels) that bound is 0.44% of the rows; the errors of successive compactions
mostly cancel, and the test measures well under a tenth of the bound.

River's ``stats.Quantile`` (the P² algorithm) tracks one quantile per instance, sample by sample,
with no error bound, and cannot be merged; hence this sketch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidal.core._errors import ParameterError
from tidal.stream._encoding import chan_merge
from tidal.stream._state import StateReader, as_matrix


class QuantileSketch:
    """Mergeable quantile sketch of one column (see the module docstring for its error bound)."""

    def __init__(self, capacity: int = 2048) -> None:
        if capacity < 8:
            raise ParameterError(f"quantile sketch 'capacity' must be at least 8, got {capacity}")
        self.capacity = int(capacity)
        self.levels: list[np.ndarray] = [np.zeros(0)]
        self.offsets: list[int] = [0]
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        self.levels[0] = np.concatenate([self.levels[0], values])
        self.count += values.size
        height = 0
        while height < len(self.levels):
            level = self.levels[height]
            if level.size >= self.capacity:
                level = np.sort(level)
                kept = level[level.size - level.size % 2:]  # an odd item out stays
                paired = level[: level.size - level.size % 2]
                promoted = paired[self.offsets[height]::2]
                self.offsets[height] ^= 1
                self.levels[height] = kept
                if height + 1 == len(self.levels):
                    self.levels.append(np.zeros(0))
                    self.offsets.append(0)
                self.levels[height + 1] = np.concatenate([self.levels[height + 1], promoted])
            height += 1

    def error_bound(self) -> float:
        """The most a quantile's rank can be off, as a fraction of the rows seen."""
        return (len(self.levels) - 1) / (self.capacity - 1) if self.count else 0.0

    def _weighted(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.concatenate(self.levels)
        weights = np.concatenate([np.full(level.size, 2.0**height) for height, level in enumerate(self.levels)])
        order = np.argsort(values, kind="stable")
        return values[order], np.cumsum(weights[order])

    def quantile(self, q: Any) -> np.ndarray:
        if not self.count:
            return np.full(np.shape(q), np.nan)
        values, cumulative = self._weighted()
        ranks = np.asarray(q, dtype=np.float64) * cumulative[-1]
        index = np.minimum(np.searchsorted(cumulative, ranks, side="left"), values.size - 1)
        return values[index]  # type: ignore[no-any-return]

    def rank(self, points: Any) -> np.ndarray:
        """Estimated number of rows <= each point."""
        if not self.count:
            return np.zeros(np.shape(points))
        values, cumulative = self._weighted()
        index = np.searchsorted(values, np.asarray(points, dtype=np.float64), side="right")
        return np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0) * (self.count / cumulative[-1])  # type: ignore[no-any-return]


class StreamingStats:
    """Per-column statistics of a stream of numeric micro-batches.

    >>> import numpy as np
    >>> stats = StreamingStats().learn(np.arange(1000.0).reshape(-1, 1))
    >>> stats.mean.tolist(), float(stats.quantile(0.5)[0])
    ([499.5], 499.0)
    """

    learner = "StreamingStats"

    def __init__(self, *, capacity: int = 2048, bin_edges: Any = None) -> None:
        self.capacity = int(capacity)
        QuantileSketch(self.capacity)  # checks the capacity
        self.bin_edges = None if bin_edges is None else np.asarray(bin_edges, dtype=np.float64)
        if self.bin_edges is not None and (self.bin_edges.ndim != 1 or self.bin_edges.size < 2 or (np.diff(self.bin_edges) <= 0).any()):
            raise ParameterError("StreamingStats 'bin_edges' must be at least two increasing numbers")
        self.count = np.zeros(0)
        self.mean = np.zeros(0)
        self.squares = np.zeros(0)
        self.minimum = np.zeros(0)
        self.maximum = np.zeros(0)
        self.sketches: list[QuantileSketch] = []
        self.bin_counts = np.zeros((0, 0))

    def learn(self, X: Any, y: Any = None) -> StreamingStats:
        inputs = as_matrix(X, n_features=self.mean.size or None)
        columns = inputs.shape[1]
        if not self.mean.size:
            self.count, self.mean, self.squares = np.zeros(columns), np.zeros(columns), np.zeros(columns)
            self.minimum, self.maximum = np.full(columns, np.inf), np.full(columns, -np.inf)
            self.sketches = [QuantileSketch(self.capacity) for _ in range(columns)]
            if self.bin_edges is not None:
                self.bin_counts = np.zeros((columns, self.bin_edges.size + 1))
        if not inputs.shape[0]:
            return self
        self.count, self.mean, self.squares = chan_merge(self.count, self.mean, self.squares, inputs)
        self.minimum = np.minimum(self.minimum, inputs.min(axis=0))
        self.maximum = np.maximum(self.maximum, inputs.max(axis=0))
        for column, sketch in enumerate(self.sketches):
            sketch.add(inputs[:, column])
        if self.bin_edges is not None:  # bin 0: below the first edge; the last: at or above the last edge
            slots = np.searchsorted(self.bin_edges, inputs, side="right")
            for column in range(columns):
                self.bin_counts[column] += np.bincount(slots[:, column], minlength=self.bin_edges.size + 1)
        return self

    def variance(self, ddof: int = 0) -> np.ndarray:
        return self.squares / np.maximum(self.count - ddof, 1)  # type: ignore[no-any-return]

    def quantile(self, q: Any) -> np.ndarray:
        """One row per quantile in ``q`` (or one value per column for a single ``q``)."""
        return np.array([sketch.quantile(q) for sketch in self.sketches]).T

    def histogram(self, column: int, bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Edges and counts. Without ``bins``, the fixed ``bin_edges`` when given: exact counts, with
        under- and overflow bins first and last. Otherwise ``bins`` (default 10) adaptive equal-width
        bins between the column's minimum and maximum so far, with counts estimated from the sketch
        (each within twice the sketch's rank error bound)."""
        if bins is None and self.bin_edges is not None:
            return self.bin_edges.copy(), self.bin_counts[column].copy()
        edges = np.linspace(self.minimum[column], self.maximum[column], (bins or 10) + 1)
        ranks = self.sketches[column].rank(edges[1:])
        ranks[-1] = self.count[column]
        return edges, np.diff(np.concatenate([[0.0], ranks]))

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"learner": self.learner, "capacity": self.capacity, "count": self.count.copy(),
                                 "mean": self.mean.copy(), "squares": self.squares.copy(), "minimum": self.minimum.copy(),
                                 "maximum": self.maximum.copy(), "bin_edges": np.zeros(0) if self.bin_edges is None else self.bin_edges.copy(),
                                 "bin_counts": self.bin_counts.copy()}
        for column, sketch in enumerate(self.sketches):
            state[f"sketch_{column}_count"] = sketch.count
            state[f"sketch_{column}_offsets"] = np.array(sketch.offsets, dtype=np.int64)
            for height, level in enumerate(sketch.levels):
                state[f"sketch_{column}_level_{height}"] = level.copy()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingStats:
        read = StateReader(state, cls.learner)
        edges = read.array("bin_edges", (None,))
        stats = cls(capacity=read.number("capacity", low=8, high=10**8, integer=True), bin_edges=edges if edges.size else None)
        stats.count = read.array("count", (None,), nonnegative=True)
        columns = stats.count.size
        stats.mean, stats.squares = read.array("mean", (columns,)), read.array("squares", (columns,), nonnegative=True)
        stats.minimum = read.array("minimum", (columns,), finite=False)
        stats.maximum = read.array("maximum", (columns,), finite=False)
        stats.bin_counts = read.array("bin_counts", (columns, edges.size + 1) if edges.size and columns else (None, None), nonnegative=True)
        for column in range(columns):
            sketch = QuantileSketch(stats.capacity)
            sketch.count = read.number(f"sketch_{column}_count", low=0, integer=True)
            offsets = read.array(f"sketch_{column}_offsets", (None,), dtype="int64")
            if offsets.size > 64 or not np.isin(offsets, (0, 1)).all():
                raise ParameterError(f"StreamingStats state entry 'sketch_{column}_offsets' must hold at most 64 zeros and ones")
            sketch.offsets = offsets.tolist()
            sketch.levels = [read.array(f"sketch_{column}_level_{height}", (None,)) for height in range(offsets.size)]
            stats.sketches.append(sketch)
        return stats
