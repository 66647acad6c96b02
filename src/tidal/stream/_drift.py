"""Concept-drift detectors: ADWIN (Bifet & Gavaldà, 2007) and the Page-Hinkley test.

Both follow River's definitions (``river.drift.ADWIN``, ``river.drift.PageHinkley``) and flag the
same rows on the same sequence (the parity tests check it). Both are sequential by nature (each
value's test depends on the state the previous one left), so ``update_many`` runs a tight loop of
plain float arithmetic over the values and returns the indices where drift was detected. ADWIN
only tests its cuts every ``clock`` values, which keeps it cheap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidal.core._errors import ParameterError
from tidal.stream._state import StateReader, as_vector


class PageHinkley:
    """Page-Hinkley: alarms when the cumulative deviation from the running mean leaves its extreme
    by more than ``threshold`` (``mode``: ``up``, ``down`` or ``both``)."""

    learner = "PageHinkley"
    MODES = ("up", "down", "both")

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0,
                 alpha: float = 1 - 0.0001, mode: str = "both") -> None:
        if mode not in self.MODES:
            raise ParameterError(f"PageHinkley 'mode' must be one of {', '.join(self.MODES)}, got {mode!r}")
        if threshold <= 0 or not 0 < alpha <= 1 or min_instances < 1:
            raise ParameterError("PageHinkley needs threshold > 0, alpha in (0, 1] and min_instances >= 1")
        self.min_instances, self.delta, self.threshold, self.alpha, self.mode = int(min_instances), float(delta), float(threshold), float(alpha), mode
        self.drift_detected = False
        self._reset()

    def _reset(self) -> None:
        self.count, self.mean = 0, 0.0
        self.sum_increase, self.sum_decrease = 0.0, 0.0
        self.min_increase, self.max_decrease = math.inf, -1.0

    def update_many(self, values: Any, *, stop_at_drift: bool = False) -> list[int]:
        """Feed values in order; the positions (within ``values``) where drift was detected. With
        ``stop_at_drift`` it stops after the first detection, leaving the later values unread."""
        found = []
        alpha, delta, threshold = self.alpha, self.delta, self.threshold
        up, down = self.mode in ("up", "both"), self.mode in ("down", "both")
        for position, value in enumerate(as_vector(values, np.size(values), where="values").tolist()):
            if self.drift_detected:
                self._reset()
                self.drift_detected = False
            self.count += 1
            self.mean += (value - self.mean) / self.count
            deviation = value - self.mean
            self.sum_increase = alpha * self.sum_increase + deviation - delta
            self.sum_decrease = alpha * self.sum_decrease + deviation + delta
            self.min_increase = min(self.min_increase, self.sum_increase)
            self.max_decrease = max(self.max_decrease, self.sum_decrease)
            if self.count >= self.min_instances:
                self.drift_detected = (up and self.sum_increase - self.min_increase > threshold) or (
                    down and self.max_decrease - self.sum_decrease > threshold)
                if self.drift_detected:
                    found.append(position)
                    if stop_at_drift:
                        break
        return found

    def update(self, value: float) -> bool:
        return bool(self.update_many([value]))

    def state(self) -> dict[str, Any]:
        return {"learner": self.learner, "min_instances": self.min_instances, "delta": self.delta, "threshold": self.threshold,
                "alpha": self.alpha, "mode": self.mode, "drift_detected": int(self.drift_detected), "count": self.count,
                "mean": self.mean, "sum_increase": self.sum_increase, "sum_decrease": self.sum_decrease,
                "min_increase": self.min_increase if math.isfinite(self.min_increase) else 1e308, "max_decrease": self.max_decrease}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PageHinkley:
        read = StateReader(state, cls.learner)
        detector = cls(read.number("min_instances", low=1, integer=True), read.number("delta"), read.number("threshold"),
                       read.number("alpha"), read.text("mode", cls.MODES))
        detector.drift_detected = bool(read.number("drift_detected", low=0, high=1, integer=True))
        detector.count = read.number("count", low=0, integer=True)
        for name in ("mean", "sum_increase", "sum_decrease", "max_decrease"):
            setattr(detector, name, read.number(name))
        low = read.number("min_increase")
        detector.min_increase = math.inf if low == 1e308 else low
        return detector


class ADWIN:
    """ADaptive WINdowing: keeps the longest recent window whose halves have no significantly
    different means, in exponential-histogram buckets (row ``h`` holds buckets of ``2**h`` values,
    at most ``max_buckets`` each); drift is when the window drops its oldest part."""

    learner = "ADWIN"

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window_length: int = 5, grace_period: int = 10) -> None:
        if not 0 < delta < 1 or clock < 1 or max_buckets < 2 or min_window_length < 1 or grace_period < 0:
            raise ParameterError("ADWIN needs delta in (0, 1), clock >= 1, max_buckets >= 2, min_window_length >= 1, grace_period >= 0")
        self.delta, self.clock, self.max_buckets = float(delta), int(clock), int(max_buckets)
        self.min_window_length, self.grace_period = int(min_window_length), int(grace_period)
        self.drift_detected = False
        self.n_detections = 0
        self._reset()

    def _reset(self) -> None:
        self.totals: list[list[float]] = [[]]  # row h, oldest bucket first
        self.variances: list[list[float]] = [[]]
        self.total = 0.0
        self.variance = 0.0
        self.width = 0.0
        self.tick = 0

    def update_many(self, values: Any, *, stop_at_drift: bool = False) -> list[int]:
        """Feed values in order; the positions where drift was detected (see ``PageHinkley.update_many``)."""
        found = []
        for position, value in enumerate(as_vector(values, np.size(values), where="values").tolist()):
            if self.drift_detected:
                self._reset()
            self.tick += 1
            self._insert(value)
            self.drift_detected = self._detect()
            if self.drift_detected:
                self.n_detections += 1
                found.append(position)
                if stop_at_drift:
                    break
        return found

    @property
    def estimation(self) -> float:
        """The mean of the values in the current window."""
        return self.total / self.width if self.width else 0.0

    def update(self, value: float) -> bool:
        return bool(self.update_many([value]))

    def _insert(self, value: float) -> None:
        self.totals[0].append(value)
        self.variances[0].append(0.0)
        self.width += 1
        if self.width > 1:
            previous = self.total / (self.width - 1)
            self.variance += (self.width - 1) * (value - previous) * (value - previous) / self.width
        self.total += value
        row = 0
        while len(self.totals[row]) == self.max_buckets + 1:  # merge the two oldest buckets of a full row
            if row + 1 == len(self.totals):
                self.totals.append([])
                self.variances.append([])
            size = 2.0**row
            first, second = self.totals[row][0], self.totals[row][1]
            gap = first / size - second / size
            merged = self.variances[row][0] + self.variances[row][1] + size * size * gap * gap / (2 * size)
            self.totals[row + 1].append(first + second)
            self.variances[row + 1].append(merged)
            del self.totals[row][:2], self.variances[row][:2]
            row += 1

    def _delete_oldest(self) -> float:
        row = len(self.totals) - 1
        size = 2.0**row
        total, variance = self.totals[row].pop(0), self.variances[row].pop(0)
        self.width -= size
        self.total -= total
        window_mean = self.total / self.width
        mean = total / size
        self.variance -= variance + size * self.width * (mean - window_mean) * (mean - window_mean) / (size + self.width)
        if not self.totals[row]:
            self.totals.pop()
            self.variances.pop()
        return size

    def _cut(self, n0: float, n1: float, gap: float) -> bool:
        delta_prime = math.log(2 * math.log(self.width) / self.delta)
        reciprocal = 1.0 / (n0 - self.min_window_length + 1) + 1.0 / (n1 - self.min_window_length + 1)
        epsilon = math.sqrt(2 * reciprocal * self.variance / self.width * delta_prime) + 2 / 3 * delta_prime * reciprocal
        return abs(gap) > epsilon

    def _detect(self) -> bool:
        if self.tick % self.clock or self.width <= self.grace_period:
            return False
        detected, shrinking = False, True
        while shrinking:
            shrinking = False
            n0, n1, u0, u1 = 0.0, self.width, 0.0, self.total
            stop = False
            for row in range(len(self.totals) - 1, -1, -1):
                if stop:
                    break
                size = 2.0**row
                buckets = self.totals[row]
                for index in range(len(buckets)):
                    n0 += size
                    n1 -= size
                    u0 += buckets[index]
                    u1 -= buckets[index]
                    if row == 0 and index == len(buckets) - 1:
                        stop = True
                        break
                    if n1 >= self.min_window_length and n0 >= self.min_window_length and self._cut(n0, n1, u0 / n0 - u1 / n1):
                        detected = shrinking = stop = True
                        if self.width > 0:
                            self._delete_oldest()
                        break
        return detected

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"learner": self.learner, "delta": self.delta, "clock": self.clock, "max_buckets": self.max_buckets,
                                 "min_window_length": self.min_window_length, "grace_period": self.grace_period,
                                 "drift_detected": int(self.drift_detected), "n_detections": self.n_detections, "total": self.total,
                                 "variance": self.variance, "width": self.width, "tick": self.tick, "rows": len(self.totals)}
        for row, (totals, variances) in enumerate(zip(self.totals, self.variances, strict=True)):
            state[f"totals_{row}"], state[f"variances_{row}"] = np.array(totals, dtype=np.float64), np.array(variances, dtype=np.float64)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ADWIN:
        read = StateReader(state, cls.learner)
        detector = cls(read.number("delta"), read.number("clock", low=1, integer=True), read.number("max_buckets", low=2, integer=True),
                       read.number("min_window_length", low=1, integer=True), read.number("grace_period", low=0, integer=True))
        detector.drift_detected = bool(read.number("drift_detected", low=0, high=1, integer=True))
        detector.n_detections = read.number("n_detections", low=0, integer=True)
        detector.tick = read.number("tick", low=0, integer=True)
        for name in ("total", "variance", "width"):
            setattr(detector, name, read.number(name))
        rows = read.number("rows", low=1, high=64, integer=True)
        detector.totals = [read.array(f"totals_{row}", (None,)).tolist() for row in range(rows)]
        detector.variances = [read.array(f"variances_{row}", (len(detector.totals[row]),)).tolist() for row in range(rows)]
        if any(len(row) > detector.max_buckets for row in detector.totals):
            raise ParameterError(f"ADWIN state holds a bucket row longer than max_buckets={detector.max_buckets}")
        return detector
