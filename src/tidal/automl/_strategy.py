"""The ask/tell interface every search strategy implements, and the two simplest: grid and random.

A strategy never runs anything. The study controller asks it for the next parameters, runs the
trial on an executor, and tells it the result::

    suggestion = strategy.ask()      # a Suggestion, or None: "wait for running trials first"
    ...
    strategy.tell(trial)             # a finished TrialRecord (succeeded, failed, pruned, timeout)

``restore(trials)`` rebuilds a strategy's state from a study's recorded trials after a crash;
strategies are deterministic given their seed and the trials told, so a resumed study asks the
same questions it would have asked. ``done`` is true when the strategy has nothing left to ask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tidal.automl._records import TrialRecord
from tidal.automl._space import SearchSpace

DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class Suggestion:
    """What a strategy wants evaluated: parameters plus bookkeeping (round, generation, parent, steps...)."""

    params: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


class Strategy(Protocol):
    """The seam between the study controller and a search algorithm."""

    name: str

    @property
    def done(self) -> bool:
        """True when nothing is left to ask."""

    def ask(self) -> Suggestion | None:
        """The next trial to run, or None to wait until running trials are told."""

    def tell(self, trial: TrialRecord) -> None:
        """A trial finished (any terminal status)."""

    def restore(self, trials: list[TrialRecord]) -> None:
        """Rebuild state from recorded trials (finished and still-running ones) of a resumed study."""


def score_of(trial: TrialRecord, direction: str) -> float:
    """Higher is better whatever the direction; failed trials score minus infinity."""
    if trial.status != "succeeded" or trial.value is None or not math.isfinite(trial.value):
        return -math.inf
    return float(trial.value) if direction == "maximize" else -float(trial.value)


def trial_rng(seed: int, *keys: int) -> np.random.Generator:
    """A random stream that depends only on the seed and the keys (trial number, round...)."""
    return np.random.default_rng([int(seed), *[int(key) for key in keys]])


class BaseStrategy:
    """Shared bookkeeping: budget, direction, seed, the count of questions asked."""

    name = "base"

    def __init__(self, space: SearchSpace, *, direction: str = "maximize", budget: int = 20, seed: int = 0) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be maximize or minimize, not {direction!r}")
        self.space = space
        self.direction = direction
        self.budget = int(budget)
        self.seed = int(seed)
        self.asked = 0
        self.told: dict[int, TrialRecord] = {}

    @property
    def done(self) -> bool:
        return self.asked >= self.budget

    def tell(self, trial: TrialRecord) -> None:
        self.told[trial.number] = trial

    def restore(self, trials: list[TrialRecord]) -> None:
        self.asked = max((trial.number + 1 for trial in trials), default=0)
        for trial in trials:
            if trial.finished:
                self.tell(trial)

    def score(self, trial: TrialRecord) -> float:
        return score_of(trial, self.direction)


class RandomSearch(BaseStrategy):
    """Independent draws from the space; trial ``n`` always gets the same draw for a given seed."""

    name = "random"

    def ask(self) -> Suggestion | None:
        if self.done:
            return None
        params = self.space.sample(trial_rng(self.seed, self.asked))
        self.asked += 1
        return Suggestion(params)


class GridSearch(BaseStrategy):
    """Every combination of a grid sized to the budget (choices take all their values)."""

    name = "grid"

    def __init__(self, space: SearchSpace, **options: Any) -> None:
        super().__init__(space, **options)
        self.points = space.grid(self.budget)

    @property
    def done(self) -> bool:
        return self.asked >= min(self.budget, len(self.points))

    def ask(self) -> Suggestion | None:
        if self.done:
            return None
        params = self.points[self.asked]
        self.asked += 1
        return Suggestion(dict(params), {"grid_index": self.asked - 1, "grid_size": len(self.points)})
