"""Scoring a model on the validation part: the metrics a study can optimize."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import TidalError

#: metric -> direction that is better
METRICS = {
    "auc": "maximize",
    "accuracy": "maximize",
    "f1": "maximize",
    "logloss": "minimize",
    "rmse": "minimize",
    "mae": "minimize",
    "r2": "maximize",
}


def default_metric(task: str) -> str:
    return "auc" if task in ("binary", "multiclass") else "rmse"


def default_direction(metric: str) -> str:
    check_metric(metric)
    return METRICS[metric]


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise TidalError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def score_model(model: Any, valid: pd.DataFrame, label: str) -> dict[str, float]:
    """Every metric that fits the model's task, on the validation table."""
    from sklearn import metrics

    truth = valid[label].to_numpy()
    if model.task in ("binary", "multiclass"):
        classes = list(model.classes or [])
        probabilities = np.asarray(model.predict_proba(valid), dtype=float)
        predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
        truth_list = [value.item() if hasattr(value, "item") else value for value in truth]
        out = {"accuracy": float(metrics.accuracy_score([str(v) for v in truth_list], [str(v) for v in predicted]))}
        known = [str(value) for value in classes]
        if len(set(map(str, truth_list))) < 2:
            return out
        index = {name: position for position, name in enumerate(known)}
        codes = np.array([index.get(str(value), -1) for value in truth_list])
        seen = codes >= 0
        clipped = np.clip(probabilities, 1e-15, 1.0)
        out["logloss"] = float(-np.mean(np.log(clipped[np.flatnonzero(seen), codes[seen]])))
        if len(classes) == 2:
            out["auc"] = float(metrics.roc_auc_score(codes[seen], probabilities[seen, 1]))
            out["f1"] = float(metrics.f1_score(codes[seen], probabilities[seen].argmax(axis=1), zero_division=0))
        else:
            present = sorted(set(codes[seen]))
            if len(present) == len(classes):
                out["auc"] = float(metrics.roc_auc_score(codes[seen], probabilities[seen], multi_class="ovr"))
            out["f1"] = float(metrics.f1_score(codes[seen], probabilities[seen].argmax(axis=1), average="macro", zero_division=0))
        return out
    predicted = np.asarray(model.predict(valid), dtype=float)
    values = truth.astype(float)
    return {
        "rmse": float(np.sqrt(np.mean((values - predicted) ** 2))),
        "mae": float(np.mean(np.abs(values - predicted))),
        "r2": float(metrics.r2_score(values, predicted)) if len(values) > 1 else float("nan"),
    }
