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

# the S3 server and the Ray cluster that tests in several folders share (one start per test run)
pytest_plugins = ["ray_session"]

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # xdist workers side by side share the cores between their native thread pools (OpenMP, BLAS, PyTorch),
    # as Tidal's AutoML trials do: with one thread per core in each, OpenMP's spinning threads oversubscribe
    # them (a scikit-learn HistGradientBoosting docs example went from 0.4 s to 20 s beside another worker).
    # Set before numpy, scikit-learn or torch load; the processes the tests start inherit it.
    _share = max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_name, str(_share))

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
