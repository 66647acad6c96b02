"""Population-based training (Jaderberg et al. 2017) for iterative trainers.

A population of ``population`` members trains in generations of ``steps`` steps each. After a
generation, members in the bottom ``quantile`` copy the checkpoint of a member in the top
quantile (exploit) and perturb its parameters by ``perturb`` factors or, with probability
``resample``, draw them afresh (explore); the others continue from their own checkpoint. Each
generation of each member is one trial; its meta records ``member``, ``generation``, ``parent``
(the trial whose checkpoint it continues) and ``exploited``. The budget is population ×
generations trials.
"""

from __future__ import annotations

import math
from typing import Any

from tidal.automl._records import TrialRecord
from tidal.automl._space import SearchSpace
from tidal.automl._strategy import BaseStrategy, Suggestion, trial_rng


class PopulationBasedTraining(BaseStrategy):
    name = "pbt"
    iterative = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        population: int | None = None,
        steps: int = 10,
        quantile: float = 0.25,
        perturb: tuple[float, float] = (0.8, 1.2),
        resample: float = 0.25,
        fixed: tuple[str, ...] = (),
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        self.population = int(population or max(2, min(8, self.budget // 4)))
        self.generations = max(1, self.budget // self.population)
        self.budget = self.population * self.generations
        self.steps = int(steps)
        self.quantile = float(quantile)
        self.perturb = tuple(float(factor) for factor in perturb)
        self.resample = float(resample)
        self.fixed = tuple(fixed)
        self.plans: dict[int, list[Suggestion]] = {}

    def _generation_numbers(self, generation: int) -> range:
        start = generation * self.population
        return range(start, start + self.population)

    @property
    def done(self) -> bool:
        return self.asked >= self.budget

    def ask(self) -> Suggestion | None:
        if self.done:
            return None
        generation, member = divmod(self.asked, self.population)
        if generation > 0 and not all(number in self.told for number in self._generation_numbers(generation - 1)):
            return None
        plan = self._plan(generation)
        self.asked += 1
        return plan[member]

    def _plan(self, generation: int) -> list[Suggestion]:
        if generation in self.plans:
            return self.plans[generation]
        rng = trial_rng(self.seed, 4241, generation)
        meta = {"generation": generation, "steps": self.steps, "total_steps": self.steps * (generation + 1)}
        if generation == 0:
            plan = [Suggestion(self.space.sample(rng), {**meta, "member": member, "parent": None, "exploited": False})
                    for member in range(self.population)]
            self.plans[0] = plan
            return plan
        previous = [self.told[number] for number in self._generation_numbers(generation - 1)]
        ranked = sorted(previous, key=lambda trial: (-self.score(trial), trial.number))
        cut = max(1, int(math.ceil(self.quantile * self.population))) if self.population > 1 else 0
        top, bottom = ranked[:cut], {trial.number for trial in ranked[len(ranked) - cut:]} if cut else set()
        plan = []
        for member, trial in enumerate(previous):
            usable = trial.status == "succeeded" and trial.model_uri
            if trial.number in bottom or not usable:
                donors = [item for item in top if item.status == "succeeded" and item.model_uri]
                if not donors:  # nothing to copy: start this member afresh
                    plan.append(Suggestion(self.space.sample(rng), {**meta, "member": member, "parent": None,
                                                                    "exploited": False, "restarted": True,
                                                                    "total_steps": self.steps}))
                    continue
                donor = donors[int(rng.integers(len(donors)))]
                params = self.explore(donor.params, rng)
                plan.append(Suggestion(params, {**meta, "member": member, "parent": donor.number, "exploited": True,
                                                "total_steps": int(donor.meta.get("total_steps", self.steps * generation)) + self.steps}))
            else:
                plan.append(Suggestion(dict(trial.params), {**meta, "member": member, "parent": trial.number, "exploited": False,
                                                            "total_steps": int(trial.meta.get("total_steps", self.steps * generation)) + self.steps}))
        self.plans[generation] = plan
        return plan

    def explore(self, params: dict[str, Any], rng: Any) -> dict[str, Any]:
        """Perturb each numeric parameter by one of the factors, or resample it; choices resample."""
        out = dict(params)
        for dimension in self.space:
            if dimension.name.split(".", 1)[0] in self.fixed or dimension.name in self.fixed or dimension.name not in params:
                continue  # structural (a network's layer sizes: layer_params.*) stays with the weights it built
            if rng.uniform() < self.resample:
                out[dimension.name] = dimension.sample(rng)
            elif dimension.kind != "choice":
                factor = self.perturb[int(rng.integers(len(self.perturb)))]
                value = params[dimension.name] * factor
                value = min(dimension.high, max(dimension.low, value))  # type: ignore[type-var]
                out[dimension.name] = int(round(value)) if dimension.kind == "int" else float(value)
        return self.space.active(out)

    def restore(self, trials: list[TrialRecord]) -> None:
        super().restore(trials)
        generations = max((trial.number // self.population for trial in trials), default=-1)
        told_now = self.told
        for generation in range(generations + 1):
            self.told = {n: t for n, t in told_now.items() if n < generation * self.population}
            self._plan(generation)
        self.told = told_now
