"""A real Studio (``tidal studio`` in a subprocess on loopback) and a real headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"



def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tidal studio exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"tidal studio did not listen on port {port}:\n{log.read_text()}")


@pytest.fixture
def studio_workspace(tmp_path):
    """The demo data (breast-cancer CSV) without its pipeline: the test builds that itself."""
    from tidal.cli._demo import write_demo_workspace

    write_demo_workspace(tmp_path)
    (tmp_path / "pipelines" / "demo.yaml").unlink()
    return tmp_path


@contextmanager
def _serve(workspace: Path, *options: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = workspace / f"studio-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tidal.cli", "studio", "--port", str(port), "--workers", "1", *options],
            cwd=workspace, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait_for(port, process, log)
        yield f"http://127.0.0.1:{port}", workspace
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def demo_studio_server(tmp_path):
    """``tidal studio`` in the workspace `tidal demo` writes, its pipeline included."""
    from tidal.cli._demo import write_demo_workspace

    write_demo_workspace(tmp_path)
    with _serve(tmp_path) as served:
        yield served


@pytest.fixture
def studio_server(studio_workspace):
    """``tidal studio`` on loopback (no token)."""
    with _serve(studio_workspace) as served:
        yield served


TOKEN = "e2e-token-0123456789abcdef0123456789"


@pytest.fixture
def locked_server(studio_workspace):
    """``tidal studio --host 0.0.0.0``: every route needs the token; yields (url, workspace, token)."""
    with _serve(studio_workspace, "--host", "0.0.0.0", "--token", TOKEN) as (url, workspace):
        yield url, workspace, TOKEN


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test file (starting one costs about 2 s); each test gets it through
    ``browser``, which closes the pages and contexts the test opened. Not one per session: Playwright's
    sync API keeps its asyncio loop running while it is open, and a later file's ``asyncio.run`` would fail."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    from playwright.sync_api import (
        sync_playwright,  # pip install playwright (never `playwright install`)
    )

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def browser(chromium):
    yield chromium
    for context in list(chromium.contexts):  # what this test opened: the next test starts with none
        context.close()


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS



@pytest.fixture
def studies_studio_server(tmp_path):
    """``tidal studio`` over a workspace whose pipeline has two ``automl.tune`` nodes, one of them run (a finished study)."""
    from studies_workspace import write_tune_workspace

    write_tune_workspace(tmp_path)
    with _serve(tmp_path) as served:
        yield served


@pytest.fixture
def models_studio_server(tmp_path):
    """``tidal studio`` over a workspace where a three-feature classifier was trained twice (two Model outputs)."""
    from models_workspace import write_models_workspace

    write_models_workspace(tmp_path)
    with _serve(tmp_path) as served:
        yield served
    # the Studio has stopped (SIGTERM): no service it started is left running
    services = str(tmp_path / ".tidal" / "services").encode()
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and services in (entry / "cmdline").read_bytes():
                left.append(entry.name)
        except OSError:  # the process ended while we looked
            continue
    assert left == [], f"services outlived the Studio: pids {left}"
@pytest.fixture(scope="module")
def network_studio_server(tmp_path_factory):
    """``tidal studio`` on loopback over the network editor's workspace (one server for the file's tests)."""
    from network_workspace import write_network_workspace

    root = write_network_workspace(tmp_path_factory.mktemp("network-editor"))
    with _serve(root) as served:
        yield served


@pytest.fixture
def optimize_studio_server(tmp_path):
    """``tidal studio`` over a workspace holding examples/optimize.yaml (iris, logistic regression, model.optimize), not yet run."""
    (tmp_path / "pipelines").mkdir()
    example = Path(__file__).resolve().parents[2] / "examples" / "optimize.yaml"
    (tmp_path / "pipelines" / "optimize.yaml").write_text(example.read_text())
    with _serve(tmp_path) as served:
        yield served
