"""Every strategy behind the ask/tell interface: one shared suite, then each one's own behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tidal.automl import (
    STRATEGIES,
    EvolutionarySearch,
    GridSearch,
    PopulationBasedTraining,
    RandomSearch,
    SearchSpace,
    TPESearch,
    TrialRecord,
    choice,
    loguniform,
    make_strategy,
    randint,
    uniform,
)

SPACE = SearchSpace([uniform("x", -3.0, 3.0), loguniform("lr", 1e-4, 1.0), randint("depth", 1, 8), choice("kind", ["a", "b"])])


def objective(params: dict) -> float:
    """Higher is better; best at x=1, lr=0.01, kind=b."""
    return -((params["x"] - 1.0) ** 2) - (math.log10(params["lr"]) + 2) ** 2 + (0.5 if params["kind"] == "b" else 0.0)


def finish(number: int, params: dict, meta: dict, value: float | None = None, status: str = "succeeded") -> TrialRecord:
    if value is None and status == "succeeded":
        value = objective(params) if "lr" in params else -sum((v if isinstance(v, float) else 0.0) ** 2 for v in params.values())
    return TrialRecord("s", number, status, params=params, value=value, meta=meta,
                       model_uri=f"mem://{number}" if status == "succeeded" else None)


def drive(strategy, limit: int = 500, parallel: int = 3, fail_every: int = 0) -> list[TrialRecord]:
    """Run a strategy to its end with ``parallel`` trials in flight, as the controller does."""
    trials: dict[int, TrialRecord] = {}
    in_flight: list[tuple[int, object]] = []
    number = 0
    while len(trials) < limit:
        while len(in_flight) < parallel and not strategy.done:
            suggestion = strategy.ask()
            if suggestion is None:
                break
            in_flight.append((number, suggestion))
            number += 1
        if not in_flight:
            break
        done_number, suggestion = in_flight.pop(0)
        failed = fail_every and done_number % fail_every == fail_every - 1
        trial = finish(done_number, suggestion.params, suggestion.meta, status="failed" if failed else "succeeded")
        trials[done_number] = trial
        strategy.tell(trial)
    return [trials[n] for n in sorted(trials)]


def build(name: str, budget: int = 24, seed: int = 3):
    options = {"steps": 5} if name == "pbt" else {}
    return make_strategy(name, SPACE, direction="maximize", budget=budget, seed=seed, options=options)


# -- the shared suite ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_asks_within_the_space_and_the_budget(name):
    trials = drive(build(name))
    assert 0 < len(trials) <= 24
    for trial in trials:
        assert -3 <= trial.params["x"] <= 3 and 1e-4 <= trial.params["lr"] <= 1
        assert isinstance(trial.params["depth"], int) and 1 <= trial.params["depth"] <= 8
        assert trial.params["kind"] in ("a", "b")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_same_seed_same_questions(name):
    first = [t.params for t in drive(build(name), parallel=1)]
    again = [t.params for t in drive(build(name), parallel=1)]
    assert first == again


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_restored_strategy_asks_what_the_uninterrupted_one_would(name):
    whole = drive(build(name), parallel=1)
    cut = len(whole) // 2 + 1
    resumed = build(name)
    resumed.restore(whole[:cut])
    rest = drive_from(resumed, start=cut)
    assert [t.params for t in rest] == [t.params for t in whole[cut:]]


def drive_from(strategy, start: int) -> list[TrialRecord]:
    out, number = [], start
    while not strategy.done:
        suggestion = strategy.ask()
        if suggestion is None:
            break
        trial = finish(number, suggestion.params, suggestion.meta)
        strategy.tell(trial)
        out.append(trial)
        number += 1
    return out


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_failed_trials_do_not_stop_the_search(name):
    trials = drive(build(name), fail_every=3)
    assert len(trials) >= 12 and any(t.status == "failed" for t in trials)


# -- each strategy -------------------------------------------------------------------------------------

def test_grid_takes_every_choice_and_stops_at_its_size():
    space = SearchSpace([choice("kind", ["a", "b", "c"]), uniform("x", 0, 1)])
    strategy = GridSearch(space, budget=100)
    trials = drive(strategy)
    assert len(trials) == len(strategy.points) < 100
    assert {t.params["kind"] for t in trials} == {"a", "b", "c"}
    assert {t.params["x"] for t in trials} >= {0.0, 1.0}


def test_random_draws_are_independent_of_the_order_results_arrive():
    a = [t.params for t in drive(RandomSearch(SPACE, budget=10, seed=1), parallel=1)]
    b = [t.params for t in drive(RandomSearch(SPACE, budget=10, seed=1), parallel=4)]
    assert a == b


def test_tpe_concentrates_near_the_optimum():
    space = SearchSpace([uniform("x", -3.0, 3.0)])
    strategy = TPESearch(space, budget=40, seed=0, startup=8)
    trials: list[TrialRecord] = []
    for number in range(40):
        suggestion = strategy.ask()
        trial = TrialRecord("s", number, "succeeded", params=suggestion.params, value=-(suggestion.params["x"] - 1) ** 2)
        strategy.tell(trial)
        trials.append(trial)
    early = np.median([abs(t.params["x"] - 1) for t in trials[:8]])
    late = np.median([abs(t.params["x"] - 1) for t in trials[-20:]])
    assert late < early / 2


def test_evolutionary_rounds_keep_the_best_halving_and_draw_near_the_survivors():
    strategy = EvolutionarySearch(SPACE, budget=200, seed=0, candidates=8, keep=4, rounds=4, radius=1.0)
    trials = drive(strategy, parallel=4)
    rounds = [t.meta["round"] for t in trials]
    # round sizes: A, then A - N, A - N/2, A - N/4 (survivors are not re-evaluated)
    assert [rounds.count(r) for r in range(4)] == [8, 4, 6, 7]
    by_number = {t.number: t for t in trials}
    for round_index, kept in ((1, 4), (2, 2), (3, 1)):
        offspring = [t for t in trials if t.meta["round"] == round_index]
        survivors = offspring[0].meta["survivors"]
        assert len(survivors) == kept
        earlier = [t for t in trials if t.meta["round"] < round_index]
        best = sorted(earlier, key=lambda t: -t.value)[:kept]
        assert sorted(survivors) == sorted(t.number for t in best)
        units = np.array([SPACE.to_unit(by_number[n].params) for n in survivors])
        spread = np.maximum(units.std(axis=0) if kept > 1 else np.full(len(SPACE), 0.15), 0.05)
        for child in offspring:
            assert child.meta["parent"] in survivors
            offset = np.abs(SPACE.to_unit(child.params) - SPACE.to_unit(by_number[child.meta["parent"]].params))
            numeric = [i for i, d in enumerate(SPACE) if d.kind != "choice"]
            assert np.all(offset[numeric] <= 1.0 * spread[numeric] + 0.08)  # within R std (+ integer rounding)
    values = [t.value for t in trials]
    assert max(values[-7:]) >= np.median(values[:8])


def test_evolutionary_fills_the_budget_with_as_many_rounds_as_fit():
    strategy = EvolutionarySearch(SPACE, budget=12, seed=0, candidates=4, keep=2)
    trials = drive(strategy)
    assert len(trials) == 12
    assert max(t.meta["round"] for t in trials) >= 2


def test_pbt_bottom_members_copy_a_top_member_and_perturb_it():
    strategy = PopulationBasedTraining(SPACE, budget=16, seed=0, population=4, steps=5, quantile=0.25, resample=0.0,
                                       fixed=("depth",))
    trials = drive(strategy, parallel=4)
    assert len(trials) == 16 and [t.meta["generation"] for t in trials] == [g for g in range(4) for _ in range(4)]
    for generation in range(1, 4):
        previous = [t for t in trials if t.meta["generation"] == generation - 1]
        ranked = sorted(previous, key=lambda t: (-t.value, t.number))
        top, bottom = ranked[0], ranked[-1]
        current = {t.meta["member"]: t for t in trials if t.meta["generation"] == generation}
        loser = current[bottom.meta["member"]]
        assert loser.meta["exploited"] and loser.meta["parent"] == top.number
        for name in ("x", "lr"):
            ratio = loser.params[name] / top.params[name]
            assert any(math.isclose(ratio, factor) for factor in (0.8, 1.2)) or loser.params[name] in (-3.0, 3.0, 1e-4, 1.0)
        assert loser.params["depth"] == top.params["depth"]  # structural: never perturbed
        for member, trial in current.items():
            if member != bottom.meta["member"]:
                assert not trial.meta["exploited"] and trial.meta["parent"] == previous[member].number
                assert trial.params == previous[member].params
        assert all(t.meta["total_steps"] == 5 * (generation + 1) for t in current.values())


def test_pbt_waits_for_a_whole_generation():
    strategy = PopulationBasedTraining(SPACE, budget=8, seed=0, population=4, steps=2)
    asked = [strategy.ask() for _ in range(4)]
    assert strategy.ask() is None
    for number, suggestion in enumerate(asked):
        strategy.tell(finish(number, suggestion.params, suggestion.meta))
    assert strategy.ask().meta["generation"] == 1


def test_minimize_prefers_low_values():
    strategy = EvolutionarySearch(SearchSpace([uniform("x", 0, 1)]), direction="minimize", budget=12, candidates=4, keep=1)
    trials = []
    for number in range(4):
        suggestion = strategy.ask()
        trial = TrialRecord("s", number, "succeeded", params=suggestion.params, value=suggestion.params["x"], meta=suggestion.meta)
        strategy.tell(trial)
        trials.append(trial)
    child = strategy.ask()
    assert child.meta["parent"] == min(trials, key=lambda t: t.value).number
