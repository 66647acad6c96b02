"""The HTTP push source: the job answers ``POST /events`` and reads what it accepted from a write-ahead log.

Each accepted request is appended to ``events.wal.jsonl`` in the job's folder (one JSON object a
line) and fsynced *before* the 2xx answer; the job reads that log as a tailed JSON Lines file (the
file source: the position is a byte offset), so what was acknowledged survives ``kill -9`` and is
processed exactly once. A request is all or nothing: a body with one malformed line is refused
with 400 (naming the line and its byte offset) and nothing of it is appended.

Answers are JSON: 200 ``{"accepted": n}``; 401 without the bearer token (read from the environment
variable named by ``token_env``: the operator chooses trust, a request never does); 404 for any
other path; 405 for another method; 411 without a Content-Length; 413 over ``max_body_bytes``
(the body is not read); 400 for malformed input; 503 when the log cannot be written (disk full):
the sender should retry. The server binds to loopback unless ``host`` says otherwise.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from tidal.core._errors import DataError
from tidal.stream._sources import FileSource, SourceBatch

WAL_NAME = "events.wal.jsonl"
MAX_BODY_BYTES = 10 << 20


class BadEvents(ValueError):
    """A request body that is not a JSON object, an array of objects, or JSON Lines of objects."""


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The rows a request body holds; :class:`BadEvents` names the line (and byte offset) or item that is wrong."""
    stripped = body.strip()
    if not stripped:
        raise BadEvents("the body is empty: send a JSON object, a JSON array of objects, or JSON Lines")
    try:
        whole = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, dict):
            return [whole]
        if isinstance(whole, list):
            for index, item in enumerate(whole):
                if not isinstance(item, dict):
                    raise BadEvents(f"item {index} of the array is a JSON {type(item).__name__}, not an object")
            return whole
        raise BadEvents(f"the body is a JSON {type(whole).__name__}, not an object or an array of objects")
    rows: list[dict[str, Any]] = []
    offset = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise BadEvents(f"line {number} (byte offset {offset}) is not valid JSON: {error}") from None
            if not isinstance(value, dict):
                raise BadEvents(f"line {number} (byte offset {offset}) is a JSON {type(value).__name__}, not an object")
            rows.append(value)
        offset += len(line) + 1
    return rows


class EventLog:
    """The append-only, fsynced log of accepted events (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()
        self.lock = threading.Lock()

    def _recover(self) -> None:
        """Cut an unfinished last line (a write killed before its fsync was never acknowledged)."""
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        if not size:
            return
        with open(self.path, "rb+") as file:
            file.seek(max(0, size - 1))
            if file.read(1) == b"\n":
                return
            step, end = 1 << 16, size
            while end > 0:
                start = max(0, end - step)
                file.seek(start)
                chunk = file.read(end - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    file.truncate(start + cut + 1)
                    break
                end = start
            else:
                file.truncate(0)
            file.flush()
            os.fsync(file.fileno())

    def append(self, rows: list[dict[str, Any]]) -> None:
        data = b"".join(orjson.dumps(row) + b"\n" for row in rows)
        with self.lock:
            with open(self.path, "ab") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())


def _handler(log: EventLog, token: str, max_body: int) -> type[BaseHTTPRequestHandler]:
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        timeout = 30  # a client that stops sending mid-request is dropped
        server_version = "tidal-stream"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
            pass

        def _answer(self, status: int, body: dict[str, Any], *, close: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/events":
                self._answer(404, {"error": "not found: events go to POST /events"}, close=True)
                return
            given = (self.headers.get("Authorization") or "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                self._answer(401, {"error": "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'"}, close=True)
                return
            if self.headers.get("Transfer-Encoding"):
                self._answer(411, {"error": "send the body with a Content-Length (chunked bodies are not accepted)"}, close=True)
                return
            lengths = self.headers.get_all("Content-Length") or []
            if len(lengths) > 1:
                self._answer(400, {"error": "more than one Content-Length header: send exactly one"}, close=True)
                return
            length_text = lengths[0] if lengths else None
            try:
                length = int(length_text) if length_text is not None and length_text.strip().isdigit() else -1
            except ValueError:
                length = -1
            if length < 0:
                self._answer(411, {"error": "a Content-Length header with the body's size in bytes is needed"}, close=True)
                return
            if length > max_body:
                self._answer(413, {"error": f"the body is {length:,} bytes, over the limit of {max_body:,}: send smaller requests"},
                             close=True)
                return
            body = self.rfile.read(length)
            if len(body) < length:
                self._answer(400, {"error": f"the body ended after {len(body):,} of {length:,} bytes"}, close=True)
                return
            try:
                rows = parse_events(body)
            except BadEvents as error:
                self._answer(400, {"error": f"{error}; nothing of this request was accepted"})
                return
            try:
                log.append(rows)
            except OSError as error:
                self._answer(503, {"error": f"the job cannot write its event log ({error.strerror or error}); "
                                            "nothing of this request was accepted: retry later"})
                return
            self._answer(200, {"accepted": len(rows)})

        def _not_allowed(self) -> None:
            self._answer(405, {"error": f"{self.command} is not accepted: send events with POST /events"}, close=True)

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    return Handler


class HttpSource:
    """Runs the ``POST /events`` server in a thread; reads the accepted events from its log."""

    kind = "http"

    def __init__(self, *, folder: Path, host: str = "127.0.0.1", port: int = 0, token_env: str,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        token = os.environ.get(token_env, "")
        if len(token) < 16:
            raise DataError(f"HTTP source: the environment variable {token_env!r} (source.token_env) must hold the bearer token "
                            f"senders use, at least 16 characters; it is {'unset' if not token else 'too short'}")
        self.log = EventLog(folder / WAL_NAME)
        self.reader = FileSource(path=self.log.path, format="jsonl")
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(self.log, token, max_body_bytes))
        except OSError as error:
            raise DataError(f"HTTP source: cannot listen on {host}:{port} ({error.strerror or error}); pick a free port") from None
        self.server.daemon_threads = True
        self.host, self.port = host, int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"tidal-http-source-{self.port}", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/events"

    def seek(self, position: dict[str, Any]) -> None:
        self.reader.seek(position)

    def lag(self) -> int:
        return self.reader.lag()

    def read(self, max_rows: int, until: dict[str, Any] | None = None) -> SourceBatch:
        return self.reader.read(max_rows, until)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
