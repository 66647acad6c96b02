"""docs/serving.md is a test: its python blocks run, in order, in a fresh interpreter and workspace."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from servers import free_port

GUIDE = Path(__file__).parents[2] / "docs" / "serving.md"


def test_serving_guide_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 4
    script = "\n\n".join(blocks)
    for port in ("8765", "8766", "8767"):  # the guide's ports may be taken here
        script = script.replace(port, str(free_port()))
    (tmp_path / "guide.py").write_text(script)
    done = subprocess.run([sys.executable, "guide.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / ".tidal" / "tidal.db").exists() and (tmp_path / "discount.zip").exists()
