"""The built-in component index: current, and finding a built-in component imports its module alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tidal.core._registry import INDEX_FILE, read_index, registry

INDEX = Path(__file__).resolve().parents[2] / "src" / "tidal" / "components" / INDEX_FILE


def test_index_is_current() -> None:
    committed = json.loads(INDEX.read_text(encoding="utf-8"))
    assert committed == registry.built_in_index(), (
        "src/tidal/components/_index.json is stale: run `.venv/bin/python scripts/write_component_index.py`")
    assert read_index() == committed


PROBE = """
import json, sys
from tidal.core import registry
spec = registry.find("io.read_csv")
same = registry.get("classification.logistic_regression")
missing = registry.find("io.no_such_component")
print(json.dumps({
    "found": spec.id, "got": same.id, "missing": missing,
    "modules": sorted(name for name in sys.modules if name.startswith("tidal.components.")),
}))
"""


def test_finding_a_built_in_component_imports_only_its_module() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["found"] == "io.read_csv" and found["got"] == "classification.logistic_regression"
    assert found["missing"] is None  # an unknown id still loads everything before it answers None


def test_a_first_lookup_leaves_other_families_unimported() -> None:
    probe = ("import json, sys\nfrom tidal.core import registry\nregistry.find('io.read_csv')\n"
             "registry.get('classification.logistic_regression')\n"
             "print(json.dumps(sorted(n for n in sys.modules if n.startswith('tidal.components.'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert "tidal.components.io" in modules and "tidal.components.classification" in modules
    assert "tidal.components.anomaly" not in modules and "tidal.components.vision" not in modules


def test_a_stale_index_entry_falls_back_to_the_full_load() -> None:
    probe = ("from tidal.core import registry\n"
             "registry._index = {'io.read_csv': 'tidal.components.data', 'data.split': 'tidal.components.no_such_module'}\n"
             "print(registry.find('io.read_csv').id, registry.get('data.split').id)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["io.read_csv", "data.split"]
