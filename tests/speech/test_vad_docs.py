"""Docs are tests: the python blocks of docs/speech.md run, in order, in a fresh interpreter, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_speech_guide_runs_offline(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "speech.md").read_text(), flags=re.DOTALL)
    assert blocks
    script = tmp_path / "guide.py"
    script.write_text("\n\n".join(blocks))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TIDAL_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "duration" in done.stdout
