"""A workspace for the Studio's study tests: the demo data and a pipeline with two ``automl.tune`` nodes.

``tune_small`` (6 logistic-regression trials over three parameters) is run by :func:`write_tune_workspace` to leave a finished
study; ``tune_long`` (2,000 trials, one at a time) runs long enough to be watched and stopped.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

TUNE_PIPELINE = """\
tidal: 1
name: tune-demo
nodes:
  - id: read
    component: io.read_csv
    params: {path: data/breast_cancer.csv}
  - id: tune_small
    component: automl.tune
    inputs: {data: read}
    params:
      trainer: classification.logistic_regression
      label: malignant
      budget: 6
      workers: 0
      refit: false
      name: small
      search_space:
        C: {type: float, low: 0.001, high: 1000, log: true}
        max_iter: {type: int, low: 20, high: 400}
        standardize: [true, false]
  - id: tune_long
    component: automl.tune
    inputs: {data: read}
    params: {trainer: classification.logistic_regression, label: malignant, budget: 2000, workers: 0,
             refit: false, name: long}
"""


def write_tune_workspace(root: Path, run_small: bool = True) -> Path:
    """The demo workspace with ``pipelines/tune.yaml`` (and no other pipeline); runs ``tune_small`` when asked."""
    import tidal
    from tidal.cli._demo import write_demo_workspace
    from tidal.pipeline import load_pipeline

    write_demo_workspace(root)
    (root / "pipelines" / "demo.yaml").unlink()
    (root / "pipelines" / "tune.yaml").write_text(TUNE_PIPELINE)
    if run_small:
        with contextlib.chdir(root):
            result = tidal.run(
                load_pipeline(root / "pipelines" / "tune.yaml"), until="tune_small", workers=1
            )
        assert result.status == "succeeded", result.run.error
    return root
