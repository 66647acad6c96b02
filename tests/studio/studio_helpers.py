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
    """``tidal studio`` in a subprocess; returns once it answers HTTP on its port.

    A free port can be taken by another process (a Ray worker, another test's server) between
    :func:`free_port` and the Studio binding it: the Studio then exits with "address already in use"
    while the port still accepts connections. So readiness is an HTTP answer while the Studio lives, and
    a lost port is tried again with another."""
    for attempt in range(3):
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
                text = log.read_text()
                if "address already in use" in text.lower() and attempt < 2:
                    break
                raise RuntimeError(text)
            if _answers_http(port) and process.poll() is None:
                return process, port, log
            time.sleep(0.2)
        else:
            process.kill()
            raise RuntimeError(f"studio did not start: {log.read_text()}")
    raise RuntimeError("studio could not bind a free port in 3 tries")


def _answers_http(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            return connection.recv(5) == b"HTTP/"
    except OSError:
        return False


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
