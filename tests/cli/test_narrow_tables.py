"""At 60 columns the ids every later command needs are printed whole."""

from __future__ import annotations

import os
import subprocess
import sys

import tidal
from tidal.pipeline import Pipeline


def test_runs_list_never_cuts_the_run_id(workspace):
    pipeline = Pipeline("a-pipeline-with-a-rather-long-name")
    pipeline.add("testing.source", "src")
    result = tidal.run(pipeline, workspace=workspace, workers=0)
    shown = subprocess.run([sys.executable, "-m", "tidal.cli", "runs", "list"], capture_output=True, text=True,
                           timeout=120, cwd=workspace.root, env={**os.environ, "COLUMNS": "60", "TIDAL_HOME": str(workspace.root)})
    assert shown.returncode == 0, shown.stderr
    assert result.id in shown.stdout
