"""Views of metrics and figures, model packages, AutoML studies and network specs."""

from __future__ import annotations

import math
from typing import Any

from tidal.notebook._cells import figure_section
from tidal.notebook._views import STUDY_ROWS, kv, table, view


def metrics_view(metrics: Any) -> dict[str, Any]:
    sections: list[dict[str, Any]] = [table("Metrics", ["metric", "value"], [[name, value] for name, value in metrics.items()])]
    sections.extend(figure_section(name, spec) for name, spec in metrics.figures.items())
    for name, rows in metrics.tables.items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        sections.append(table(name, columns, [[row.get(column) for column in columns] for row in rows]))
    return view("metrics", "Metrics", sections)


def figure_view(spec: dict[str, Any]) -> dict[str, Any]:
    return view("figure", "Figure", [figure_section("figure", spec)])


def model_view(package: Any) -> dict[str, Any]:
    signature = package.signature()
    metrics = package.metadata.get("metrics") if isinstance(package.metadata.get("metrics"), dict) else {}
    sections = [
        kv("", [("task", package.task), ("flavor", package.flavor), ("label", package.label),
                ("classes", ", ".join(map(str, package.classes)) if package.classes else None),
                ("created", package.created_at)]),
        table("Inputs", ["name", "dtype"], [[item["name"], item["dtype"]] for item in signature["inputs"]]),
        table("Outputs", ["name", "dtype"], [[item["name"], item["dtype"]] for item in signature["outputs"]]),
    ]
    if metrics:
        sections.append(table("Metrics", ["metric", "value"], [[name, value] for name, value in metrics.items()]))
    if package.params:
        sections.append(kv("Parameters", sorted(package.params.items())))
    if package.lineage:
        sections.append(kv("Lineage", list(package.lineage.items())))
    if package.libraries:
        sections.append(kv("Libraries", sorted(package.libraries.items())))
    return view("model", f"Model ({package.flavor or package.task})", sections)


def study_view(study: Any) -> dict[str, Any]:
    """Best so far (chart and table), every trial's value and parameters."""
    record = study.refresh()
    trials = sorted(study.trials(), key=lambda trial: trial.number)
    maximize = record.direction == "maximize"
    best: float | None = None
    points, best_points = [], []
    for trial in trials:
        value = trial.value
        if trial.status != "succeeded" or value is None or not math.isfinite(value):
            continue
        points.append([trial.number, value])
        best = value if best is None or (value > best if maximize else value < best) else best
        best_points.append([trial.number, best])
    names = sorted({name for trial in trials for name in trial.params})
    shown = trials[-STUDY_ROWS:]
    sections = [
        kv("", [("study", record.id), ("name", record.name), ("status", study.status()), ("strategy", record.strategy),
                ("metric", f"{record.metric} ({record.direction})"), ("trials", f"{len(trials)} of {record.budget}"),
                ("best trial", record.best_trial), ("best value", record.best_value), ("error", record.error)]),
    ]
    if points:
        sections.append({"type": "chart", "title": f"{record.metric}: trials and best so far", "mark": "line",
                         "x": "trial", "y": record.metric,
                         "series": [{"points": points, "dashed": False, "mark": "point"},
                                    {"points": best_points, "dashed": False, "mark": "line"}]})
    sections.append(table("Trials", ["trial", "status", "value", *names, "seconds", "error"],
                          [[trial.number, trial.status, trial.value, *[trial.params.get(name) for name in names],
                            None if trial.duration_s is None else round(trial.duration_s, 3), trial.error]
                           for trial in shown],
                          note=f"the last {STUDY_ROWS} of {len(trials)}" if len(trials) > STUDY_ROWS else ""))
    return view("study", f"Study {record.name or record.id}", sections)


def network_view(spec: Any) -> dict[str, Any]:
    """Layers with the shape each one outputs (``tidal.nn.infer_shapes``), and any issues."""
    from tidal.nn import infer_shapes

    shapes = infer_shapes(spec, check=False)
    inputs = [[name, str(shapes.inputs.get(name, tensor.shape))] for name, tensor in spec.inputs.items()]
    rows = []
    for layer in spec.layers:
        inferred = shapes.layers.get(layer.id)
        output = inferred.output if inferred is not None else None
        params = ", ".join(f"{key}={value}" for key, value in layer.params.items())
        rows.append([layer.id, layer.kind, ", ".join(layer.inputs), params, "" if output is None else str(output)])
    sections = [
        kv("", [("network", spec.name), ("layers", len(spec.layers)), ("description", spec.description)]),
        table("Inputs", ["input", "shape"], inputs),
        table("Layers", ["layer", "kind", "inputs", "params", "output shape"], rows),
        table("Outputs", ["output", "shape"], [[name, "" if tensor is None else str(tensor)]
                                                for name, tensor in shapes.outputs.items()]),
    ]
    if shapes.issues:
        sections.append(table("Issues", ["issue"], [[str(issue)] for issue in shapes.issues]))
    return view("network", f"Network {spec.name}", sections)
