"""Hostile stream job files, checkpoints, messages and SQL: each attack fails, and its effect is proven absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tidal.core._errors import DataError
from tidal.stream import _checkpoint
from tidal.stream._checkpoint import CheckpointError
from tidal.stream._job_spec import JobError, parse
from tidal.stream._runner import StreamJob
from tidal.stream._sources import MAX_MESSAGE_BYTES

SECRET = "tidal-secret-7f3a9c"


def _job(sinks=None, steps=None, name="hostile", source=None):
    return {"tidal-stream": 1, "name": name, "source": source or {"kind": "file", "path": "events.jsonl"},
            "batch": {"max_rows": 10}, "steps": steps or [], "sinks": sinks or [{"kind": "files", "path": "out"}]}


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / ".tidal").mkdir(parents=True)
    (root / "events.jsonl").write_text("".join(json.dumps({"id": i, "t": i, "v": float(i)}) + "\n" for i in range(25)))
    return root


@pytest.mark.parametrize("where", ["../escaped", "/tmp/tidal-stream-escaped-abs", "out/../../escaped2"])
def test_sink_outside_the_workspace_is_refused(workspace, where):
    with pytest.raises(JobError, match="outside the workspace"):
        StreamJob(parse(_job(sinks=[{"kind": "files", "path": where}]), workspace))
    assert not (workspace.parent / "escaped").exists() and not Path("/tmp/tidal-stream-escaped-abs").exists()
    assert not (workspace.parent / "escaped2").exists()


def test_sink_through_a_link_that_leaves_the_workspace_is_refused(workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "link").symlink_to(outside)
    with pytest.raises(JobError, match="outside the workspace"):
        StreamJob(parse(_job(sinks=[{"kind": "files", "path": "link/out"}]), workspace))
    assert list(outside.iterdir()) == []


def test_sources_tables_and_names_outside_the_workspace_are_refused(workspace, tmp_path):
    (tmp_path / "secret.csv").write_text(f"k,value\n1,{SECRET}\n")
    with pytest.raises(JobError, match="outside the workspace"):
        parse(_job(source={"kind": "file", "path": "../secret.csv", "format": "csv"}), workspace)
    join = {"id": "j", "component": "stream.join_table", "params": {"table": "../secret.csv", "key": "k"}}
    with pytest.raises(JobError, match="outside the workspace") as error:
        StreamJob(parse(_job(steps=[join]), workspace))
    assert SECRET not in str(error.value)
    with pytest.raises(JobError, match="'name'"):
        parse(_job(name="../../evil"), workspace)
    assert not (workspace / ".tidal" / "evil").exists() and not (workspace.parent / "evil").exists()


def test_a_tampered_checkpoint_is_refused_and_nothing_is_written(workspace):
    spec = parse(_job(steps=[{"id": "learn", "component": "stream.learn_ftrl", "params": {"label": "y", "features": ["v"]}}]), workspace)
    (workspace / "events.jsonl").write_text("".join(json.dumps({"id": i, "v": i / 10, "y": i % 2}) + "\n" for i in range(25)))
    job = StreamJob(spec)
    job.run(max_batches=2)
    path = spec.folder / "checkpoint"
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b'"epoch":2', b'"epoch":0'))       # rewind: would replay and duplicate outputs
    before = sorted(p.name for p in (workspace / "out").iterdir())
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        StreamJob(spec)
    assert sorted(p.name for p in (workspace / "out").iterdir()) == before


def test_a_checkpoint_with_a_valid_checksum_but_an_object_array_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    document = {"steps": {"__array__": "object", "shape": [1], "data": "gASVAAAAAAAAAAA="}, "cmd": f"touch {marker}"}
    body = json.dumps(document).encode()
    import hashlib

    header = json.dumps({"format": "tidal-stream-checkpoint", "version": 1, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)})
    (tmp_path / "checkpoint").write_bytes(header.encode() + b"\n" + body)
    with pytest.raises(CheckpointError, match="unknown dtype"):
        _checkpoint.load(tmp_path / "checkpoint")
    assert not marker.exists()


def test_a_huge_message_goes_to_the_dead_letters_without_stopping_the_job(workspace):
    huge = json.dumps({"id": 999, "t": 0, "v": 1.0, "pad": SECRET + "x" * (MAX_MESSAGE_BYTES + 10)})
    lines = [json.dumps({"id": i, "t": i, "v": 1.0}) for i in range(5)] + [huge] + [json.dumps({"id": i, "t": i, "v": 1.0}) for i in range(5, 9)]
    (workspace / "events.jsonl").write_text("\n".join(lines) + "\n")
    spec = parse(_job(), workspace)
    job = StreamJob(spec)
    progress = job.run(until_idle=True)
    assert progress.rows == 9
    out = pd.concat([pd.read_json(p, lines=True) for p in sorted((workspace / "out").glob("part-*"))])
    assert sorted(out["id"]) == list(range(9))
    dead = [json.loads(line) for p in sorted((spec.folder / "dead-letter").glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert len(dead) == 1 and "over the limit" in dead[0]["reason"] and dead[0]["offset"] == sum(len(x) + 1 for x in lines[:5])
    assert len(json.dumps(dead[0])) < 2000                          # the message is not copied whole


@pytest.mark.parametrize("step", [
    {"component": "stream.filter", "params": {"condition": "v IN (SELECT 1 FROM read_csv('{secret}'))"}},
    {"component": "stream.select", "params": {"columns": ["(SELECT string_agg(column0, '') FROM read_csv('{secret}')) AS leak"]}},
    {"component": "stream.select", "params": {"columns": ["v FROM batch; COPY batch TO '{marker}'; SELECT v"]}},
    {"component": "stream.map", "params": {"columns": {"x": "1); ATTACH '{marker}' AS evil; SELECT (1"}}},
    {"component": "stream.filter", "params": {"condition": "true); INSTALL httpfs; SELECT * FROM batch WHERE (true"}},
    {"component": "stream.select", "params": {"columns": ["* FROM read_text('{secret}') --"]}},
])
def test_sql_cannot_read_or_write_files(workspace, tmp_path, step):
    secret = tmp_path / "secret.csv"
    secret.write_text(f"{SECRET}\n")
    marker = tmp_path / "marker.out"
    params = json.loads(json.dumps(step["params"]).replace("{secret}", str(secret)).replace("{marker}", str(marker)))
    spec = parse(_job(steps=[{"id": "sql", "component": step["component"], "params": params}]), workspace)
    with pytest.raises(DataError) as error:
        StreamJob(spec).run(until_idle=True)
    assert SECRET not in str(error.value)
    assert "sandbox" in str(error.value) or "one SELECT" in str(error.value)
    assert not marker.exists()
    outputs = list((workspace / "out").glob("*")) if (workspace / "out").exists() else []
    assert all(SECRET not in p.read_text() for p in outputs)
    assert os.path.getsize(secret) == len(SECRET) + 1


def test_a_warm_start_package_outside_the_workspace_is_refused(workspace, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    learn = {"id": "learn", "component": "stream.learn_ftrl",
             "params": {"label": "v", "features": ["t"], "warm_start": "../elsewhere"}}
    with pytest.raises(JobError, match="outside the workspace"):
        StreamJob(parse(_job(steps=[learn]), workspace))
    learn["params"]["warm_start"] = str(tmp_path / "elsewhere")
    with pytest.raises(JobError, match="outside the workspace"):
        StreamJob(parse(_job(steps=[learn]), workspace))
