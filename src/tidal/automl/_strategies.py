"""Choosing a strategy by name: grid, random, tpe, evolutionary, pbt."""

from __future__ import annotations

from typing import Any

from tidal.automl._evolutionary import EvolutionarySearch
from tidal.automl._pbt import PopulationBasedTraining
from tidal.automl._space import SearchSpace
from tidal.automl._strategy import GridSearch, RandomSearch, Strategy
from tidal.automl._tpe import TPESearch
from tidal.core._errors import TidalError

STRATEGIES: dict[str, type] = {
    "grid": GridSearch,
    "random": RandomSearch,
    "tpe": TPESearch,
    "evolutionary": EvolutionarySearch,
    "pbt": PopulationBasedTraining,
}


def make_strategy(name: str, space: SearchSpace, *, direction: str, budget: int, seed: int,
                  options: dict[str, Any] | None = None) -> Strategy:
    if name not in STRATEGIES:
        raise TidalError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    try:
        return STRATEGIES[name](space, direction=direction, budget=budget, seed=seed, **(options or {}))  # type: ignore[no-any-return]
    except TypeError as error:
        raise TidalError(f"strategy '{name}': bad option ({error}); see docs/automl.md for its options") from None
    except ValueError as error:
        raise TidalError(f"strategy '{name}': {error}") from None
