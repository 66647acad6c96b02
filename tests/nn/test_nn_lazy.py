"""``import tidal`` never loads torch, and specs, shape inference and code generation work without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nn_helpers import EXAMPLES

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = f"""
import sys
sys.modules["torch"] = None  # any `import torch` now fails
import tidal, tidal.nn as tnn
spec = tnn.load_network({str(EXAMPLES / "nested.yaml")!r})
shapes = tnn.infer_shapes(spec)
source = tnn.to_source(spec) if hasattr(tnn, "to_source") else ""
print(shapes.outputs["logits"], len(tnn.KINDS), "class NestedNet" in source or not source)
try:
    tnn.build_module(spec)
except ImportError as error:
    print("refused:", error)
"""


def test_specs_and_shapes_need_no_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": ""})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[batch, 10] ") and lines[0].endswith(" True")
    assert lines[1].startswith("refused:") and "pip install 'tidal-ml[nn]'" in lines[1]


def test_import_tidal_loads_no_torch():
    code = "import sys, tidal, tidal.nn; tidal.nn.KINDS; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": ""})
    assert done.stdout.strip() == "False", done.stderr
