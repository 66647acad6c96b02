"""What an online learner takes from a fitted batch model to start where it left off.

The batch models come from the library's trainers (``classification.logistic_regression``,
``regression.linear_regression``, ``clustering.kmeans``) as model packages, or as the scikit-learn
estimators inside them. A leading ``StandardScaler`` becomes the learner's fixed input scaling, so
the learner sees the same features in the same order with the same encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tidal.core._errors import DataError


@dataclass
class LinearParts:
    coef: np.ndarray
    intercept: float
    center: np.ndarray | None
    scale: np.ndarray | None
    features: list[str] | None
    classes: list[Any] | None


def _unwrap(model: Any) -> tuple[Any, list[str] | None, list[Any] | None]:
    """The estimator, feature names and classes of a model package or a bare estimator."""
    if "model" in getattr(model, "_fields", ()):  # a trainer's named outputs, e.g. clustering's (data, model)
        model = model.model
    if hasattr(model, "flavor") and hasattr(model, "features") and hasattr(model, "model"):
        if model.flavor != "sklearn":
            raise DataError(f"warm start needs a scikit-learn model package; this one has flavor '{model.flavor}'")
        return model.model, list(model.features), model.classes
    names = getattr(model, "feature_names_in_", None)
    return model, None if names is None else [str(name) for name in names], None


def _split_scaler(estimator: Any) -> tuple[Any, np.ndarray | None, np.ndarray | None]:
    steps = getattr(estimator, "steps", None)
    if steps is None:
        return estimator, None, None
    if len(steps) == 1:
        return steps[0][1], None, None
    if len(steps) != 2 or type(steps[0][1]).__name__ != "StandardScaler":
        names = " -> ".join(type(step).__name__ for _, step in steps)
        raise DataError(f"warm start understands a model alone or a StandardScaler before it; this pipeline is {names}")
    scaler = steps[0][1]
    center = None if getattr(scaler, "mean_", None) is None else np.asarray(scaler.mean_, dtype=np.float64)
    scale = None if getattr(scaler, "scale_", None) is None else np.asarray(scaler.scale_, dtype=np.float64)
    return steps[1][1], center, scale


def linear_parts(model: Any, *, kind: str) -> LinearParts:
    """Coefficients, intercept and input scaling of a fitted linear model (binary classifier or regressor)."""
    estimator, features, classes = _unwrap(model)
    final, center, scale = _split_scaler(estimator)
    coef = getattr(final, "coef_", None)
    if coef is None:
        raise DataError(f"warm start needs a fitted linear model with coef_; got {type(final).__name__}")
    coef = np.asarray(coef, dtype=np.float64)
    if kind == "classification":
        if coef.ndim != 2 or coef.shape[0] != 1:
            raise DataError(f"FTRL warm start needs a binary logistic regression; this model has {coef.shape[0]} sets of coefficients (multiclass)")
        if classes is None and getattr(final, "classes_", None) is not None:
            classes = [value.item() if hasattr(value, "item") else value for value in final.classes_]
    elif coef.ndim != 1:
        raise DataError(f"warm start needs a single-target linear regression; coef_ has shape {coef.shape}")
    intercept = np.asarray(getattr(final, "intercept_", 0.0), dtype=np.float64).reshape(-1)
    return LinearParts(coef.reshape(-1).copy(), float(intercept[0]) if intercept.size else 0.0, center, scale, features, classes)


def kmeans_parts(model: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str] | None, np.ndarray | None]:
    """Centres (in the scaled space when a scaler precedes them), scaling, features and per-centre row counts."""
    estimator, features, _ = _unwrap(model)
    final, center, scale = _split_scaler(estimator)
    centres = getattr(final, "cluster_centers_", None)
    if centres is None:
        raise DataError(f"k-means warm start needs a fitted model with cluster_centers_; got {type(final).__name__}")
    labels = getattr(final, "labels_", None)
    counts = None if labels is None else np.bincount(np.asarray(labels), minlength=len(centres)).astype(np.float64)
    return np.asarray(centres, dtype=np.float64).copy(), center, scale, features, counts
