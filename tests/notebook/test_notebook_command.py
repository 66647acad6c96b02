"""`tidal notebook` starts a real JupyterLab in the workspace (as root too, as in CI containers), with
TIDAL_WORKSPACE set for its kernels; it answers on loopback with the token it was given."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from servers import free_port

SRC = Path(__file__).resolve().parents[2] / "src"



def test_tidal_notebook_serves_jupyterlab_in_the_workspace(tmp_path):
    port, token = free_port(), "t" * 32
    (tmp_path / "analysis.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    environment = {**os.environ, "PYTHONPATH": str(SRC), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen([sys.executable, "-m", "tidal.cli", "notebook", str(tmp_path), "--no-browser",
                                "--port", str(port), "--token", token], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = None
        deadline = time.monotonic() + 120  # bounds a failing start only; no speed is asserted
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status is not None and status.status_code == 200, process.stdout.read().decode() if process.poll() is not None else "no answer"
        assert httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).status_code == 403   # the token is needed
        contents = httpx.get(f"http://127.0.0.1:{port}/api/contents", params={"token": token}, timeout=5).json()
        assert "analysis.ipynb" in {item["name"] for item in contents["content"]}   # rooted in the project folder
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
