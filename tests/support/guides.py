"""Docs are tests: a guide's ``python`` blocks, joined in order, run in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def guide_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.DOTALL)


def run_guide(name: str, folder: Path, *, prelude: str = "", blocks: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``docs/NAME``'s python blocks in ``folder`` (its workspace too), offline; the run must succeed."""
    found = guide_blocks(name)
    assert found and (blocks is None or len(found) == blocks), f"docs/{name}: {len(found)} python blocks"
    script = folder / "guide.py"
    script.write_text(prelude + "\n\n".join(found))
    done = subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TIDAL_HOME": str(folder), **OFFLINE})
    assert done.returncode == 0, done.stdout + done.stderr
    return done
