"""Docs are tests: every ```python block of these guides runs, in order, in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
EXECUTED = ["tutorial.md", "components.md", "nn.md"]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("name", EXECUTED)
def test_guide_runs(name, tmp_path):
    blocks = python_blocks((DOCS / name).read_text())
    assert blocks, f"{name} has no python blocks"
    script = tmp_path / "guide.py"
    script.write_text("\n\n".join(block for block in blocks if "parametrize_with_checks" not in block))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_component_catalogue_is_current(tmp_path):
    """docs/components/ is generated from the registry; regenerate with `tidal components docs`."""
    from tidal.cli._catalog import write_catalogue

    write_catalogue(tmp_path)
    committed = DOCS / "components"
    for page in sorted(tmp_path.glob("*.md")):
        assert (committed / page.name).read_text() == page.read_text(), f"docs/components/{page.name} is stale: run `tidal components docs`"
