"""Helpers the AutoML tests import by name (``from conftest import`` is ambiguous once several test folders
have a conftest)."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).parent


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `tidal` subprocess that knows the test trainers."""
    env = os.environ.copy()
    env["TIDAL_PLUGINS"] = ",".join(filter(None, [env.get("TIDAL_PLUGINS", ""), "automl_testing"]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(HERE.parent / "support"), env.get("PYTHONPATH", "")]))
    return env
