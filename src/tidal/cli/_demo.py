"""``tidal demo``: an example workspace with real data and a pipeline, run end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import app, settings
from tidal.cli._render import Progress, console, format_metric, print_run

DEMO_PIPELINE = """\
tidal: 1
name: breast-cancer-baseline
description: Read the breast-cancer data, split it, train logistic regression, score and evaluate.
nodes:
  - id: read
    component: io.read_csv
    params: {path: data/breast_cancer.csv}
  - id: split
    component: data.split
    inputs: {data: read}
    params: {fraction: 0.8, seed: 42, stratify: malignant}
  - id: train
    component: classification.logistic_regression
    inputs: {data: split.train}
    params: {label: malignant, C: 1.0}
  - id: score
    component: model.predict
    inputs: {model: train, data: split.test}
  - id: eval
    component: evaluation.binary_classification
    inputs: {data: score}
    params: {label: malignant}
layout:
  read: [40, 120]
  split: [260, 120]
  train: [480, 60]
  score: [700, 120]
  eval: [920, 120]
"""


def write_demo_workspace(folder: Path) -> Path:
    """Create the demo files (data as CSV, the pipeline YAML); returns the pipeline's path."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda name: name.replace(" ", "_"))
    frame["malignant"] = (frame.pop("target") == 0).astype(int)  # in the source data 0 means malignant
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "data" / "breast_cancer.csv", index=False)
    pipeline = folder / "pipelines" / "demo.yaml"
    pipeline.write_text(DEMO_PIPELINE)
    return pipeline


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="where to create the demo workspace")] = Path("tidal-demo"),
    workers: Annotated[int | None, typer.Option("--workers", min=0)] = None,
) -> None:
    """Create an example workspace (breast-cancer data + a pipeline), run it, and show the results."""
    from tidal.runtime import run_pipeline
    from tidal.store import Workspace

    folder = folder.resolve()
    pipeline_path = write_demo_workspace(folder)
    console.print(f"[bold]Tidal demo[/] · workspace {folder}")
    console.print(f"  data      {folder / 'data' / 'breast_cancer.csv'} (569 rows, 30 features, label 'malignant')")
    console.print(f"  pipeline  {pipeline_path}")
    workspace = Workspace.open(folder, db=settings.db, artifacts=settings.artifacts)
    from tidal.pipeline import Pipeline

    pipeline = Pipeline.load(pipeline_path)
    progress = Progress(list(pipeline.nodes))
    with progress:
        result = run_pipeline(pipeline, workspace=workspace, workers=workers, on_event=progress)
    print_run(result)
    if not result.ok:
        raise typer.Exit(1)
    metrics = result.metrics("eval")
    console.print()
    console.print("[bold]Test-set metrics[/]: " + ", ".join(f"{name} {format_metric(metrics[name])}" for name in ("auc", "accuracy", "f1", "ks") if name in metrics))
    console.print(f"  run id     {result.id}")
    console.print(f"  metadata   {workspace.db_url}")
    console.print(f"  artifacts  {workspace.artifacts_uri}")
    console.print()
    console.print("Next:")
    console.print(f"  cd {folder}")
    console.print("  tidal run pipelines/demo.yaml                 # fully cached the second time")
    console.print("  tidal run pipelines/demo.yaml --set train.C=0.1   # recomputes train, score, eval only")
    console.print(f"  tidal runs show {result.id}")
    console.print(f"  tidal artifacts show {result.id} eval")
    console.print("  tidal export pipelines/demo.yaml --to python")
