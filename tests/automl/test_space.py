"""Search spaces: derived from a component's declarations, or written in YAML / Python."""

from __future__ import annotations

import numpy as np
import pytest

import tidal
from tidal.automl import SearchSpace, SpaceError, choice, loguniform, randint, uniform

YAML_SPACE = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "num_leaves": {"type": "int", "low": 8, "high": 128},
    "boosting": {"type": "choice", "values": ["gbdt", "dart"]},
    "drop_rate": {"type": "float", "low": 0.05, "high": 0.5, "when": {"boosting": "dart"}},
}


def test_default_space_comes_from_the_trainers_declarations():
    space = SearchSpace.from_component(tidal.get_component("classification.lightgbm"))
    rate = space["learning_rate"]
    assert (rate.kind, rate.low, rate.high, rate.log) == ("float", 0.005, 0.3, True)
    leaves = space["num_leaves"]
    assert (leaves.kind, leaves.low, leaves.high, leaves.log) == ("int", 8, 256, True)
    assert "label" not in space.names and "subsample_freq" not in space.names  # not marked tune
    logistic = SearchSpace.from_component(tidal.get_component("classification.logistic_regression"))
    assert logistic.names == ["C"] and logistic["C"].log


def test_include_uses_choices_and_bounds_of_parameters_not_marked_tune():
    spec = tidal.get_component("classification.logistic_regression")
    space = SearchSpace.from_component(spec, include=["penalty", "l1_ratio", "fit_intercept"])
    assert space["penalty"].values == ("l2", "l1", "elasticnet", "none")
    assert (space["l1_ratio"].low, space["l1_ratio"].high) == (0, 1)
    assert space["fit_intercept"].values == (False, True)
    with pytest.raises(SpaceError, match="max_iter.*no declared range"):
        SearchSpace.from_component(spec, include=["max_iter"])


def test_yaml_space_with_a_conditional_parameter():
    space = SearchSpace.from_dict(YAML_SPACE)
    assert SearchSpace.from_dict(space.to_dict()).to_dict() == space.to_dict()
    rng = np.random.default_rng(0)
    seen_dart = seen_gbdt = False
    for _ in range(200):
        params = space.sample(rng)
        assert 0.01 <= params["learning_rate"] <= 0.3 and 8 <= params["num_leaves"] <= 128
        assert isinstance(params["num_leaves"], int)
        if params["boosting"] == "dart":
            seen_dart = True
            assert 0.05 <= params["drop_rate"] <= 0.5
        else:
            seen_gbdt = True
            assert "drop_rate" not in params
    assert seen_dart and seen_gbdt


def test_log_scale_samples_spread_over_orders_of_magnitude():
    space = SearchSpace([loguniform("C", 1e-4, 1e4)])
    values = np.array([space.sample(np.random.default_rng(i))["C"] for i in range(400)])
    assert 0.35 < np.mean(values < 1.0) < 0.65  # half below the geometric middle


def test_python_space_unit_round_trip_and_grid():
    space = SearchSpace([uniform("a", 0, 1), randint("n", 1, 5), choice("kind", ["x", "y"]), uniform("b", 0, 2, kind="y")])
    params = {"a": 0.25, "n": 3, "kind": "y", "b": 1.5}
    assert space.from_unit(space.to_unit(params)) == params
    grid = space.grid(16)
    assert {p["kind"] for p in grid} == {"x", "y"}
    assert all("b" not in p for p in grid if p["kind"] == "x")
    assert len(grid) == len({tuple(sorted(p.items())) for p in grid})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"C": {"type": "float", "low": 1}}, "needs both 'low' and 'high'"),
        ({"C": {"type": "float", "low": 2, "high": 1}}, "low .* must be below high"),
        ({"C": {"type": "float", "low": 0, "high": 1, "log": True}}, "log-scale range must be positive"),
        ({"C": {"type": "matrix"}}, "type must be one of"),
        ({"C": {"type": "float", "low": 0, "high": 1, "step": 2}}, "unknown key"),
        ({"b": {"type": "float", "low": 0, "high": 1, "when": {"a": 1}}}, "condition names 'a'"),
        ({}, "search space is empty"),
    ],
)
def test_bad_spaces_say_which_parameter_and_what_is_wrong(spec, message):
    with pytest.raises(SpaceError, match=message):
        SearchSpace.from_dict(spec)
