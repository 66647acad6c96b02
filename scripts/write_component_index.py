"""Write src/tidal/components/_index.json: which module defines each built-in component.

The registry reads it to find a built-in component by importing its module alone. Run this after
adding, renaming or moving a built-in component (a test fails until the index is current):

    .venv/bin/python scripts/write_component_index.py
"""

from __future__ import annotations

import json
from pathlib import Path

from tidal.core._registry import INDEX_FILE, registry

TARGET = Path(__file__).resolve().parent.parent / "src" / "tidal" / "components" / INDEX_FILE


def render() -> str:
    return json.dumps(registry.built_in_index(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET} ({len(registry.built_in_index())} components)")
