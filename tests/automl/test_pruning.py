"""Early-stopping rules: the median rule and successive halving."""

import pytest

from tidal.automl import MedianRule, SuccessiveHalving, make_pruner
from tidal.core import TidalError


def test_median_rule_stops_below_the_median_after_warm_up():
    rule = MedianRule(min_trials=3, warmup_steps=10)
    others = [0.90, 0.80, 0.70]
    assert rule.should_stop(20, 0.75, others) and not rule.should_stop(20, 0.85, others)
    assert not rule.should_stop(5, 0.10, others)  # still warming up
    assert not rule.should_stop(20, 0.10, others[:2])  # too few trials to judge
    assert MedianRule(min_trials=4).should_stop(1, 0.84, [0.9, 0.8, 0.7, 0.95])  # even count: mean of the middle two


def test_successive_halving_keeps_the_top_share_of_a_rung():
    rule = SuccessiveHalving(reduction=3, min_trials=2)
    others = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert not rule.should_stop(10, 0.85, others)  # among the top 2 of 6
    assert rule.should_stop(10, 0.75, others)
    assert not rule.should_stop(10, 0.1, [0.9])


def test_pruners_by_name():
    assert make_pruner({"type": "median", "min_trials": 5}) == MedianRule(min_trials=5)
    assert make_pruner({"type": "successive_halving", "reduction": 2}) == SuccessiveHalving(reduction=2)
    assert make_pruner(None) is None
    with pytest.raises(TidalError, match="unknown pruner"):
        make_pruner({"type": "hyperband"})
