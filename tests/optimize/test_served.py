"""The winner's package is timed as it will be served before it is handed back; a slower one keeps the original."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tidal.optimize import LossBound, Timing, pick
from tidal.optimize._measure import Latency
from tidal.optimize._pick import Measurement
from tidal.optimize._report import headline
from tidal.optimize._served import keep_original, served_check

ROWS = pd.DataFrame({"x": np.arange(8.0)})


class Package:
    """A classifier package as PackageRunner sees it, taking ``nap`` seconds per call."""

    task, classes = "binary", [0, 1]

    def __init__(self, nap: float) -> None:
        self.nap = nap

    def predict_proba(self, frame):
        time.sleep(self.nap)
        return np.tile([0.25, 0.75], (len(frame), 1))


def measured(name: str, ms: float, loss: float = 0.0) -> Measurement:
    return Measurement(name, "test", latency={1: Latency(ms, ms, 1e3 / ms), 4: Latency(ms, ms, 4e3 / ms)},
                       score=0.9 - loss, loss=loss, size_bytes=1)


def test_a_package_slower_than_the_original_is_named_with_both_times():
    figures, slower = served_check(Package(0.0), Package(0.004), ROWS, [1, 4], Timing(1, 2, 3))
    assert slower.startswith("its package was slower than the original through predict at batch 1 (")
    assert set(figures["batch_sizes"]) == {"1", "4"} and figures["batch_sizes"]["1"]["speedup"] < 1
    figures, slower = served_check(Package(0.004), Package(0.0), ROWS, [1, 4], Timing(1, 2, 3))
    assert slower == "" and all(item["speedup"] > 1 for item in figures["batch_sizes"].values())


def test_the_original_is_kept_and_both_verdicts_say_why():
    measurements = [measured("baseline", 2.0), measured("fast-graph", 0.5)]
    chosen = pick(measurements, batch=1, bound=LossBound.parse("1%"))
    assert chosen.winner == "fast-graph" and not chosen.kept_original
    kept = keep_original(chosen, measurements, "its package was slower (3 ms against 2 ms)")
    assert kept.winner == "baseline" and kept.kept_original
    assert measurements[1].verdict == "lost: fastest within the bound as a graph, but its package was slower (3 ms against 2 ms)"
    assert measurements[0].verdict.startswith("won: fast-graph was the fastest variant within the bound, but its package")
    report = {"reason": kept.reason, "kept_original": True, "winner": "baseline"}
    assert headline(report)[0] == "Kept the original model" and "original model is kept" in headline(report)[1]


def test_the_headline_gives_the_speed_up_as_served():
    report = {"reason": "won: fastest within the bound at batch 1, 9.00x the baseline", "kept_original": False,
              "winner": "onnx-fp32", "served": {"batch_sizes": {"1": {"speedup": 4.5}, "32": {"speedup": 3.25}}}}
    assert headline(report) == ("Picked onnx-fp32", "fastest within the bound at batch 1, 9.00x the baseline; as served, "
                                "through the packages' predict: 4.50x at batch 1, 3.25x at batch 32")


def test_the_timer_pauses_between_runners_and_the_search_sessions_do_not_spin():
    from tidal.optimize._measure import PAUSE_S, session_options, time_runners

    pauses = []
    runners = {"a": Package(0.0), "b": Package(0.0)}
    from tidal.optimize._measure import PackageRunner

    time_runners({name: PackageRunner(item) for name, item in runners.items()}, ROWS, [1, 4], Timing(0, 3, 2),
                 pause=pauses.append)
    assert pauses == [PAUSE_S] * (2 * 3 * 2)  # before each runner's calls, every round, every batch size
    assert session_options({}).get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_nncf_is_given_each_rows_figure_higher_is_better_for_every_subset_metric():
    from tidal.optimize._openvino import SUBSET_METRICS, _row_values

    assert SUBSET_METRICS == ("accuracy", "log_loss", "rmse")  # AUC and R2 are not defined on every subset of rows
    truth = np.array([1, 0, 2])
    assert _row_values("accuracy", truth, np.array([1, 1, 2]), None, [0, 1, 2]) == [1.0, 0.0, 1.0]
    probabilities = np.array([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert _row_values("log_loss", truth, np.array([1, 0, 2]), probabilities, [0, 1, 2]) == pytest.approx(
        [np.log(0.8), np.log(0.5), 0.0])
    assert _row_values("rmse", np.array([1.0, 2.0]), np.array([1.5, 2.0]), None, None) == [-0.25, -0.0]
