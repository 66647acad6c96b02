"""Resource estimates from recorded runs: a line that covers every recorded run, scaling when there are few,
a warning before a run that will not fit, Ray requests set from them, and `tidal estimate`."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

import tidal
from tidal.cli._app import main
from tidal.core._resources import Resources
from tidal.pipeline import Pipeline
from tidal.runtime import _executor
from tidal.runtime._estimate import apply_estimates, estimate_node, human_bytes
from tidal.store._metadata import NodeRunRecord

GIB = 1 << 30


def record(node_id: str, input_bytes: int | None, peak: int, seconds: float = 1.0, rows: int | None = None) -> NodeRunRecord:
    return NodeRunRecord("r", node_id, "c.train", "1", "succeeded", started_at=dt.datetime.now(dt.UTC), duration_s=seconds,
                         peak_memory_bytes=peak, input_bytes=input_bytes, input_rows=rows)


def test_a_fitted_line_covers_every_recorded_run_at_the_new_size():
    history = [(record("other", size * GIB, int((1 + 2 * size) * GIB) + bump), "p")
               for size, bump in ((1, 0), (2, 5 << 20), (4, 0), (8, -(3 << 20)))]
    history.insert(0, (record("train", 16 * GIB, int(33 * GIB)), "mine"))    # this node read 16 GiB last time
    need = estimate_node("train", "c.train", history, "mine")
    assert need is not None and need.basis == "fitted" and need.runs == 5 and need.input_bytes == 16 * GIB
    assert 33 * GIB <= need.memory_bytes <= 33 * GIB + (6 << 20)             # 1 + 2 x 16 GiB, lifted by the largest miss
    assert "needs ~33.0 GiB by 5 earlier run(s)" in need.describe()


def test_few_runs_scale_the_largest_peak_and_an_unknown_size_takes_it_as_is():
    history = [(record("train", 2 * GIB, 3 * GIB), "mine")]
    assert estimate_node("train", "c.train", history, "mine").memory_bytes == 3 * GIB
    grown = [(record("train", 4 * GIB, 1 * GIB), "mine"), (record("x", 2 * GIB, 3 * GIB), "other")]
    assert estimate_node("train", "c.train", grown, "mine").memory_bytes == 3 * GIB      # never scaled down
    assert estimate_node("new", "c.train", grown, "mine").basis == "largest recorded"
    assert estimate_node("train", "c.train", [], "mine") is None
    assert human_bytes(1536 << 20) == "1.5 GiB" and human_bytes(512) == "512 B"


class FakeRay:
    def memory_limit(self):
        return 64 * GIB, "the largest Ray node"


def test_on_ray_a_node_without_a_memory_request_gets_its_estimate_and_one_over_the_limit_is_warned(workspace, caplog):
    pipeline = Pipeline("sized")
    pipeline.add("testing.source", "src", params={"rows": 200})
    pipeline.add("testing.score", "score", inputs={"data": "src"})
    assert tidal.run(pipeline, workspace=workspace, workers=1).ok
    requests = {"score": Resources(cpus=1)}
    estimates = apply_estimates(pipeline, workspace.metadata, requests, FakeRay(), "ray")
    assert set(estimates) == {"src", "score"} and estimates["score"]["runs"] == 1
    assert requests["score"] == Resources(cpus=1, memory_bytes=estimates["score"]["memory_bytes"])
    assert requests["src"].memory_bytes == estimates["src"]["memory_bytes"] > 0
    kept = {"src": Resources(memory_bytes=GIB)}
    apply_estimates(pipeline, workspace.metadata, kept, FakeRay(), "ray")
    assert kept["src"] == Resources(memory_bytes=GIB)                       # a request the pipeline gives is kept
    local = {}
    apply_estimates(pipeline, workspace.metadata, local, _executor.LocalExecutor(1), "local")
    assert local == {}                                                       # the local pool does not schedule by memory


def test_a_run_warns_before_it_starts_and_records_the_estimates(workspace, caplog, monkeypatch, tmp_path, capsys):
    pipeline = Pipeline("sized")
    pipeline.add("testing.source", "src", params={"rows": 50})
    assert tidal.run(pipeline, workspace=workspace, workers=1).ok
    monkeypatch.setattr(_executor.LocalExecutor, "memory_limit", lambda self: (1 << 20, "this machine"))
    with caplog.at_level(logging.WARNING, logger="tidal.runtime._estimate"):
        second = tidal.run(pipeline, workspace=workspace, workers=1, cache=False)
    assert second.ok and "node 'src' (testing.source) needs ~" in caplog.text and "this machine has 1.0 MiB" in caplog.text
    assert workspace.metadata.get_run(second.id).options["estimates"]["src"]["runs"] == 1
    file = tmp_path / "sized.yaml"
    file.write_text(pipeline.to_yaml())
    monkeypatch.setattr("sys.argv", ["tidal", "--home", str(workspace.root), "estimate", str(file), "--json"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (None, 0)
    shown = json.loads(capsys.readouterr().out)
    assert shown["src"]["runs"] == 2 and shown["src"]["memory_bytes"] > 0
