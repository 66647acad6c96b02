"""NNCF sends usage telemetry unless it believes it runs in CI: the search never lets it phone home.

Checked in a fresh interpreter, since NNCF turns its telemetry off by itself under pytest: with
telemetry allowed by the environment (no ``CI``, ``NNCF_CI`` or ``NNCF_DEV``), whether Tidal imports NNCF
first or the user did, every object NNCF sends events through is its stub once the search has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nncf")
pytest.importorskip("openvino")

SRC = Path(__file__).resolve().parents[2] / "src"
CHECK = ("{first}from tidal.optimize._openvino import _nncf; _nncf()\n"
         "from nncf.telemetry import wrapper, decorator\n"
         "import nncf.telemetry as package\n"
         "print(all(isinstance(module.telemetry, wrapper.NNCFTelemetryStub) for module in (wrapper, decorator, package)))")


@pytest.mark.parametrize("first", ["", "import nncf\n"], ids=["tidal-imports-nncf", "the-user-imported-nncf-before"])
def test_nncf_telemetry_is_off_whoever_imported_it_first(first, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "NNCF_CI", "NNCF_DEV")}
    env.update(PYTHONPATH=str(SRC), HOME=str(tmp_path))  # no consent file of the machine's user is read
    done = subprocess.run([sys.executable, "-c", CHECK.format(first=first)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True", done.stdout
