"""Shared fixtures. Test-only components (tests/support/testing_components.py) load through TIDAL_PLUGINS."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))
os.environ["TIDAL_PLUGINS"] = "testing_components"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH", "")]))
# networks trained with torch.compile keep their compile caches here, not in the user's cache folder
os.environ.setdefault("TIDAL_COMPILE_CACHE", os.path.join(tempfile.mkdtemp(prefix="tidal-test-compile-"), "compile"))

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # pytest-xdist's workers ignore SIGINT, and every process they start would inherit that, so the
    # Ctrl-C tests could never interrupt the commands they start: give SIGINT its default back
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def workspace(tmp_path):
    from tidal.store import Workspace

    ws = Workspace.open(tmp_path)
    yield ws
    ws.close()


@pytest.fixture
def execution_log(tmp_path, monkeypatch):
    """A file every test component appends its name to when it runs."""
    log = tmp_path / "executions.log"
    monkeypatch.setenv("TIDAL_TEST_LOG", str(log))

    def read() -> list[str]:
        return log.read_text().split() if log.exists() else []

    return read


@pytest.fixture
def demo_files(tmp_path):
    from tidal.cli._demo import write_demo_workspace

    return write_demo_workspace(tmp_path)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the longest files first and the Ray cluster's files on one worker
    (tests/support/scheduling.py); every other mode as xdist has it."""
    if config.getvalue("dist") != "loadfile":
        return None
    from scheduling import LongestFirstScheduling

    return LongestFirstScheduling(config, log)
