"""Scoring a model package on a labelled table, for cross-validation and permutation importance."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from tidal.core._errors import DataError
from tidal.models import ModelPackage

ScoreName = Literal["auto", "accuracy", "balanced_accuracy", "f1", "auc", "log_loss", "r2", "rmse", "mae"]
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "auc", "log_loss")
REGRESSION_METRICS = ("r2", "rmse", "mae")
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


def default_metric(task: str) -> str:
    return {"binary": "auc", "multiclass": "accuracy"}.get(task, "r2")


def metrics_for(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task in ("binary", "multiclass") else REGRESSION_METRICS


def check_metric(metric: str, task: str) -> str:
    """The metric to use for a model of ``task``; 'auto' picks AUC, accuracy or R²."""
    if metric == "auto":
        return default_metric(task)
    if metric not in metrics_for(task):
        raise DataError(f"parameter 'metric': {metric} does not apply to a {task} model; use one of auto, {', '.join(metrics_for(task))}")
    return metric


def score(metric: str, model: ModelPackage, table: pd.DataFrame, truth: Any) -> float:
    """One number for ``model`` on ``table`` against ``truth`` (in the metric's natural direction)."""
    truth = np.asarray(truth)
    if metric in REGRESSION_METRICS:
        predicted = np.asarray(model.predict(table), dtype=float)
        if metric == "r2":
            return float(skm.r2_score(truth, predicted))
        if metric == "rmse":
            return float(np.sqrt(skm.mean_squared_error(truth, predicted)))
        return float(skm.mean_absolute_error(truth, predicted))
    classes = list(model.classes or [])
    truth = _as_class_values(truth, classes)
    if metric in ("auc", "log_loss"):
        probabilities = model.predict_proba(table)
        if metric == "log_loss":
            return float(skm.log_loss(truth, np.clip(probabilities, 1e-15, 1), labels=classes))
        present = set(truth.tolist())
        if len(present) < 2:
            raise DataError("AUC needs both classes among the rows scored; use fewer folds or another metric")
        if len(classes) == 2:
            return float(skm.roc_auc_score(truth == classes[1], probabilities[:, 1]))
        return float(skm.roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes))
    predicted = _as_class_values(np.asarray(model.predict(table)), classes)
    if metric == "accuracy":
        return float(skm.accuracy_score(truth, predicted))
    if metric == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(truth, predicted))
    if len(classes) == 2:
        return float(skm.f1_score(truth == classes[1], predicted == classes[1], zero_division=0))
    return float(skm.f1_score(truth, predicted, average="macro", labels=classes, zero_division=0))


def _as_class_values(values: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Labels as the model's class values (the manifest keeps classes as JSON: 1, 'a', 2.5)."""
    if classes and isinstance(classes[0], str) and values.dtype.kind != "U":
        return values.astype(str)
    if classes and not isinstance(classes[0], str) and values.dtype.kind in ("U", "O"):
        try:
            return values.astype(type(classes[0]))
        except (TypeError, ValueError):
            return values
    return values
