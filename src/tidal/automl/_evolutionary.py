"""PAI-AutoML's evolutionary optimizer.

Round 0 evaluates ``candidates`` (A) random points. After each round the best ``keep`` (N)
trials survive, N halving every round (N, N/2, N/4 ... at least 1); the rest of the next
population are new candidates drawn around the survivors, each coordinate within ``radius`` (R)
standard deviations of the survivors' spread (measured in the space's unit coordinates). The
search runs ``rounds`` (M) rounds or until the budget is spent. Survivors are never re-evaluated,
so round r costs A - N_r trials. Every trial records its round and the survivor it came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidal.automl._records import TrialRecord
from tidal.automl._space import SearchSpace
from tidal.automl._strategy import BaseStrategy, Suggestion, trial_rng

#: the smallest spread (unit coordinates) new candidates are drawn with, so the search never freezes
MIN_SPREAD = 0.05


class EvolutionarySearch(BaseStrategy):
    name = "evolutionary"

    def __init__(
        self,
        space: SearchSpace,
        *,
        candidates: int | None = None,
        rounds: int | None = None,
        keep: int | None = None,
        radius: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        self.candidates = int(candidates or max(4, min(20, self.budget // 3)))
        self.keep = int(keep or max(1, self.candidates // 2))
        if not 1 <= self.keep < self.candidates:
            raise ValueError(f"keep ({self.keep}) must be at least 1 and below candidates ({self.candidates})")
        self.radius = float(radius)
        self.rounds = int(rounds) if rounds else self._rounds_for_budget()
        self.plans: dict[int, list[Suggestion]] = {}
        self.members: dict[int, list[int]] = {}
        self.current = 0

    # -- sizes ---------------------------------------------------------------------------------
    def survivors_entering(self, round_index: int) -> int:
        return max(1, self.keep >> (round_index - 1)) if round_index > 0 else 0

    def round_size(self, round_index: int) -> int:
        return self.candidates - self.survivors_entering(round_index)

    def _rounds_for_budget(self) -> int:
        total, rounds = self.candidates, 1
        while rounds < 100 and total + self.round_size(rounds) <= self.budget:
            total += self.round_size(rounds)
            rounds += 1
        if total < self.budget and rounds < 100:
            rounds += 1  # a last, partial round spends what is left
        return rounds

    @property
    def done(self) -> bool:
        if self.asked >= self.budget:
            return True
        if self.current >= self.rounds - 1:
            plan = self.plans.get(self.current)
            return plan is not None and len(self.members.get(self.current, [])) >= len(plan)
        return False

    # -- asking ----------------------------------------------------------------------------------
    def ask(self) -> Suggestion | None:
        if self.asked >= self.budget:
            return None
        plan = self._plan(self.current)
        members = self.members.setdefault(self.current, [])
        if len(members) >= len(plan):
            if not self._round_told(self.current) or self.current + 1 >= self.rounds:
                return None
            self.current += 1
            plan = self._plan(self.current)
            members = self.members.setdefault(self.current, [])
        suggestion = plan[len(members)]
        members.append(self.asked)
        self.asked += 1
        return suggestion

    def _round_told(self, round_index: int) -> bool:
        return all(number in self.told for number in self.members.get(round_index, []))

    def survivors(self, round_index: int) -> list[TrialRecord]:
        """The best trials told so far, as many as survive into ``round_index``."""
        ranked = sorted(self.told.values(), key=lambda trial: (-self.score(trial), trial.number))
        return ranked[: self.survivors_entering(round_index)]

    def _plan(self, round_index: int) -> list[Suggestion]:
        if round_index in self.plans:
            return self.plans[round_index]
        rng = trial_rng(self.seed, 7919, round_index)
        if round_index == 0:
            plan = [Suggestion(self.space.sample(rng), {"round": 0, "origin": "random"}) for _ in range(self.candidates)]
        else:
            plan = self._offspring(round_index, rng)
        self.plans[round_index] = plan
        return plan

    def _offspring(self, round_index: int, rng: np.random.Generator) -> list[Suggestion]:
        survivors = self.survivors(round_index)
        units = np.array([self.space.to_unit(trial.params) for trial in survivors])
        spread = np.maximum(units.std(axis=0) if len(units) > 1 else np.full(len(self.space), 0.15), MIN_SPREAD)
        plan = []
        for index in range(self.round_size(round_index)):
            parent = survivors[index % len(survivors)]
            offsets = np.clip(rng.standard_normal(len(self.space)), -self.radius, self.radius) * spread
            child = np.clip(self.space.to_unit(parent.params) + offsets, 0.0, 1.0)
            full = {dimension.name: dimension.from_unit(unit) for dimension, unit in zip(self.space, child, strict=True)}
            for dimension in self.space:
                resample = rng.uniform() < 0.25
                if dimension.kind == "choice" and resample:
                    full[dimension.name] = dimension.values[int(rng.integers(len(dimension.values)))]
            params = self.space.active(full)
            plan.append(Suggestion(params, {"round": round_index, "parent": parent.number, "origin": "offspring",
                                            "survivors": [trial.number for trial in survivors]}))
        return plan

    # -- resuming ------------------------------------------------------------------------------------
    def restore(self, trials: list[TrialRecord]) -> None:
        self.asked = max((trial.number + 1 for trial in trials), default=0)
        for trial in trials:
            if trial.finished:
                self.told[trial.number] = trial
        by_round: dict[int, list[int]] = {}
        for trial in sorted(trials, key=lambda item: item.number):
            by_round.setdefault(int(trial.meta.get("round", 0)), []).append(trial.number)
        self.members = by_round
        self.current = max(by_round, default=0)
        # plans are rebuilt in order: each depends only on the trials told before it was drawn
        told_now = self.told
        for round_index in range(self.current + 1):
            self.told = {n: t for n, t in told_now.items() if any(n in by_round.get(r, []) for r in range(round_index))}
            self._plan(round_index)
        self.told = told_now

    def describe(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "keep": self.keep, "rounds": self.rounds, "radius": self.radius,
                "round_sizes": [self.round_size(r) if r else self.candidates for r in range(self.rounds)]}
