"""Helpers for the Studio tests: reading a run's event stream, starting a real `tidal studio`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def wait_for_run(client, run_id: str) -> list[dict]:
    """Read the run's event stream to its end; returns the events."""
    import json

    events = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                events.append(json.loads(line[6:]))
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_studio(workspace: Path, *args: str) -> tuple[subprocess.Popen[str], int, Path]:
    """``tidal studio`` in a subprocess; returns once it listens."""
    port = free_port()
    log = workspace / f"studio-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tidal.cli", "studio", "--port", str(port), "--workers", "1", *args],
        cwd=workspace, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port, log
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"studio did not start: {log.read_text()}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
