"""A workspace for the network editor's browser tests: the demo data, a pipeline whose ``nn.train`` node reads
``networks/mlp.yaml`` (the file the test saves from the editor), a 500-layer network, and the nested example."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"

TRAIN_PIPELINE = """\
tidal: 1
name: train-network
nodes:
  - id: read
    component: io.read_csv
    params: {path: data/breast_cancer.csv}
  - id: train
    component: nn.train
    inputs: {data: read}
    params: {label: malignant, path: networks/mlp.yaml, epochs: 2, batch_size: 64, threads: 1,
             validation_fraction: 0.2}
"""


def deep_network(pairs: int = 250, width: int = 8) -> dict:
    """``pairs`` linear + relu layers (``2 * pairs`` layers), widths inferred, no layout: the editor places them."""
    layers: list[dict] = []
    previous = "x"
    for index in range(pairs):
        layers.append({"id": f"fc_{index}", "kind": "linear", "inputs": [previous], "params": {"out_features": width}})
        layers.append({"id": f"act_{index}", "kind": "relu", "inputs": [f"fc_{index}"]})
        previous = f"act_{index}"
    return {"tidal-nn": 1, "name": "deep", "inputs": {"x": {"shape": ["batch", width]}}, "layers": layers,
            "outputs": {"y": previous}}


def write_network_workspace(root: Path) -> Path:
    from tidal.cli._demo import write_demo_workspace

    write_demo_workspace(root)
    (root / "pipelines" / "demo.yaml").unlink()
    (root / "pipelines" / "train_net.yaml").write_text(TRAIN_PIPELINE)
    (root / "networks").mkdir()
    (root / "networks" / "deep.yaml").write_text(yaml.safe_dump(deep_network(), sort_keys=False))
    shutil.copy(EXAMPLES / "nested.yaml", root / "networks" / "nested.yaml")  # two uses of a block, a head from a file
    (root / "networks" / "blocks").mkdir()
    shutil.copy(EXAMPLES / "blocks" / "head.yaml", root / "networks" / "blocks" / "head.yaml")
    return root
