"""Shared code for the ``features`` family: picking columns with clear errors, packaging a fitted
transform as a :class:`~tidal.models.ModelPackage`, and the few transformers scikit-learn lacks.

The custom transformers keep only plain Python and numpy attributes, so skops stores them safely
(the ``tidal.`` module prefix is trusted when a package is loaded).
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import FeatureHasher

from tidal.components._training import numeric_features, require_rows
from tidal.core import DataError, Port
from tidal.core._ports import to_jsonable
from tidal.models import ModelPackage


class FittedTransform(NamedTuple):
    """What a fitted feature step gives: the transformed table and the transform to reuse."""

    data: Annotated[pd.DataFrame, Port(help="the input table with the chosen columns transformed")]
    transform: Annotated[
        ModelPackage, Port(help="the fitted transform; apply it to other data with features.apply")
    ]


# -- choosing columns -------------------------------------------------------------------------------


def is_plain_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def is_categorical(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(series)
        or pd.api.types.is_object_dtype(series)
    )


def numeric_columns(
    data: pd.DataFrame, columns: list[str] | None, *, exclude: tuple[str | None, ...] = (), purpose: str = "transform"
) -> list[str]:
    """The named columns, each checked to be numeric; or every numeric (non-boolean) column."""
    require_rows(data, "input 'data'")
    if columns:
        bad = [name for name in columns if not pd.api.types.is_numeric_dtype(data[name])]
        if bad:
            kinds = ", ".join(f"'{name}' ({data[name].dtype})" for name in bad[:10])
            raise DataError(
                f"parameter 'columns': column(s) {kinds} are not numeric, so they cannot be used to {purpose}; "
                "encode them first (features.one_hot, features.ordinal_encoder) or leave them out"
            )
        return list(columns)
    found = [str(name) for name in data.columns if name not in exclude and is_plain_numeric(data[name])]
    if not found:
        raise DataError(f"input 'data' has no numeric columns to {purpose}; name the columns in 'columns'")
    return found


def categorical_columns(
    data: pd.DataFrame, columns: list[str] | None, *, exclude: tuple[str | None, ...] = ()
) -> list[str]:
    """The named columns (any type), or every string, object or categorical column."""
    require_rows(data, "input 'data'")
    if columns:
        return list(columns)
    found = [str(name) for name in data.columns if name not in exclude and is_categorical(data[name])]
    if not found:
        raise DataError(
            "input 'data' has no string or categorical columns to encode; name the columns in 'columns'"
        )
    return found


def complete_numeric(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns as numbers without missing values, or a DataError naming column and row."""
    return numeric_features(data, columns, allow_missing=False, fix="features.ordinal_encoder")


def without_label(columns: list[str], label: str | None) -> list[str]:
    if label is not None and label in columns:
        raise DataError(f"the label column '{label}' is also listed in 'columns'; remove it from 'columns'")
    return columns


def supervised_task(labels: pd.Series, task: str) -> str:
    """'classification' or 'regression' for a label column, unless the user said which."""
    if task != "auto":
        return task
    if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        return "classification"
    values = labels.to_numpy(dtype=float)
    if np.any(values != np.round(values)) or labels.nunique() > 20:
        return "regression"
    return "classification"


# -- packaging ---------------------------------------------------------------------------------------


def package(
    estimator: Any,
    data: pd.DataFrame,
    columns: list[str],
    *,
    step: str,
    params: dict[str, Any],
    label: str | None = None,
    output_columns: list[str] | None = None,
    transformed: Any = None,
    metadata: dict[str, Any] | None = None,
) -> FittedTransform:
    """Describe a fitted transform and apply it to its own training table.

    ``transformed`` gives the training output when it differs from ``transform(data)`` (target
    encoding cross-fits its training rows); by default the package itself transforms ``data``, so
    the ``data`` output always matches what ``features.apply`` gives for the same rows.
    """
    names = output_columns or [str(name) for name in estimator.get_feature_names_out()]
    kept = [str(name) for name in data.columns if name not in columns]
    clashes = sorted(set(names) & set(kept))
    if clashes:
        raise DataError(
            f"the new column(s) {', '.join(map(repr, clashes))} already exist in the input; "
            "rename or drop those columns first"
        )
    model = ModelPackage(
        model=estimator,
        task="transform",
        features=list(columns),
        label=label,
        feature_types={name: str(data[name].dtype) for name in columns},
        params=to_jsonable(params),
        metadata={"step": step, "output_columns": names, **(metadata or {})},
    )
    if transformed is None:
        result = model.transform(data)
    else:
        produced = pd.DataFrame(np.asarray(transformed), columns=names, index=data.index)
        result = pd.concat([data.drop(columns=columns), produced], axis=1)
    return FittedTransform(result, model)


# -- transformers scikit-learn lacks ----------------------------------------------------------------


def _plain(values: Any) -> list[Any]:
    """Category values as plain Python objects (skops stores lists of str/int/float safely)."""
    return [value.item() if isinstance(value, np.generic) else value for value in values]


class ColumnSubset(TransformerMixin, BaseEstimator):
    """Keep some of the input columns: the fitted result of a feature selection."""

    def __init__(self, keep: list[str] | None = None) -> None:
        self.keep = keep

    def fit(self, X: pd.DataFrame, y: Any = None) -> ColumnSubset:
        self.columns_ = [str(name) for name in X.columns]
        missing = [name for name in self.keep or [] if name not in self.columns_]
        if missing:
            raise DataError(f"cannot keep column(s) {', '.join(map(repr, missing))}: not in the input")
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[list(self.keep or [])]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(self.keep or []), dtype=object)


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Replace each category by how often it occurs in the training data (count or share).

    Missing values are a category of their own; a category never seen in training becomes 0.
    """

    def __init__(self, normalize: bool = True) -> None:
        self.normalize = normalize

    def fit(self, X: pd.DataFrame, y: Any = None) -> FrequencyEncoder:
        self.columns_ = [str(name) for name in X.columns]
        self.categories_: list[list[Any]] = []
        self.frequencies_: list[list[float]] = []
        self.missing_: list[float] = []
        total = len(X) if self.normalize else 1
        for name in self.columns_:
            counts = X[name].value_counts(dropna=True)
            self.categories_.append(_plain(counts.index))
            self.frequencies_.append([float(count) / total for count in counts.to_numpy()])
            self.missing_.append(float(X[name].isna().sum()) / total)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(X), len(self.columns_)), dtype=float)
        for index, name in enumerate(self.columns_):
            lookup = dict(zip(self.categories_[index], self.frequencies_[index], strict=True))
            column = X[name]
            mapped = column.map(lookup).astype(float).fillna(0.0).to_numpy(copy=True)
            mapped[column.isna().to_numpy()] = self.missing_[index]
            out[:, index] = mapped
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.columns_, dtype=object)


class HashingEncoder(TransformerMixin, BaseEstimator):
    """Hash ``column=value`` tokens of each row into a fixed number of columns (the hashing trick).

    Learns nothing but the column names, so unseen categories need no refit.
    """

    def __init__(self, n_features: int = 32, alternate_sign: bool = False) -> None:
        self.n_features = n_features
        self.alternate_sign = alternate_sign

    def fit(self, X: pd.DataFrame, y: Any = None) -> HashingEncoder:
        self.columns_ = [str(name) for name in X.columns]
        return self

    def tokens(self, X: pd.DataFrame) -> list[list[str]]:
        frame = X[self.columns_].astype(object).where(X[self.columns_].notna(), None)
        return [
            [f"{name}={value}" for name, value in zip(self.columns_, row, strict=True) if value is not None]
            for row in frame.itertuples(index=False, name=None)
        ]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        hasher = FeatureHasher(n_features=self.n_features, input_type="string", alternate_sign=self.alternate_sign)
        return hasher.transform(self.tokens(X)).toarray()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"hash_{index}" for index in range(self.n_features)], dtype=object)


def fit_or_explain(estimator: Any, X: Any, y: Any = None, *, what: str) -> Any:
    """Fit, turning scikit-learn's complaints about the data into a DataError."""
    try:
        return estimator.fit(X) if y is None else estimator.fit(X, y)
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot fit {what}: {error}") from None
