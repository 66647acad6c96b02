"""Docs are tests: the python blocks of docs/rl.md run, in order, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_rl_guide_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "rl.md").read_text(), flags=re.DOTALL)
    assert blocks
    script = tmp_path / "guide.py"
    script.write_text("import torch\ntorch.set_num_threads(1)\n" + "\n\n".join(blocks))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TIDAL_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "cartpole-policy" / "policy.safetensors").is_file()
