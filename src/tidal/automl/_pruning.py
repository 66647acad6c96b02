"""Early stopping for iterative trainers: the median rule and successive halving.

A pruner looks at a running trial's intermediate value at a step and at the values other
trials reached at the same step, and says whether to stop it. Values are scores (higher is
better): the study negates minimized metrics before asking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from tidal.core._errors import TidalError


class Pruner(Protocol):
    def should_stop(self, step: int, score: float, others: list[float]) -> bool:
        """``others``: what finished trials scored at ``step``."""


@dataclass(frozen=True)
class MedianRule:
    """Stop when the score is below the median of other trials at the same step (after warm-up)."""

    min_trials: int = 3
    warmup_steps: int = 0

    def should_stop(self, step: int, score: float, others: list[float]) -> bool:
        finite = sorted(value for value in others if math.isfinite(value))
        if step < self.warmup_steps or len(finite) < self.min_trials:
            return False
        middle = len(finite) // 2
        median = finite[middle] if len(finite) % 2 else (finite[middle - 1] + finite[middle]) / 2
        return score < median


@dataclass(frozen=True)
class SuccessiveHalving:
    """Keep a trial past a rung only if it is in the top 1/``reduction`` of the trials that reached it."""

    reduction: int = 3
    min_trials: int = 2

    def should_stop(self, step: int, score: float, others: list[float]) -> bool:
        finite = sorted((value for value in others if math.isfinite(value)), reverse=True)
        if len(finite) < self.min_trials:
            return False
        keep = max(1, len(finite) // self.reduction)
        return score < finite[keep - 1]


def make_pruner(config: dict[str, Any] | None) -> Pruner | None:
    if not config:
        return None
    options = {key: value for key, value in config.items() if key != "type"}
    kind = config.get("type", "median")
    if kind == "median":
        return MedianRule(**options)
    if kind in ("halving", "successive_halving"):
        return SuccessiveHalving(**options)
    raise TidalError(f"unknown pruner {kind!r}; choose median or successive_halving")
