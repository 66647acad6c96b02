"""Hostile requests to a stream job's HTTP push source: no or wrong token, huge bodies, bad JSON, path tricks."""

from __future__ import annotations

import json
import socket

import pytest

from tidal.core._errors import DataError
from tidal.stream._http_source import WAL_NAME
from tidal.stream._job_spec import JobError, parse
from tidal.stream._runner import StreamJob

TOKEN = "hostile-test-token-abcdefghijklmnop"


def _job(source: dict) -> dict:
    return {"tidal-stream": 1, "name": "push", "source": source, "steps": [], "sinks": [{"kind": "files", "path": "out"}]}


@pytest.fixture
def pushed(tmp_path, monkeypatch):
    monkeypatch.setenv("PUSH_TOKEN", TOKEN)
    spec = parse(_job({"kind": "http", "port": 0, "token_env": "PUSH_TOKEN", "max_body_bytes": 4096}), tmp_path)
    stream = StreamJob(spec)
    yield stream
    stream.close()


def raw(port: int, request: bytes) -> tuple[int, dict]:
    """Send exact bytes; the status and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), None)
            if length is not None and len(body) >= length:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return int(head.split(b" ")[1]), json.loads(body)


def request(body: bytes, *, path: str = "/events", token: str | None = TOKEN, method: str = "POST", extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body


def _log(stream: StreamJob) -> bytes:
    path = stream.folder / WAL_NAME
    return path.read_bytes() if path.exists() else b""


@pytest.mark.parametrize("token", [None, "", "wrong-token-but-long-enough-xxxxx", TOKEN[:-1], TOKEN + "x", TOKEN.upper()])
def test_no_or_wrong_token_is_401_and_nothing_is_appended(pushed, token):
    status, body = raw(pushed.source.port, request(b'{"id": 1}', token=token))
    assert status == 401 and "bearer token" in body["error"]
    assert _log(pushed) == b""


def test_another_scheme_or_a_token_in_the_query_is_not_trusted(pushed):
    status, _ = raw(pushed.source.port, request(b'{"id": 1}', token=None, extra=f"Authorization: Basic {TOKEN}\r\n"))
    assert status == 401
    status, _ = raw(pushed.source.port, request(b'{"id": 1}', token=None, path=f"/events?token={TOKEN}"))
    assert status == 401
    assert _log(pushed) == b""


def test_a_huge_body_is_413_without_being_read(pushed):
    head = f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {10**12}\r\n\r\n".encode()
    status, body = raw(pushed.source.port, head + b"[" * 100)        # claims a terabyte, sends 100 bytes
    assert status == 413 and "over the limit of 4,096" in body["error"]
    status, _ = raw(pushed.source.port, request(b"[" + b'{"a": 1},' * 600 + b'{"a": 1}]'))
    assert status == 413
    assert _log(pushed) == b""


@pytest.mark.parametrize(("body", "names"), [
    (b"{not json", "not valid JSON"),
    (b'{"id": 1}\n{"id": 2}\n{broken\n{"id": 4}', "line 3 (byte offset 20)"),
    (b'{"id": 1}\n[1, 2]', "line 2 (byte offset 10) is a JSON list"),
    (b'[{"id": 1}, 7]', "item 1 of the array"),
    (b'"just a string"', "not an object"),
    (b"   \n  ", "empty"),
    (b'{"id": NaN}', "not valid JSON"),
    (b'\xff\xfe{"id": 1}', "not valid JSON"),
])
def test_malformed_bodies_are_400_naming_where_and_nothing_is_appended(pushed, body, names):
    status, answer = raw(pushed.source.port, request(body))
    assert status == 400 and names in answer["error"] and "nothing of this request was accepted" in answer["error"]
    assert _log(pushed) == b""


@pytest.mark.parametrize("path", ["/events/../../etc/passwd", "/../events", "/%2e%2e/events", "/events%00",
                                  "/EVENTS", "/events/", "/" + "a" * 5000, "http://evil/events"])
def test_only_post_events_exists_other_paths_are_404(pushed, path):
    status, answer = raw(pushed.source.port, request(b'{"id": 1}', path=path))
    assert status in (404, 414) and isinstance(answer, dict)
    assert _log(pushed) == b""
    assert sorted(p.name for p in pushed.folder.iterdir() if p.name != "status.json") in ([], [WAL_NAME])


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(pushed, method):
    status, answer = raw(pushed.source.port, request(b"", method=method))
    assert status == 405 and "POST /events" in answer["error"]


def test_no_content_length_or_chunked_is_411(pushed):
    status, _ = raw(pushed.source.port, f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    assert status == 411
    chunked = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
               "9\r\n{\"id\": 1}\r\n0\r\n\r\n").encode()
    status, _ = raw(pushed.source.port, chunked)
    assert status == 411
    status, _ = raw(pushed.source.port, request(b'{"id": 1}', extra="Content-Length: -5\r\n"))
    assert status in (400, 411)
    assert _log(pushed) == b""


def test_a_good_request_after_the_attacks_is_accepted_and_read(pushed):
    raw(pushed.source.port, request(b"{not json"))
    status, answer = raw(pushed.source.port, request(b'{"id": 1, "note": "\\u0000 and \\"quotes\\""}'))
    assert (status, answer) == (200, {"accepted": 1})
    pushed.run(until_idle=True)
    assert pushed.rows == 1 and pushed.dead_count == 0


@pytest.mark.parametrize(("value", "message"), [(None, "unset"), ("short", "too short")])
def test_a_missing_or_weak_token_stops_the_job_before_it_listens(tmp_path, monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv("PUSH_TOKEN", raising=False)
    else:
        monkeypatch.setenv("PUSH_TOKEN", value)
    spec = parse(_job({"kind": "http", "port": 0, "token_env": "PUSH_TOKEN"}), tmp_path)
    with pytest.raises(DataError, match=message):
        StreamJob(spec)


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "http", "port": 0}, "token_env"),
    ({"kind": "http", "port": 0, "token_env": "A; rm -rf /"}, "token_env"),
    ({"kind": "http", "port": 70000, "token_env": "T"}, "port must be"),
    ({"kind": "http", "port": 0, "token_env": "T", "max_body_bytes": 0}, "max_body_bytes"),
])
def test_bad_http_sources_are_refused_in_the_job_file(tmp_path, source, message):
    with pytest.raises(JobError, match=message):
        parse(_job(source), tmp_path)
