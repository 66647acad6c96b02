"""A workspace for the Models page's tests: the demo data and a pipeline that trains a three-feature classifier,
run twice with different regularisation, so there are two different Model outputs to register as two versions.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

FEATURES = ["mean_radius", "mean_texture", "mean_smoothness"]
#: a row of the data set (a malignant tumour), for test requests
ROW = {"mean_radius": 17.99, "mean_texture": 10.38, "mean_smoothness": 0.1184}

MODELS_PIPELINE = f"""\
tidal: 1
name: cancer-small
nodes:
  - id: read
    component: io.read_csv
    params: {{path: data/breast_cancer.csv}}
  - id: split
    component: data.split
    inputs: {{data: read}}
    params: {{fraction: 0.8, seed: 42, stratify: malignant}}
  - id: train
    component: classification.logistic_regression
    inputs: {{data: split.train}}
    params: {{label: malignant, features: [{", ".join(FEATURES)}], C: 1.0}}
  - id: score
    component: model.predict
    inputs: {{model: train, data: split.test}}
  - id: eval
    component: evaluation.binary_classification
    inputs: {{data: score}}
    params: {{label: malignant}}
"""


def write_models_workspace(root: Path) -> tuple[Path, list[str]]:
    """The workspace and its two runs' ids: C=1.0 first, then C=0.01 (a different model)."""
    import tidal
    from tidal.cli._demo import write_demo_workspace
    from tidal.pipeline import load_pipeline

    write_demo_workspace(root)
    (root / "pipelines" / "demo.yaml").unlink()
    path = root / "pipelines" / "models.yaml"
    path.write_text(MODELS_PIPELINE)
    runs = []
    with contextlib.chdir(root):
        for overrides in ([], ["train.C=0.01"]):
            result = tidal.run(load_pipeline(path), workspace=root, executor="inline", overrides=overrides)
            assert result.status == "succeeded", result.run.error
            runs.append(result.id)
    return root, runs
