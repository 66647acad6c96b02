"""A study's results as a table and a report: best-so-far curve, parallel coordinates, importance.

Charts are Vega-Lite specifications (the Studio and any Vega viewer draw them). Parameter
importance is the impurity importance of a random forest fitted from the trials' parameters
(in unit coordinates) to their values, the usual cheap surrogate (as in Optuna's
``MeanDecreaseImpurityImportanceEvaluator``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tidal.automl._records import TrialRecord
from tidal.automl._space import SearchSpace
from tidal.automl._strategy import score_of
from tidal.core import Metrics

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
META_COLUMNS = ("round", "generation", "member", "parent", "origin", "exploited", "pruned_at")


def trials_table(trials: list[TrialRecord], space: SearchSpace) -> pd.DataFrame:
    """One row per trial: number, status, value, each parameter, lineage; no timings (kept in the store)."""
    rows = []
    for trial in sorted(trials, key=lambda item: item.number):
        row: dict[str, Any] = {"trial": trial.number, "status": trial.status, "value": trial.value}
        for name in space.names:
            value = trial.params.get(name)
            row[name] = value if not isinstance(value, (list, dict)) else str(value)
        for key in META_COLUMNS:
            if key in trial.meta:
                value = trial.meta[key]
                row[key] = None if value is None else (str(value) if not isinstance(value, (int, float, bool)) else value)
        row["error"] = trial.error
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name in space.names:  # a column of mixed types cannot be written to Parquet
        if name in frame and frame[name].map(type).nunique() > 1:
            frame[name] = frame[name].astype(str)
    return frame


def best_so_far(trials: list[TrialRecord], direction: str) -> list[dict[str, Any]]:
    points, best = [], None
    for trial in sorted(trials, key=lambda item: item.number):
        if trial.status == "succeeded" and trial.value is not None and math.isfinite(trial.value):
            if best is None or score_of(trial, direction) > score_of(best, direction):
                best = trial
        points.append({"trial": trial.number, "value": trial.value if trial.status == "succeeded" else None,
                       "best": best.value if best is not None else None})
    return points


def importance(trials: list[TrialRecord], space: SearchSpace, direction: str) -> dict[str, float]:
    good = [trial for trial in trials if trial.status == "succeeded" and trial.value is not None and math.isfinite(trial.value)]
    if len(good) < 4 or len(space) == 0:
        return {}
    from sklearn.ensemble import RandomForestRegressor

    X = np.array([space.to_unit(trial.params) for trial in good])
    y = np.array([score_of(trial, direction) for trial in good])
    if np.ptp(y) == 0:
        return {name: 0.0 for name in space.names}
    forest = RandomForestRegressor(n_estimators=64, random_state=0, min_samples_leaf=1).fit(X, y)
    return {name: round(float(value), 6) for name, value in zip(space.names, forest.feature_importances_, strict=True)}


def report(trials: list[TrialRecord], space: SearchSpace, *, metric: str, direction: str, study_id: str | None = None) -> Metrics:
    curve = best_so_far(trials, direction)
    weights = importance(trials, space, direction)
    good = [trial for trial in trials if trial.status == "succeeded"]
    best = max(good, key=lambda trial: (score_of(trial, direction), -trial.number)) if good else None
    counts = {status: sum(1 for t in trials if t.status == status) for status in ("succeeded", "failed", "pruned", "timeout", "crashed")}
    values: dict[str, Any] = {
        "best_value": best.value if best else None,
        "best_trial": best.number if best else None,
        "trials": len(trials),
        **{f"{status}_trials": count for status, count in counts.items()},
        "metric": metric,
        "direction": direction,
    }
    if study_id:
        values["study_id"] = study_id
    coordinates = []
    scored = [trial.value for trial in good if trial.value is not None and math.isfinite(trial.value)]
    low, high = (min(scored), max(scored)) if scored else (0.0, 0.0)
    axis = f"{metric} (scaled)"  # the last axis: where each line ends up, so one parameter still draws lines
    # Vega-Lite reads a dot in a field name as a nested key: layer_params.hidden.out_features is drawn as layer_params/...
    axes = [name.replace(".", "/") for name in space.names]
    for trial in good:
        row: dict[str, float | None] = {
            label: round(float(unit), 6) for label, unit in zip(axes, space.to_unit(trial.params), strict=True)}
        value = trial.value if trial.value is not None and math.isfinite(trial.value) else None
        row[axis] = None if value is None else (round((value - low) / (high - low), 6) if high > low else 0.5)
        coordinates.append({"trial": trial.number, metric: trial.value, **row})
    figures: dict[str, dict[str, Any]] = {
        "best_so_far": {
            "$schema": SCHEMA, "title": f"best {metric} so far", "data": {"values": curve},
            "layer": [
                {"mark": {"type": "point", "opacity": 0.5}, "encoding": {"x": {"field": "trial", "type": "quantitative"},
                                                                        "y": {"field": "value", "type": "quantitative", "title": metric,
                                                                              "scale": {"zero": False}}}},
                {"mark": {"type": "line", "interpolate": "step-after"},
                 "encoding": {"x": {"field": "trial", "type": "quantitative"}, "y": {"field": "best", "type": "quantitative"}}},
            ],
        },
        "parallel_coordinates": {
            "$schema": SCHEMA, "title": "parameters of each trial (unit scale)", "data": {"values": coordinates},
            "transform": [{"fold": [*axes, axis], "as": ["parameter", "position"]}],
            "mark": {"type": "line", "opacity": 0.6, "point": True},
            "encoding": {"x": {"field": "parameter", "type": "nominal", "sort": [*axes, axis]},
                         "y": {"field": "position", "type": "quantitative", "scale": {"domain": [0, 1]}},
                         "detail": {"field": "trial", "type": "nominal"},
                         "color": {"field": metric, "type": "quantitative"}},
        },
        "parameter_importance": {
            "$schema": SCHEMA, "title": "parameter importance (random-forest surrogate)",
            "data": {"values": [{"parameter": name, "importance": value} for name, value in weights.items()]},
            "mark": "bar",
            "encoding": {"y": {"field": "parameter", "type": "nominal", "sort": "-x"},
                         "x": {"field": "importance", "type": "quantitative"}},
        },
    }
    curves = intermediate_figure(trials, metric)
    if curves is not None:
        figures["intermediate_values"] = curves
    lineage = lineage_figure(trials, metric)
    if lineage is not None:
        figures["lineage"] = lineage
    return Metrics(values, figures=figures, tables={"best_so_far": curve,
                                                   "importance": [{"parameter": k, "importance": v} for k, v in weights.items()]})


def intermediate_figure(trials: list[TrialRecord], metric: str) -> dict[str, Any] | None:
    """Each iterative trial's value at every reported step; pruned trials stop early (None: no steps reported)."""
    rows = [{"trial": trial.number, "status": trial.status, "step": point["step"], "value": point["value"]}
            for trial in trials for point in trial.meta.get("intermediate") or []
            if isinstance(point, dict) and "step" in point and "value" in point]
    if not rows:
        return None
    return {
        "$schema": SCHEMA, "title": f"{metric} at each step (pruned trials stop early)", "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {"x": {"field": "step", "type": "quantitative"},
                     "y": {"field": "value", "type": "quantitative", "title": metric, "scale": {"zero": False}},
                     "detail": {"field": "trial", "type": "nominal"},
                     "color": {"field": "status", "type": "nominal"}},
    }


def lineage_figure(trials: list[TrialRecord], metric: str) -> dict[str, Any] | None:
    """Population-based training: one point per member and generation, a line from the checkpoint each one
    continued (its parent); exploit steps (a copied checkpoint, explored parameters) are dashed."""
    placed = {trial.number: trial for trial in trials if "generation" in trial.meta and "member" in trial.meta}
    if not placed:
        return None
    points = [{"trial": trial.number, "generation": trial.meta["generation"], "member": trial.meta["member"],
               "status": trial.status, metric: trial.value} for trial in placed.values()]
    edges = []
    for trial in placed.values():
        number = trial.meta.get("parent")
        parent = placed.get(number) if isinstance(number, int) else None
        if parent is None:
            continue
        kind = "exploit" if trial.meta.get("exploited") else "continue"
        for end in (parent, trial):
            edges.append({"edge": trial.number, "kind": kind, "generation": end.meta["generation"], "member": end.meta["member"]})
    x = {"field": "generation", "type": "quantitative", "axis": {"tickMinStep": 1}}
    y = {"field": "member", "type": "quantitative", "axis": {"tickMinStep": 1}}
    return {
        "$schema": SCHEMA, "title": "population lineage (dashed: exploit, a copied checkpoint with explored parameters)",
        "layer": [
            {"data": {"values": edges}, "mark": {"type": "line", "opacity": 0.7},
             "encoding": {"x": x, "y": y, "detail": {"field": "edge", "type": "nominal"},
                          "strokeDash": {"field": "kind", "type": "nominal"}}},
            {"data": {"values": points}, "mark": {"type": "point", "filled": True, "size": 80},
             "encoding": {"x": x, "y": y, "color": {"field": metric, "type": "quantitative"},
                          "tooltip": [{"field": "trial"}, {"field": "status"}, {"field": metric}]}},
        ],
    }
