"""``GET /api/streams``: the workspace's stream jobs with state, epoch, rows, throughput, lag, dead letters and model metric."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from tidal.stream import list_jobs, parse_job
from tidal.stream._runner import StreamJob


def _run_job(root, name="clicks", rows=3000, model=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=rows) > 0).astype(int)
    lines = [json.dumps({"x1": a, "x2": b, "y": int(c)}) for a, b, c in zip(X[:, 0], X[:, 1], y, strict=True)]
    lines.insert(10, "{broken")
    (root / "events.jsonl").write_text("\n".join(lines) + "\n")
    data = {"tidal-stream": 1, "name": name, "source": {"kind": "file", "path": "events.jsonl"}, "batch": {"max_rows": 500},
            "steps": [{"id": "learn", "component": "stream.learn_ftrl",
                       "params": {"label": "y", "features": ["x1", "x2"], "snapshot_every": 1000}}],
            "sinks": [{"kind": "files", "path": f"out/{name}"}]}
    if model:
        data["model"] = {"name": model}
    job = StreamJob(parse_job(data, root))
    try:
        job.run(until_idle=True)
    finally:
        job.close()
    return job


def test_the_route_lists_jobs_with_their_progress_and_model_metric(client, demo_ws):
    _run_job(demo_ws, model="clicks")
    (demo_ws / ".tidal" / "streams" / "waiting").mkdir()                     # a job folder without a status yet
    response = client.get("/api/streams")
    assert response.status_code == 200, response.text
    jobs = {job["job"]: job for job in response.json()}
    assert set(jobs) == {"clicks", "waiting"}
    clicks = jobs["clicks"]
    assert clicks["state"] == "stopped" and clicks["rows"] == 3000 and clicks["dead_letters"] == 1
    assert clicks["epoch"] == 7 and clicks["outputs"] == 3000 and clicks["registered_model"] == "clicks"
    assert clicks["lag"] is not None and clicks["lag"] >= 0        # read by the job itself, with no live progress asking
    decisions = [json.loads(path.read_text()) for path in sorted((demo_ws / ".tidal" / "streams" / "clicks" / "snapshots").glob("snapshot-*.json"))]
    last_accepted = [d for d in decisions if d["accepted"]][-1]
    model = clicks["model"]
    assert model["proposed"] == len(decisions) == 2 and model["metric"] == "log_loss"
    assert model["value"] == last_accepted["value"] and model["snapshot"] == last_accepted["index"]
    assert model["version"] == len([d for d in decisions if d["accepted"]])   # registered as versions 1..n
    assert model["last"]["index"] == 2
    assert jobs["waiting"]["state"] == "never run" and jobs["waiting"]["model"] is None
    assert response.json() == [json.loads(json.dumps(item)) for item in response.json()]
    assert [job["job"] for job in list_jobs(demo_ws)] == ["clicks", "waiting"]   # the same reader as `tidal stream list`


def test_a_running_job_whose_process_is_gone_is_reported_dead_and_bad_files_do_not_break_the_list(client, demo_ws):
    folder = demo_ws / ".tidal" / "streams"
    (folder / "ghost").mkdir(parents=True)
    (folder / "ghost" / "status.json").write_text(json.dumps({"job": "ghost", "state": "running", "epoch": 3, "rows": 9}))
    (folder / "ghost" / "pid").write_text("999999999")
    (folder / "garbled").mkdir()
    (folder / "garbled" / "status.json").write_text("{not json")
    (folder / "huge").mkdir()
    (folder / "huge" / "status.json").write_bytes(b" " * (1024 * 1024 + 1))
    (folder / "liar").mkdir()
    (folder / "liar" / "status.json").write_text(json.dumps({"job": "../etc", "state": "stopped", "rows": "many", "lag": [1]}))
    outside = demo_ws.parent / "outside-job"
    outside.mkdir()
    (outside / "status.json").write_text(json.dumps({"state": "stopped", "rows": 1}))
    os.symlink(outside, folder / "linked")
    jobs = {job["job"]: job for job in client.get("/api/streams").json()}
    assert set(jobs) == {"ghost", "garbled", "huge", "liar"}           # a link out of the workspace is not followed
    assert jobs["ghost"]["state"].startswith("dead") and jobs["ghost"]["epoch"] == 3
    assert jobs["garbled"]["state"] == jobs["huge"]["state"] == "unreadable status"
    assert jobs["liar"]["rows"] == 0 and jobs["liar"]["lag"] is None


def test_no_jobs_is_an_empty_list(client):
    assert client.get("/api/streams").json() == []
    assert pd.DataFrame(client.get("/api/streams").json()).empty
