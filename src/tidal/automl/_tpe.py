"""TPE (tree-structured Parzen estimator) through Optuna's sampler, behind the ask/tell interface.

Optuna is imported only when this strategy is used. Conditional parameters are sampled with
Optuna's ``group`` decomposition off: every dimension is proposed, inactive ones are dropped
before the trial runs and are not reported back.
"""

from __future__ import annotations

import math
from typing import Any

from tidal.automl._records import TrialRecord
from tidal.automl._space import Dimension, SearchSpace
from tidal.automl._strategy import BaseStrategy, Suggestion
from tidal.core._errors import TidalError


def _distribution(dimension: Dimension) -> Any:
    import optuna

    if dimension.kind == "choice":
        return optuna.distributions.CategoricalDistribution(list(dimension.values))
    if dimension.kind == "int":
        return optuna.distributions.IntDistribution(int(dimension.low), int(dimension.high), log=dimension.log)  # type: ignore[arg-type]
    return optuna.distributions.FloatDistribution(float(dimension.low), float(dimension.high), log=dimension.log)  # type: ignore[arg-type]


class TPESearch(BaseStrategy):
    """Optuna's TPESampler; ``startup`` random trials first (Optuna's ``n_startup_trials``)."""

    name = "tpe"

    def __init__(self, space: SearchSpace, *, startup: int | None = None, multivariate: bool = True, **options: Any) -> None:
        super().__init__(space, **options)
        try:
            import optuna
        except ImportError:
            raise TidalError("strategy 'tpe' needs Optuna: pip install optuna") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        startup = startup if startup is not None else max(3, min(10, self.budget // 4))
        self.sampler_options: dict[str, Any] = {"n_startup_trials": startup, "multivariate": multivariate, "constant_liar": True}
        self.study = optuna.create_study(direction="maximize" if self.direction == "maximize" else "minimize", sampler=self._sampler())
        self.distributions = {item.name: _distribution(item) for item in space}
        self.pending: dict[int, Any] = {}

    def _sampler(self) -> Any:
        import optuna

        # a fresh seed per question: what trial n is asked depends only on the seed and the history
        return optuna.samplers.TPESampler(seed=(self.seed * 1_000_003 + self.asked) % 2**31, **self.sampler_options)

    def ask(self) -> Suggestion | None:
        if self.done:
            return None
        self.study.sampler = self._sampler()
        trial = self.study.ask(self.distributions)
        self.pending[self.asked] = trial
        self.asked += 1
        return Suggestion(self.space.active(dict(trial.params)))

    def tell(self, trial: TrialRecord) -> None:
        super().tell(trial)
        import optuna

        value = trial.value if trial.status == "succeeded" and trial.value is not None and math.isfinite(trial.value) else None
        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
        asked = self.pending.pop(trial.number, None)
        if asked is not None:
            self.study.tell(asked, value if value is not None else None, state=state)
            return
        # a trial recorded before a restart: give it to the sampler as history
        params = {name: value for name, value in trial.params.items() if name in self.distributions}
        self.study.add_trial(optuna.trial.create_trial(
            params=params,
            distributions={name: self.distributions[name] for name in params},
            value=value,
            state=state,
        ))
