"""A service spec served on this machine in the background: ``tidal deploy SPEC --target local`` as a child process.

::

    from tidal.serving import LocalService, ServiceSpec
    spec = ServiceSpec.model_validate({"name": "churn", "models": [
        {"name": "churn", "versions": [{"source": "models:/churn@production"}], "follow": True}]})
    service = LocalService.start(spec, workspace)      # a free loopback port; the spec is written to a YAML file
    service.wait_ready()
    service.request("POST", "/v2/models/churn/infer", body)
    service.stop()

The child is the very command a person runs by hand (``tidal deploy FILE --target local``) on the
YAML file :meth:`LocalService.start` writes, so what runs here runs the same way from a terminal.
It always listens on ``127.0.0.1`` (on a free port unless one is given), with the
repository API off, so it needs no token; requests go only to that address. The workspace's
database and artifact store reach the child through ``TIDAL_DB`` and ``TIDAL_ARTIFACTS`` in its
environment, never on its command line (which other users of the machine can read).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tidal.core._errors import TidalError
from tidal.serving._service import ServiceSpec

if TYPE_CHECKING:
    from tidal.store import Workspace

LOOPBACK = "127.0.0.1"
#: the largest answer read from the child (metrics, an inference answer); more is cut off and refused
MAX_ANSWER_BYTES = 8 * 1024 * 1024


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    """What the service answered: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class LocalService:
    """A service spec served by a ``tidal deploy`` child process on loopback."""

    spec: ServiceSpec
    spec_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.time)
    stopped: bool = False

    @property
    def port(self) -> int:
        return self.spec.server.port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, spec: ServiceSpec, workspace: Workspace, *, port: int | None = None,
              folder: Path | None = None) -> LocalService:
        """Write ``spec`` as YAML under ``folder`` (default ``.tidal/services/``) and run it; returns at once.

        ``port`` None: a free port replaces ``server.port``. Only the ``local`` target runs here; the
        repository API (``server.admin``) must be off, since nobody would know the child's generated token.
        """
        if spec.server.admin:
            raise TidalError(f"service '{spec.name}': server.admin must be off for a background local service "
                             "(its repository API would need a token nobody was shown); run it with `tidal deploy` instead")
        if spec.server.workers != 1:
            raise TidalError(f"service '{spec.name}': a background local service runs one worker (got server.workers "
                             f"{spec.server.workers}); run several with `tidal deploy` instead")
        data = spec.model_dump(mode="json", exclude_defaults=True)
        data["target"] = "local"
        data.setdefault("server", {})["port"] = port or free_port()
        spec = ServiceSpec.model_validate(data)
        target = folder or workspace.root / ".tidal" / "services"
        target.mkdir(parents=True, exist_ok=True)
        spec_path = target / f"{spec.name}.yaml"
        spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
        log_path = target / f"{spec.name}.log"
        environment = {key: value for key, value in os.environ.items() if key != "TIDAL_SERVE_TOKEN"}
        environment.update(TIDAL_DB=workspace.db_url, TIDAL_ARTIFACTS=workspace.artifacts_uri, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "tidal.cli", "--workspace", str(workspace.root), "deploy", str(spec_path),
                   "--target", "local"]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=workspace.root, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=environment)
        return cls(spec, spec_path, log_path, process)

    # -- state ---------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def health(self, timeout: float = 1.0) -> dict[str, Any]:
        """``state`` (starting, ready, not ready, exited, stopped), ``ready``, ``reason`` and the exit code if any."""
        code = self.process.poll()
        if code is not None:
            state = "stopped" if self.stopped else "exited"
            reason = "stopped from here" if self.stopped else f"the server exited with code {code}; see its log"
            return {"state": state, "ready": False, "reason": reason, "returncode": code}
        try:
            answer = self.request("GET", "/v2/health/ready", timeout=timeout)
        except TidalError:
            return {"state": "starting", "ready": False, "reason": "not listening yet (loading its models)", "returncode": None}
        if answer.status == 200:
            return {"state": "ready", "ready": True, "reason": None, "returncode": None}
        try:
            reason = str((answer.json() or {}).get("reason") or f"HTTP {answer.status}")
        except ValueError:
            reason = f"HTTP {answer.status}"
        return {"state": "not ready", "ready": False, "reason": reason, "returncode": None}

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the service answers ready; raises, with the end of its log, if it exits or times out."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health["ready"]:
                return
            if health["state"] in ("exited", "stopped") or time.monotonic() > deadline:
                raise TidalError(f"service '{self.spec.name}' is not ready ({health['reason']}):\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, limit: int = 4000) -> str:
        """The end of what the child printed (its start line, errors)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- talking to it -------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None, *, timeout: float = 30.0,
                content_type: str = "application/json") -> Answer:
        """One request to this service's own loopback address; ``path`` is a path on it, never a URL."""
        if not path.startswith("/") or path.startswith("//") or any(ord(char) < 33 for char in path):
            raise TidalError(f"'{path[:80]}' is not a path on the service (it must start with one '/')")
        headers = {"Content-Type": content_type} if body is not None else {}
        call = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
        try:
            with opener.open(call, timeout=timeout) as response:
                return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, _read(response))
        except urllib.error.HTTPError as error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, _read(error))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TidalError(f"service '{self.spec.name}' did not answer on {self.url}: {reason}") from None

    def metrics_text(self, timeout: float = 2.0) -> str:
        """Its Prometheus ``/metrics`` page."""
        answer = self.request("GET", "/metrics", timeout=timeout)
        if answer.status != 200:
            raise TidalError(f"service '{self.spec.name}' answered {answer.status} on /metrics")
        return answer.body.decode("utf-8", "replace")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the server drains for ``server.drain_seconds``, then ends), SIGKILL if it is still there after ``timeout``."""
        self.stopped = True
        if self.process.poll() is not None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _read(response: Any) -> bytes:
    body = response.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise TidalError(f"the service's answer is larger than {MAX_ANSWER_BYTES} bytes")
    return bytes(body)
