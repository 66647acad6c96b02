"""The pick, from given measurements: deterministic, no timing involved."""

from __future__ import annotations

import numpy as np
import pytest

from tidal.optimize import LossBound, Measurement, OptimizeRefused, pick
from tidal.optimize._data import cosine, loss, score
from tidal.optimize._measure import Latency


def measured(name: str, p50: dict[int, float], *, loss_value: float = 0.0, family: str = "onnx-fp32", **extra) -> Measurement:
    latency = {size: Latency(value, value * 2, size / value * 1000) for size, value in p50.items()}
    return Measurement(name, family, latency=latency, score=0.9 - loss_value, loss=loss_value, **extra)


def test_the_fastest_variant_within_the_bound_wins():
    items = [measured("baseline", {1: 1.0, 32: 10.0}, family="baseline"), measured("fp32", {1: 0.6, 32: 5.0}),
             measured("int8", {1: 0.4, 32: 3.0}, loss_value=0.005), measured("int8-bad", {1: 0.2, 32: 2.0}, loss_value=0.05)]
    chosen = pick(items, batch=1, bound=LossBound.parse("0.01"))
    assert chosen.winner == "int8" and not chosen.kept_original
    verdicts = {item.name: item.verdict for item in items}
    assert verdicts["int8"].startswith("won") and "2.50x" in verdicts["int8"]
    assert "more than the 0.01 allowed" in verdicts["int8-bad"]
    assert verdicts["fp32"].startswith("lost: within the bound") and verdicts["baseline"].startswith("lost")


def test_a_variant_slower_than_the_baseline_at_any_batch_size_is_never_picked():
    items = [measured("baseline", {1: 1.0, 32: 10.0}, family="baseline"),
             measured("qoperator", {1: 0.5, 32: 12.0}, family="int8-static")]  # fast at 1, slower at 32
    chosen = pick(items, batch=1, bound=LossBound.parse("1%"))
    assert chosen.winner == "baseline" and chosen.kept_original
    assert "slower than the baseline at batch 32" in items[1].verdict
    assert "original model is kept" in items[0].verdict


def test_nothing_within_the_bound_keeps_the_original_and_says_so():
    items = [measured("baseline", {1: 1.0}, family="baseline"), measured("int8", {1: 0.3}, loss_value=0.2),
             measured("broken", {}, error="quantizer failed"), measured("compiled", {1: 0.1}, packable=False, note="no package")]
    chosen = pick(items, batch=1, bound=LossBound.parse("1%"))
    assert chosen.kept_original and "no variant was faster than the baseline within the bound" in chosen.reason
    assert items[2].verdict == "failed: quantizer failed" and items[3].verdict == "not packaged: no package"


def test_a_gain_within_timing_noise_does_not_replace_the_baseline():
    items = [measured("baseline", {1: 1.0}, family="baseline"), measured("fp32", {1: 0.98})]
    assert pick(items, batch=1, bound=LossBound.parse("1%")).kept_original
    assert "only 2.0% faster" in items[1].verdict
    assert pick(items, batch=1, bound=LossBound.parse("1%"), min_gain=0.01).winner == "fp32"


def test_the_pick_needs_a_measured_baseline():
    with pytest.raises(ValueError, match="baseline must be measured at batch size 8"):
        pick([measured("baseline", {1: 1.0}, family="baseline")], batch=8, bound=LossBound.parse("1%"))


def test_loss_bounds_are_relative_with_a_percent_sign_and_absolute_without():
    assert LossBound.parse("1%").allowed(0.9) == pytest.approx(0.009)
    assert LossBound.parse("0.02").allowed(0.9) == pytest.approx(0.02)
    assert LossBound.parse(0.5).allowed(-3.0) == pytest.approx(0.5)
    for bad in ("much", "-1%"):
        with pytest.raises(OptimizeRefused, match="max loss"):
            LossBound.parse(bad)


def test_metrics_and_their_direction():
    truth = np.array([0, 1, 1, 0])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    assert score("accuracy", truth, np.array([0, 1, 0, 0]), probabilities, [0, 1]) == 0.75
    assert score("auc", truth, np.array([0, 1, 0, 0]), probabilities, [0, 1]) == 1.0
    assert score("log_loss", truth, None, probabilities, [0, 1]) == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.7])))
    assert score("rmse", np.array([1.0, 2.0]), np.array([1.0, 4.0]), None, None) == pytest.approx(np.sqrt(2))
    assert loss("accuracy", 0.9, 0.85) == pytest.approx(0.05) and loss("rmse", 1.0, 1.2) == pytest.approx(0.2)
    assert cosine(probabilities, probabilities) == pytest.approx((1.0, 1.0))
    with pytest.raises(OptimizeRefused, match="not among the model's classes"):
        score("auc", np.array([0, 7]), None, probabilities[:2], [0, 1])
