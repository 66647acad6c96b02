"""The run engine with real worker processes: cache, parallelism, retries, crashes, timeouts, logs."""

from __future__ import annotations

import threading
import time

import pytest

import tidal
from tidal.core import ValidationFailed
from tidal.pipeline import Pipeline


def chain(name: str = "chain", **step_params) -> Pipeline:
    pipeline = Pipeline(name)
    pipeline.add("testing.source", "src", params={"rows": 4})
    pipeline.add("testing.step", "a", inputs={"data": "src"}, params={"tag": "a", **step_params})
    pipeline.add("testing.step", "b", inputs={"data": "a"}, params={"tag": "b"})
    pipeline.add("testing.score", "m", inputs={"data": "b"})
    return pipeline


def test_second_run_is_fully_cached_and_one_change_recomputes_only_downstream(workspace, execution_log):
    first = tidal.run(chain(), workspace=workspace, workers=2)
    assert first.ok and first.metrics("m") == {"rows": 4.0}
    assert sorted(execution_log()) == ["score", "source:a", "step:a", "step:b"]

    second = tidal.run(chain(), workspace=workspace, workers=2)
    assert {node: record.cached for node, record in second.nodes.items()} == dict.fromkeys(["src", "a", "b", "m"], True)
    assert len(execution_log()) == 4  # nothing ran

    third = tidal.run(chain(), workspace=workspace, workers=2, overrides=["m.scale=2"])
    assert [n for n, r in third.nodes.items() if not r.cached] == ["m"]
    assert third.metrics("m") == {"rows": 8.0}

    # 'a' reruns; its output is byte-identical, so what follows it is still a cache hit
    fourth = tidal.run(chain(), workspace=workspace, workers=2, overrides=["a.seconds=0.01"])
    assert sorted(n for n, r in fourth.nodes.items() if not r.cached) == ["a"]
    # a change that alters 'a's output recomputes everything after it
    fifth = tidal.run(chain(), workspace=workspace, workers=2, overrides=["a.tag=q"])
    assert sorted(n for n, r in fifth.nodes.items() if not r.cached) == ["a", "b", "m"]


def test_unchanged_output_keeps_downstream_cached(workspace, execution_log):
    tidal.run(chain(), workspace=workspace, workers=0)
    # a new tag on the source changes its output, so everything after it recomputes ...
    changed = tidal.run(chain(), workspace=workspace, workers=0, overrides=["src.tag=z"])
    assert not any(record.cached for record in changed.nodes.values())
    # ... while writing a default out explicitly changes nothing: parameters are canonical
    pipeline = chain()
    pipeline.nodes["a"].params["seconds"] = 0.0  # the default, now explicit: same canonical params
    again = tidal.run(pipeline, workspace=workspace, workers=0)
    assert all(record.cached for record in again.nodes.values())


def test_no_cache_and_per_node_switch(workspace, execution_log):
    tidal.run(chain(), workspace=workspace, workers=0)
    tidal.run(chain(), workspace=workspace, workers=0, cache=False)
    assert len(execution_log()) == 8
    pipeline = chain()
    pipeline.nodes["b"].cache = False
    result = tidal.run(pipeline, workspace=workspace, workers=0)
    assert [n for n, r in result.nodes.items() if not r.cached] == ["b"]  # same output: 'm' stays cached


def test_independent_nodes_run_in_parallel(workspace):
    pipeline = Pipeline("fan")
    pipeline.add("testing.source", "src")
    for index in range(2):
        pipeline.add("testing.step", f"p{index}", inputs={"data": "src"}, params={"seconds": 1.0, "tag": str(index)})
    result = tidal.run(pipeline, workspace=workspace, workers=2)
    spans = [(r.started_at, r.finished_at) for n, r in result.nodes.items() if n.startswith("p")]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], "the two 1-second steps did not overlap"


def test_failure_is_recorded_downstream_skipped_and_other_branches_finish(workspace):
    pipeline = Pipeline("partial")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.fail", "bad", inputs={"data": "src"}, params={"message": "disk on fire"})
    pipeline.add("testing.step", "after", inputs={"data": "bad"})
    pipeline.add("testing.step", "other", inputs={"data": "src"})
    result = tidal.run(pipeline, workspace=workspace, workers=2)
    assert result.status == "failed"
    statuses = {node: record.status for node, record in result.nodes.items()}
    assert statuses == {"src": "succeeded", "bad": "failed", "after": "skipped", "other": "succeeded"}
    assert "RuntimeError: disk on fire" in result.nodes["bad"].error
    log = workspace.artifacts.read_bytes(result.nodes["bad"].log_uri).decode()
    assert "Traceback" in log and "disk on fire" in log


def test_crashing_component_fails_its_node_not_the_run(workspace):
    pipeline = Pipeline("crash")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.crash", "boom", inputs={"data": "src"})
    pipeline.add("testing.step", "fine", inputs={"data": "src"})
    result = tidal.run(pipeline, workspace=workspace, workers=2)
    assert result.nodes["boom"].status == "failed"
    assert "worker process died" in result.nodes["boom"].error and "exit code 3" in result.nodes["boom"].error
    assert result.nodes["fine"].status == "succeeded"


def test_retries_rerun_a_flaky_node(workspace, tmp_path):
    pipeline = Pipeline("flaky")
    pipeline.add("testing.source", "src")
    node = pipeline.add("testing.flaky", "f", inputs={"data": "src"}, params={"failures": 2, "marker": str(tmp_path / "m")})
    node.retries = 2
    result = tidal.run(pipeline, workspace=workspace, workers=1)
    assert result.nodes["f"].status == "succeeded" and result.nodes["f"].attempts == 3
    (tmp_path / "m").unlink()
    node.retries = 1
    failed = tidal.run(pipeline, workspace=workspace, workers=1, cache=False)
    assert failed.nodes["f"].status == "failed" and failed.nodes["f"].attempts == 2


def test_timeout_stops_a_hanging_node(workspace, tmp_path):
    pipeline = Pipeline("hang")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.wait_for_file", "w", inputs={"data": "src"}, params={"path": str(tmp_path / "never")}).timeout = 1
    result = tidal.run(pipeline, workspace=workspace, workers=1)
    assert result.nodes["w"].status == "failed" and "timed out after 1 s" in result.nodes["w"].error


def test_measurements_and_logs_are_recorded(workspace):
    result = tidal.run(chain(), workspace=workspace, workers=1)
    record = result.nodes["a"]
    assert record.duration_s > 0 and record.peak_memory_bytes > 10_000_000
    assert record.input_rows == 4 and record.input_bytes > 0
    assert workspace.artifacts.exists(record.log_uri)


def test_until_and_from(workspace, execution_log):
    partial = tidal.run(chain(), workspace=workspace, workers=0, until="a")
    assert set(partial.nodes) == {"src", "a"}
    full = tidal.run(chain(), workspace=workspace, workers=0, from_node="b")
    assert [n for n, r in full.nodes.items() if not r.cached] == ["b", "m"]


def test_invalid_pipeline_raises_before_any_run(workspace):
    pipeline = chain()
    pipeline.nodes["a"].params["seconds"] = -1
    with pytest.raises(ValidationFailed, match="node 'a', parameter 'seconds'"):
        tidal.run(pipeline, workspace=workspace)
    assert workspace.metadata.list_runs() == []


def test_cancel_marks_the_run_cancelled(workspace, tmp_path):
    pipeline = Pipeline("cancel")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.wait_for_file", "w", inputs={"data": "src"}, params={"path": str(tmp_path / "never")})
    import _thread

    def interrupt() -> None:
        while not any(r.status == "running" and r.node_id == "w" for run in workspace.metadata.list_runs()
                      for r in workspace.metadata.node_runs(run.id)):
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    result = tidal.run(pipeline, workspace=workspace, workers=1)
    assert result.status == "cancelled" and result.nodes["w"].status == "cancelled"


def test_outputs_load_back(workspace):
    result = tidal.run(chain(), workspace=workspace, workers=0)
    table = result.output("b")
    assert table.num_rows == 4 and "seen_b" in table.columns
    assert result.output("m")["rows"] == 4.0


@pytest.mark.parametrize("workers", [0, 1])
def test_a_node_is_recorded_as_running_before_its_running_event_and_while_it_runs(workspace, execution_log, workers):
    """The engine writes its records in batches, and always before the events they go with: whoever hears
    "running" finds the node's row (saying so, or, for a quick node whose records waited to be written with
    others, already saying it finished). In this process (``workers=0``) the row says "running" and the
    event comes before the node runs."""
    seen: dict[str, tuple[str | None, bool]] = {}

    def on_event(event) -> None:
        if event.status == "running" and event.node_id is not None:
            rows = workspace.metadata.node_runs(event.run_id)
            ran = f"step:{event.node_id}" in execution_log()
            seen[event.node_id] = ({row.node_id: row.status for row in rows}.get(event.node_id), ran)

    result = tidal.run(chain("recorded"), workspace=workspace, workers=workers, cache=False, on_event=on_event)
    assert result.ok
    assert set(seen) == {"src", "a", "b", "m"}
    if workers == 0:
        assert {node: status for node, (status, _) in seen.items()} == {node: "running" for node in seen}
        assert not any(ran for _, ran in seen.values()), seen
    else:
        assert all(status in ("running", "succeeded") for status, _ in seen.values()), seen
