"""Workers never hang a run and never outlive their engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

import tidal
from tidal.pipeline import Pipeline


def _chain() -> Pipeline:
    pipeline = Pipeline("lifecycle")
    pipeline.add("testing.source", "src", params={"rows": 3})
    pipeline.add("testing.score", "m", inputs={"data": "src"})
    return pipeline


def _fake_python(folder: Path, body: str) -> str:
    script = folder / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_worker_that_dies_before_connecting_fails_its_node(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "exit 3"))
    result = tidal.run(_chain(), workspace=workspace, workers=1)
    assert not result.ok
    assert "exited (code 3) before it connected" in (result.nodes["src"].error or "")


def test_a_worker_that_never_connects_fails_its_node_at_the_deadline(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "exec sleep 600"))
    monkeypatch.setenv("TIDAL_WORKER_START_TIMEOUT", "1")
    result = tidal.run(_chain(), workspace=workspace, workers=1)
    assert not result.ok and "did not connect within 1 s" in (result.nodes["src"].error or "")
    stuck = [process for process in psutil.process_iter(["cmdline"]) if process.info["cmdline"] == ["sleep", "600"]]
    assert not stuck, "the stalled worker is killed"


def _wait_for(predicate, limit_s: float = 60.0) -> bool:
    """Poll until ``predicate()`` holds; the limit only bounds a failing test, it asserts no speed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_workers_end_when_their_engine_is_killed(tmp_path):
    gate = tmp_path / "never"
    nodes = [{"id": "src", "component": "testing.source", "params": {"rows": 3}},
             {"id": "hold", "component": "testing.wait_for_file", "inputs": {"data": "src"},
              "params": {"path": str(gate)}}]
    (tmp_path / "hold.yaml").write_text(yaml.safe_dump({"tidal": 1, "name": "hold", "nodes": nodes}))
    engine = subprocess.Popen([sys.executable, "-m", "tidal.cli", "run", "hold.yaml", "--workers", "1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True,
                              env={**os.environ, "TIDAL_HOME": str(tmp_path), "TIDAL_TEST_LOG": str(tmp_path / "log")})
    try:
        parent = psutil.Process(engine.pid)
        assert _wait_for(lambda: any("tidal._worker_process" in " ".join(child.cmdline())
                                     for child in parent.children())), "a worker starts"
        log = tmp_path / "log"
        assert _wait_for(lambda: log.exists() and "wait:" in log.read_text()), "the worker is inside the held node"
        workers = [child for child in parent.children() if "tidal._worker_process" in " ".join(child.cmdline())]
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        assert _wait_for(lambda: not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
                                         for worker in workers)), "no orphan worker keeps running its node"
    finally:
        if engine.poll() is None:
            engine.kill()


def _probe_pipeline(with_stats: bool) -> Pipeline:
    pipeline = Pipeline("preload")
    pipeline.add("testing.loaded", "probe", params={"module": "tidal.components.stats"})
    if with_stats:
        pipeline.add("testing.source", "src", params={"rows": 3})
        pipeline.add("stats.summary", "describe", inputs={"data": "src"})
    return pipeline


def test_workers_start_ahead_of_need_with_the_pipelines_component_modules_imported(workspace):
    from tidal.runtime._engine import component_modules, first_wave

    pipeline = _probe_pipeline(with_stats=True)
    assert first_wave(pipeline) == 2 and "tidal.components.stats" in component_modules(pipeline)
    assert not any(name.startswith("tidal.components.io") for name in component_modules(pipeline))
    preloaded = tidal.run(pipeline, workspace=workspace, workers=1)
    assert preloaded.ok and preloaded.metrics("probe") == {"loaded": 1.0}  # imported before its first node came
    control = tidal.run(_probe_pipeline(with_stats=False), workspace=workspace, workers=1, cache=False)
    assert control.ok and control.metrics("probe") == {"loaded": 0.0}


def test_workers_started_ahead_and_never_used_are_stopped_with_the_run():
    from tidal.runtime._executor import LocalExecutor

    executor = LocalExecutor(3)
    executor.prestart(5, ["tidal.components.stats"])
    processes = [process for process, _ in executor._starting.values()]
    assert len(processes) == 3  # never more than the pool's size
    executor.shutdown()
    assert all(process.poll() is not None for process in processes)
