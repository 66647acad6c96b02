"""Helpers the serving tests import by name (a conftest is not importable by name once several test folders
have one: ``from conftest import`` finds whichever was imported first)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
from servers import free_port

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width", "petal_band", "garden"]


def feature_names(frame: pd.DataFrame) -> list[str]:
    return [name for name in frame.columns if name != "target"]


@contextmanager
def running_server(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """``tidal serve ARGS`` on a free loopback port; yields (base URL, process) once it is ready."""
    port = free_port()
    command = [sys.executable, "-m", "tidal.cli", "serve", *args, "--port", str(port)]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}: {process.stdout.read()}")
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise AssertionError("server did not become ready in time")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
