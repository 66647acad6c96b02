"""Explaining single predictions: how much each feature pushed one row's prediction up or down."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from tidal.components.model_inspection import booster_of, split_pipeline
from tidal.core import DataError, Param, ParameterError, component
from tidal.models import ModelPackage


def _linear_parts(package: ModelPackage, background: pd.DataFrame) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """(steps before the model, coefficients per output, intercepts) when the model is linear in its features."""
    steps, final = split_pipeline(package.model)
    coefficients = getattr(final, "coef_", None)
    if coefficients is None:
        return None
    coefficients = np.atleast_2d(np.asarray(coefficients, dtype=float))
    if coefficients.shape[1] != len(package.features):
        return None
    if steps is not None and np.asarray(steps.transform(background.head(1))).shape[1] != len(package.features):
        return None
    intercepts = np.atleast_1d(np.asarray(getattr(final, "intercept_", 0.0), dtype=float))
    return steps, coefficients, np.broadcast_to(intercepts, (coefficients.shape[0],))


def _targets(package: ModelPackage, rows: pd.DataFrame, target: str | None) -> np.ndarray:
    """For each row, the index of the class whose output is explained."""
    classes = list(package.classes or [])
    if target is not None:
        matches = [index for index, value in enumerate(classes) if str(value) == str(target)]
        if not matches:
            raise ParameterError(f"parameter 'target': {target!r} is not a class of the model (classes: {classes})")
        return np.full(len(rows), matches[0])
    if len(classes) == 2:
        return np.full(len(rows), 1)
    return package.predict_proba(rows).argmax(axis=1)


def linear_contributions(package: ModelPackage, rows: pd.DataFrame, background: pd.DataFrame, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """coefficient × (value - background mean), on the model's link scale (log-odds or prediction)."""
    steps, coefficients, intercepts = _linear_parts(package, background)  # type: ignore[misc]
    encode = (lambda frame: np.asarray(steps.transform(frame), dtype=float)) if steps is not None else (lambda frame: frame.to_numpy(dtype=float))
    values, center = encode(rows), encode(background).mean(axis=0)
    if coefficients.shape[0] == 1:
        sign = np.where(targets == 0, -1.0, 1.0) if package.task == "binary" else np.ones(len(rows))
        contributions = sign[:, None] * coefficients[0] * (values - center)
        base = sign * (intercepts[0] + coefficients[0] @ center)
    else:
        contributions = coefficients[targets] * (values - center)
        base = intercepts[targets] + coefficients[targets] @ center
    return contributions, base


def tree_contributions(package: ModelPackage, rows: pd.DataFrame, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LightGBM's and XGBoost's own SHAP values (TreeSHAP), on the raw margin."""
    count = len(package.features)
    booster = booster_of(package)
    if package.flavor == "lightgbm":
        raw = np.asarray(booster.predict(rows, pred_contrib=True))
    else:
        import xgboost

        raw = np.asarray(booster.predict(xgboost.DMatrix(rows), pred_contribs=True))
    if raw.ndim == 2 and raw.shape[1] > count + 1:
        raw = raw.reshape(len(rows), -1, count + 1)
    if raw.ndim == 3:
        picked = raw[np.arange(len(rows)), targets]
        return picked[:, :count], picked[:, count]
    sign = np.where(targets == 0, -1.0, 1.0) if package.task == "binary" else np.ones(len(rows))
    return sign[:, None] * raw[:, :count], sign * raw[:, count]


def _output(package: ModelPackage, frame: pd.DataFrame, targets: np.ndarray) -> np.ndarray:
    if package.task in ("binary", "multiclass"):
        return package.predict_proba(frame)[np.arange(len(frame)), targets]
    return np.asarray(package.predict(frame), dtype=float)


def occlusion_contributions(package: ModelPackage, rows: pd.DataFrame, background: pd.DataFrame, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prediction(row) - prediction(row with one feature set to its typical value), for any model."""
    typical = {
        name: (background[name].mean() if pd.api.types.is_numeric_dtype(background[name]) and not pd.api.types.is_bool_dtype(background[name]) else background[name].mode(dropna=True).iloc[0])
        for name in package.features
    }
    original = _output(package, rows, targets)
    varied = pd.concat([rows] * len(package.features), ignore_index=True)
    for index, name in enumerate(package.features):
        varied.loc[index * len(rows) : (index + 1) * len(rows) - 1, name] = typical[name]
    changed = _output(package, varied, np.tile(targets, len(package.features))).reshape(len(package.features), len(rows)).T
    base = _output(package, pd.DataFrame([typical] * len(rows))[package.features], targets)
    return original[:, None] - changed, base


@component("model.explain_rows", title="Explain Rows", tags={"sample": "classification"})
def explain_rows(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    rows: Annotated[int, Param(ge=1, le=10000, help="explain the first this many rows of 'data'")] = 20,
    method: Annotated[Literal["auto", "linear", "tree", "occlusion"], Param(help="auto: tree for LightGBM/XGBoost, linear for linear models, else occlusion")] = "auto",
    target: Annotated[str | None, Param(help="the class explained; default: the positive class (binary) or each row's predicted class")] = None,
    top: Annotated[int, Param(ge=1, le=100, help="how many of the strongest features the top_features text lists")] = 3,
) -> pd.DataFrame:
    """Per-row feature contributions: why the model predicted what it did for each row.

    The first ``rows`` rows of ``data`` come back with ``base_value``, one
    ``contribution_<feature>`` column per feature and a ``top_features`` summary. How the
    contributions are computed (column ``explained_output`` says on which scale):

    - ``tree`` (LightGBM, XGBoost): the libraries' own SHAP values on the raw margin (log-odds
      for classifiers); base value + contributions = the margin.
    - ``linear`` (models with ``coef_``, after any per-feature scaling): coefficient ×
      (value - mean of the value over ``data``); base value + contributions = the margin.
    - ``occlusion`` (any model): the prediction (class probability) minus the prediction with
      the feature set to its mean (or most common value) over ``data``. These do not add up.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> frame = load_diabetes(as_frame=True).frame
    >>> names = [name for name in frame.columns if name != "target"]
    >>> fitted = ModelPackage.from_estimator(LinearRegression().fit(frame[names], frame["target"]), frame, features=names, task="regression", label="target")
    >>> explained = explain_rows(fitted, frame, rows=2)
    >>> explained["top_features"].iloc[0]
    's1=+35; bmi=+32.1; s2=-16.6'
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no rows to explain")
    if model.task not in ("binary", "multiclass", "regression"):
        raise DataError(f"a {model.task} model predicts no single value to explain; explain_rows takes classifiers and regressors")
    background = model.feature_frame(data)
    missing = background.isna().any()
    if missing.any():
        column = str(missing.idxmax())
        raise DataError(f"column '{column}' has missing values, the first at row {int(np.flatnonzero(background[column].isna().to_numpy())[0])}; fill them first")
    chosen = data.head(rows).reset_index(drop=True)
    features = background.head(rows).reset_index(drop=True)
    targets = _targets(model, features, target) if model.task in ("binary", "multiclass") else np.zeros(len(features), dtype=int)
    tree_ready = model.flavor in ("lightgbm", "xgboost")
    if method == "auto":
        method = "tree" if tree_ready else ("linear" if _linear_parts(model, background) is not None else "occlusion")
    if method == "tree":
        if not tree_ready:
            raise ParameterError(f"parameter 'method': tree contributions need a LightGBM or XGBoost model, this one is {model.flavor}")
        contributions, base = tree_contributions(model, features, targets)
        scale = "log_odds" if model.task != "regression" else "prediction"
    elif method == "linear":
        if _linear_parts(model, background) is None:
            raise ParameterError(f"parameter 'method': a {type(model.model).__name__} model is not linear in its features; use method=occlusion")
        contributions, base = linear_contributions(model, features, background, targets)
        scale = "log_odds" if model.task != "regression" else "prediction"
    else:
        contributions, base = occlusion_contributions(model, features, background, targets)
        scale = "probability" if model.task != "regression" else "prediction"
    result = chosen.copy()
    if model.task in ("binary", "multiclass"):
        result["explained_class"] = [str(model.classes[index]) for index in targets]  # type: ignore[index]
    result["explained_output"] = scale
    result["base_value"] = base
    for index, name in enumerate(model.features):
        result[f"contribution_{name}"] = contributions[:, index]
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :top]
    result["top_features"] = [
        "; ".join(f"{model.features[index]}={contributions[row, index]:+.3g}" for index in order[row]) for row in range(len(result))
    ]
    return result
