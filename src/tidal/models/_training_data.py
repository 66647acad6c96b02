"""Checks and views of training data that every trainer shares (components and AutoML alike).

Each names the column, and the first row, that makes a table unfit for training, and what to do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tidal.core._errors import DataError


def feature_columns(
    data: pd.DataFrame, label: str | None, features: list[str] | None, exclude: tuple[str, ...] = ()
) -> list[str]:
    """The chosen feature columns, or every column but the label (and ``exclude``)."""
    if features:
        return list(features)
    return [str(name) for name in data.columns if name != label and name not in exclude]


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


def weight_values(data: pd.DataFrame, column: str) -> np.ndarray:
    """Row weights: numeric, present and non-negative, else a DataError naming the row."""
    values = data[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"weight column '{column}' ({values.dtype}) must be numeric")
    weights = values.to_numpy(dtype=float)
    bad = np.flatnonzero(~(weights >= 0))
    if len(bad):
        raise DataError(
            f"weight column '{column}' has {len(bad)} missing or negative value(s), the first at row {int(bad[0])} "
            f"({values.iloc[int(bad[0])]!r}); weights must be zero or more"
        )
    return weights


def classification_task(labels: pd.Series) -> str:
    classes = labels.nunique()
    if classes < 2:
        raise DataError(f"label column '{labels.name}' has only one class ({labels.iloc[0]!r}); a classifier needs two or more")
    return "binary" if classes == 2 else "multiclass"
