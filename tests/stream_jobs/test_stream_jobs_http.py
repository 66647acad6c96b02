"""The HTTP push source: POST /events appended (fsynced) to a write-ahead log before the answer; the job reads the log."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from stream_job_helpers import job, read_parts

from tidal.stream import _checkpoint
from tidal.stream._http_source import WAL_NAME
from tidal.stream._job_spec import parse
from tidal.stream._runner import StreamJob

TOKEN = "s3cret-token-for-tests-0123456789"


def post(port: int, body: bytes, *, token: str | None = TOKEN, path: str = "/events") -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("TIDAL_TEST_EVENTS_TOKEN", TOKEN)
    return "TIDAL_TEST_EVENTS_TOKEN"


def test_objects_arrays_and_json_lines_are_read_by_the_job_in_order(tmp_path, token):
    spec = parse(job("push", {"kind": "http", "port": 0, "token_env": token}, [], [{"kind": "files", "path": "out"}], max_rows=3),
                 tmp_path)
    stream = StreamJob(spec)
    try:
        port = stream.source.port
        assert stream.source.host == "127.0.0.1"
        assert post(port, b'{"id": 0, "x": 0.5}') == (200, {"accepted": 1})
        assert post(port, json.dumps([{"id": 1, "x": 1.5}, {"id": 2, "x": 2.5}]).encode()) == (200, {"accepted": 2})
        assert post(port, b'{"id": 3, "x": 3.5}\n\n{"id": 4, "x": 4.5}\n') == (200, {"accepted": 2})
        stream.run(until_idle=True)
    finally:
        stream.close()
    rows = read_parts(tmp_path / "out")
    assert rows["id"].tolist() == [0, 1, 2, 3, 4] and rows["x"].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert stream.epoch == 2                                      # max_rows 3: two epochs


def test_an_unfinished_log_line_is_cut_when_the_source_starts(tmp_path, token):
    spec = parse(job("torn", {"kind": "http", "port": 0, "token_env": token}, [], [{"kind": "files", "path": "out"}]), tmp_path)
    spec.folder.mkdir(parents=True)
    (spec.folder / WAL_NAME).write_bytes(b'{"id": 0}\n{"id": 1}\n{"id": 2, "x"')   # killed before its fsync: never acknowledged
    stream = StreamJob(spec)
    try:
        assert (spec.folder / WAL_NAME).read_bytes() == b'{"id": 0}\n{"id": 1}\n'
        assert post(stream.source.port, b'{"id": 3}') == (200, {"accepted": 1})
        stream.run(until_idle=True)
    finally:
        stream.close()
    assert read_parts(tmp_path / "out")["id"].tolist() == [0, 1, 3]
    assert stream.dead_count == 0


def test_a_log_that_cannot_be_written_answers_503_and_accepts_nothing(tmp_path, token):
    spec = parse(job("full", {"kind": "http", "port": 0, "token_env": token}, [], [{"kind": "files", "path": "out"}]), tmp_path)
    spec.folder.mkdir(parents=True)
    (spec.folder / WAL_NAME).symlink_to("/dev/full")               # every write fails: no space left on device
    stream = StreamJob(spec)
    try:
        status, body = post(stream.source.port, b'{"id": 1}')
        assert status == 503 and "cannot write its event log" in body["error"] and "retry" in body["error"]
    finally:
        stream.close()


def _committed_rows(folder: Path) -> int:
    try:
        document = _checkpoint.load(folder / "checkpoint")
    except Exception:  # noqa: BLE001 - atomic rename: never torn; guard anyway
        return -1
    return -1 if document is None else int(document["rows"])


def _post_when_up(port: int, body: bytes) -> tuple[int, dict]:
    for _ in range(600):
        try:
            return post(port, body)
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the job's HTTP server never came up")


def test_events_acknowledged_before_kill_9_are_processed_exactly_once(tmp_path, token):
    from servers import free_port

    port = free_port()
    (tmp_path / ".tidal").mkdir()
    spec = job("pushed", {"kind": "http", "port": port, "token_env": token}, [], [{"kind": "files", "path": "out"}], max_rows=7)
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    folder = tmp_path / ".tidal" / "streams" / "pushed"
    command = [sys.executable, "-m", "tidal.cli", "stream", "run", str(tmp_path / "job.yaml"), "-q", "-w", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    accepted = 0
    for life in range(4):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for batch in range(5):
            records = [{"id": accepted + i, "life": life} for i in range(3 + batch)]
            status, answer = _post_when_up(port, "\n".join(json.dumps(r) for r in records).encode())
            assert status == 200 and answer == {"accepted": len(records)}
            accepted += len(records)
        if life < 3:
            process.send_signal(signal.SIGKILL)                     # mid-flight: epochs may be half done
        else:
            for _ in range(600):                                    # the last life finishes reading, then stops
                if _committed_rows(folder) == accepted:
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
        _out, errors = process.communicate(timeout=60)
        assert process.returncode in (0, -signal.SIGKILL), errors.decode()[-2000:]
    ids = read_parts(tmp_path / "out")["id"].tolist()
    assert sorted(ids) == list(range(accepted))                     # every acknowledged event once: none lost, none twice
