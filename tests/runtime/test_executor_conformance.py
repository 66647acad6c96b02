"""One conformance suite for every executor (STYLE rule 3): the same tests on ``local`` and on ``ray``.

The ray case runs on a real cluster started with ``ray start`` (the session fixture ``ray_address``),
reached through its address, so its artifacts live on the S3 test server (a cluster behind an
address must not be given a local folder). Results must match an in-process reference run byte for
byte (content hashes), and records, logs, failures, cache hits and resume must read the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tidal.pipeline import Pipeline
from tidal.runtime import RunResult, resume_run, run_pipeline
from tidal.store import Workspace

TIDAL = [sys.executable, "-m", "tidal.cli"]


@dataclass
class Case:
    name: str
    options: dict[str, Any]
    cli: list[str]
    artifacts: tuple[str, dict[str, Any]] | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def workspace(self, folder: Path) -> Workspace:
        if self.artifacts is None:
            return Workspace.open(folder)
        uri, options = self.artifacts
        return Workspace.open(folder, artifacts=uri, storage_options=options)


@pytest.fixture(params=["local", "ray"])
def case(request, executions_file, monkeypatch) -> Case:
    monkeypatch.setenv("TIDAL_TEST_LOG", str(executions_file))  # local workers write where Ray's do
    if request.param == "local":
        return Case("local", {"executor": "local", "workers": 2}, ["--workers", "2"])
    address = request.getfixturevalue("ray_address")
    uri, options = request.getfixturevalue("s3_artifacts")
    endpoint = options["client_kwargs"]["endpoint_url"]
    return Case("ray", {"executor": "ray", "address": address}, ["--executor", "ray", "--address", address],
                artifacts=(uri, options), environment={"AWS_ENDPOINT_URL": endpoint})


@pytest.fixture
def executions(executions_file):
    """The component runs noted since the test started."""
    start = len(executions_file.read_text().split()) if executions_file.exists() else 0
    return lambda: (executions_file.read_text().split() if executions_file.exists() else [])[start:]


def diamond(tag: str) -> Pipeline:
    pipeline = Pipeline("diamond")
    pipeline.add("testing.source", "src", params={"rows": 6, "tag": tag})
    pipeline.add("testing.step", "left", inputs={"data": "src"}, params={"tag": f"{tag}-l"})
    pipeline.add("testing.step", "right", inputs={"data": "src"}, params={"tag": f"{tag}-r"})
    pipeline.add("testing.hold", "talk", params={"tag": f"{tag}-talk"})
    pipeline.add("testing.score", "end", inputs={"data": "left"}, params={"scale": 2.0})
    return pipeline


def hashes(result: RunResult) -> dict[str, str]:
    store = result.workspace.metadata
    return {f"{item.node_id}.{item.port}": item.content_hash for item in store.artifacts(result.id)
            if item.node_id != "talk"}  # talk's table holds times and pids


def test_same_results_records_and_logs_and_a_second_run_is_all_cache_hits(case, tmp_path, executions):
    reference = run_pipeline(diamond("same"), workspace=Workspace.open(tmp_path / "reference"), executor="inline")
    workspace = case.workspace(tmp_path / case.name)
    first = run_pipeline(diamond("same"), workspace=workspace, **case.options)
    assert first.status == "succeeded", first.run.error
    assert hashes(first) == hashes(reference) and len(hashes(first)) == 4  # byte for byte
    assert first.metrics("end") == {"rows": 12.0}
    ran = executions()
    assert sorted(ran).count("step:same-l") == 2  # the reference run and this one
    for node, record in first.nodes.items():
        assert record.status == "succeeded" and record.attempts == 1, node
        assert record.duration_s is not None and record.duration_s > 0
        assert record.peak_memory_bytes and record.finished_at is not None
        assert record.log_uri == f"logs/{first.id}/{node}.1.log"
    assert first.nodes["left"].input_rows == 6 and first.nodes["left"].input_bytes
    log = workspace.artifacts.read_bytes(first.nodes["talk"].log_uri).decode()
    assert "hold same-talk started" in log  # print
    assert "WARNING testing.hold: hold same-talk is holding" in log  # logging
    assert workspace.metadata.get_run(first.id).options["executor"] == case.name

    second = run_pipeline(diamond("same"), workspace=workspace, **case.options)
    assert second.status == "succeeded"
    assert {node: record.status for node, record in second.nodes.items()} == dict.fromkeys(
        ["src", "left", "right", "talk", "end"], "cached")
    assert executions() == ran, "a cached node ran again"
    assert hashes(second) == hashes(first)


def test_a_failing_node_is_reported_the_same_way(case, tmp_path):
    pipeline = Pipeline("failing")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.fail", "bad", inputs={"data": "src"}, params={"message": "no luck"})
    pipeline.add("testing.score", "after", inputs={"data": "bad"})
    pipeline.add("testing.step", "slow", inputs={"data": "src"}, params={"tag": "to", "seconds": 30})
    pipeline.nodes["slow"].timeout = 1.0
    workspace = case.workspace(tmp_path)
    result = run_pipeline(pipeline, workspace=workspace, **case.options)
    assert result.status == "failed"
    assert result.run.error == "failed node(s): bad, slow"
    bad = result.nodes["bad"]
    assert bad.status == "failed" and bad.error == "RuntimeError: no luck"
    assert "Traceback" in workspace.artifacts.read_bytes(bad.log_uri).decode()
    assert result.nodes["after"].status == "skipped"
    assert result.nodes["after"].error == "not run: upstream node 'bad' failed"
    assert result.nodes["slow"].status == "failed"
    assert result.nodes["slow"].error == "timed out after 1 s; raise the node's 'timeout' if it needs longer"


def write_gated(folder: Path, gate: Path) -> Path:
    nodes = [{"id": "src", "component": "testing.source", "params": {"rows": 20, "tag": "resume"}}]
    for index in range(2):
        nodes.append({"id": f"s{index}", "component": "testing.step", "inputs": {"data": "src" if not index else "s0"},
                      "params": {"tag": f"resume-{index}"}})
    nodes.append({"id": "gate", "component": "testing.wait_for_file", "inputs": {"data": "s1"},
                  "params": {"path": str(gate), "tag": "resume-gate"}})
    nodes.append({"id": "end", "component": "testing.score", "inputs": {"data": "gate"}})
    path = folder / "gated.yaml"
    path.write_text(yaml.safe_dump({"tidal": 1, "name": "gated", "nodes": nodes}, sort_keys=False))
    return path


def test_resume_after_the_driver_is_killed_recomputes_nothing(case, tmp_path, executions):
    gate = tmp_path / "gate-open"
    pipeline = write_gated(tmp_path, gate)
    artifacts = ["--artifacts", case.artifacts[0]] if case.artifacts else []
    environment = {**os.environ, **case.environment}
    driver = subprocess.Popen([*TIDAL, *artifacts, "run", str(pipeline), "--quiet", *case.cli], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=environment)
    workspace = Workspace.open(tmp_path, artifacts=case.artifacts[0] if case.artifacts else None,
                               storage_options=case.artifacts[1] if case.artifacts else None)
    run_id, deadline = None, time.time() + 120
    while time.time() < deadline and driver.poll() is None:
        runs = workspace.metadata.list_runs() if (tmp_path / ".tidal" / "tidal.db").exists() else []
        if runs:
            run_id = runs[0].id
            if {r.node_id: r.status for r in workspace.metadata.node_runs(run_id)}.get("gate") == "running":
                break
        time.sleep(0.05)
    assert run_id is not None and driver.poll() is None, driver.communicate()[0]
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = RunResult.load(workspace, run_id)
    assert before.status == "interrupted"
    finished = {node: record.finished_at for node, record in before.nodes.items() if record.status == "succeeded"}
    assert set(finished) == {"src", "s0", "s1"}
    ran = executions()

    gate.touch()
    after = resume_run(run_id, workspace=workspace)  # on the executor (and cluster) the run started on
    assert after.status == "succeeded" and after.metrics("end") == {"rows": 20.0}
    assert after.run.options["executor"] == case.name
    for node, stamp in finished.items():
        assert after.nodes[node].finished_at == stamp, f"{node} was recomputed"
    new = executions()[len(ran):]
    assert sorted(new) == ["score", "wait:resume-gate"]
    if case.name == "ray":  # the cluster it ran and resumed on: a head and a worker node
        import ray

        assert len([node for node in ray.nodes() if node["Alive"]]) == 2


def test_a_run_started_from_a_studio_on_ray_runs_on_the_operators_cluster(tmp_path, ray_address, s3_artifacts,
                                                                          executions_file, monkeypatch, executions):
    """`tidal studio --executor ray --address A`: runs go to cluster A; a request cannot name another cluster."""
    import json

    from fastapi.testclient import TestClient

    from tidal.studio import create_app

    monkeypatch.setenv("TIDAL_TEST_LOG", str(executions_file))
    uri, options = s3_artifacts
    workspace = Workspace.open(tmp_path, artifacts=uri, storage_options=options)
    pipeline = diamond("studio").to_dict()
    with TestClient(create_app(workspace, executor="ray", address=ray_address), base_url="http://127.0.0.1") as client:
        started = client.post("/api/runs", json={"pipeline": pipeline, "address": "203.0.113.9:6379"})
        assert started.status_code == 202, started.text
        with client.stream("GET", f"/api/runs/{started.json()['run_id']}/events") as stream:
            events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ") and line != "data: {}"]
    assert events[-1]["status"] == "succeeded" and events[-1]["node_id"] is None, events
    run = workspace.metadata.get_run(started.json()["run_id"])
    assert run.options["executor"] == "ray" and run.options["address"] == ray_address  # never the request's
    assert sorted(executions()) == sorted(["source:studio", "step:studio-l", "step:studio-r", "hold:studio-talk", "score"])
