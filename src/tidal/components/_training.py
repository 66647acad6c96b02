"""Shared helpers for components that learn from a table: feature selection with clear errors,
and packaging a fitted estimator as a :class:`~tidal.models.ModelPackage`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.models import ModelPackage


def require_rows(data: pd.DataFrame, what: str = "input table", minimum: int = 1) -> None:
    if len(data) < minimum:
        raise DataError(
            f"the {what} has {len(data)} row(s); at least {minimum} needed — check the upstream filter or split"
        )


def feature_columns(data: pd.DataFrame, label: str | None, features: list[str] | None) -> list[str]:
    """The chosen feature columns, or every column but the label."""
    if features:
        return list(features)
    return [str(name) for name in data.columns if name != label]


def numeric_features(
    data: pd.DataFrame, columns: list[str], *, allow_missing: bool = False, fix: str = "features.one_hot"
) -> pd.DataFrame:
    """The columns as numbers; names every non-numeric column and the first row with a missing value."""
    frame = data[columns]
    bad = [name for name in columns if not (pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]))]
    if bad:
        kinds = ", ".join(f"'{name}' ({frame[name].dtype})" for name in bad[:10])
        raise DataError(f"column(s) {kinds} are not numeric; encode them first (e.g. with {fix}) or leave them out of 'features'")
    if not allow_missing:
        missing = frame.isna()
        if missing.to_numpy().any():
            column = missing.any().idxmax()
            row = int(np.flatnonzero(missing[column].to_numpy())[0])
            count = int(missing[column].sum())
            raise DataError(
                f"column '{column}' has {count} missing value(s), the first at row {row}; "
                "fill them first (data.fill_missing) or use a model that handles missing values"
            )
    return frame


def label_values(data: pd.DataFrame, label: str) -> pd.Series:
    values = data[label]
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"label column '{label}' has {int(values.isna().sum())} missing value(s), the first at row {row}")
    return values


def classification_task(labels: pd.Series) -> str:
    classes = labels.nunique()
    if classes < 2:
        raise DataError(f"label column '{labels.name}' has only one class ({labels.iloc[0]!r}); a classifier needs two or more")
    return "binary" if classes == 2 else "multiclass"


def fit_supervised(
    estimator: Any,
    data: pd.DataFrame,
    *,
    label: str,
    features: list[str] | None,
    kind: str,
    params: dict[str, Any],
    allow_missing: bool = False,
    sample_weight: str | None = None,
) -> ModelPackage:
    """Fit ``estimator`` on ``data`` and describe it; ``kind`` is 'classification' or 'regression'."""
    require_rows(data, "training table", 2)
    columns = feature_columns(data, label, features)
    if label in columns:
        raise DataError(f"the label column '{label}' is also listed in 'features'; remove it from 'features'")
    X = numeric_features(data, columns, allow_missing=allow_missing)
    y = label_values(data, label)
    if kind == "classification":
        task = classification_task(y)
    else:
        if not pd.api.types.is_numeric_dtype(y):
            raise DataError(f"label column '{label}' ({y.dtype}) must be numeric for regression")
        task = "regression"
    fit_kwargs = {}
    if sample_weight:
        fit_kwargs["sample_weight"] = data[sample_weight].to_numpy()
    estimator.fit(X, y, **fit_kwargs)
    return ModelPackage.from_estimator(estimator, data, features=columns, task=task, label=label, params=params)
