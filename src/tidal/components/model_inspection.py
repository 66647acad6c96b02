"""Looking inside models: which features matter (feature importance) and how (partial dependence)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._charts import bar_chart, series_chart
from tidal.components._model_scoring import LOWER_IS_BETTER, ScoreName, check_metric
from tidal.components._model_scoring import score as score_model
from tidal.core import Column, Columns, DataError, Figure, Param, ParameterError, component
from tidal.models import ModelPackage


class Importance(NamedTuple):
    importance: pd.DataFrame
    chart: Figure


class Dependence(NamedTuple):
    dependence: pd.DataFrame
    chart: Figure


def split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """(the steps before the final estimator or None, the final estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return estimator[:-1], estimator[-1]
    return None, estimator


def booster_of(package: ModelPackage) -> Any:
    """The LightGBM or XGBoost booster inside a package (in memory it may still be the sklearn wrapper)."""
    if package.flavor == "lightgbm":
        return getattr(package.model, "booster_", package.model)
    return package.model.get_booster() if hasattr(package.model, "get_booster") else package.model


def native_importance(package: ModelPackage) -> tuple[np.ndarray, str] | None:
    """The model's own importance, one value per feature, and its kind; None when it has none."""
    count = len(package.features)
    if package.flavor == "lightgbm":
        return np.asarray(booster_of(package).feature_importance(importance_type="gain"), dtype=float), "gain"
    if package.flavor == "xgboost":
        booster = booster_of(package)
        gains = booster.get_score(importance_type="gain")
        names = booster.feature_names or [f"f{index}" for index in range(count)]
        return np.array([gains.get(name, 0.0) for name in names], dtype=float), "gain"
    _, final = split_pipeline(package.model)
    impurity = getattr(final, "feature_importances_", None)
    if impurity is not None and len(impurity) == count:
        return np.asarray(impurity, dtype=float), "impurity"
    coefficients = getattr(final, "coef_", None)
    if coefficients is not None:
        coefficients = np.atleast_2d(np.asarray(coefficients, dtype=float))
        if coefficients.shape[1] == count:
            return np.abs(coefficients).mean(axis=0), "abs_coefficient"
    return None


class _PackageEstimator:
    """Lets scikit-learn's permutation_importance call a model package (any flavor)."""

    def __init__(self, package: ModelPackage) -> None:
        self.package = package

    def fit(self, X: Any, y: Any = None) -> _PackageEstimator:
        return self


def permutation_scores(
    package: ModelPackage, data: pd.DataFrame, label: str, metric: str, repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Mean and std of the score drop when each feature is shuffled, via scikit-learn."""
    from sklearn.inspection import permutation_importance

    chosen = check_metric(metric, package.task)
    sign = -1.0 if chosen in LOWER_IS_BETTER else 1.0
    truth = data[label]
    if truth.isna().any():
        row = int(np.flatnonzero(truth.isna().to_numpy())[0])
        raise DataError(f"label column '{label}' has missing values, the first at row {row}")
    features = package.feature_frame(data)

    def scorer(estimator: Any, X: pd.DataFrame, y: Any) -> float:
        return sign * score_model(chosen, estimator.package, X, y)

    result = permutation_importance(_PackageEstimator(package), features, truth.to_numpy(), scoring=scorer, n_repeats=repeats, random_state=seed)
    return result.importances_mean, result.importances_std, chosen


@component("model.feature_importance", title="Feature Importance", tags={"sample": "classification"})
def feature_importance(
    model: ModelPackage,
    data: pd.DataFrame | None = None,
    *,
    method: Annotated[Literal["auto", "native", "permutation"], Param(help="auto: the model's own importance when it has one, else permutation")] = "auto",
    label: Annotated[Column | None, Param(help="the true values in 'data' (permutation); default: the model's label")] = None,
    metric: Annotated[ScoreName, Param(help="score whose drop measures importance (permutation); auto: AUC, accuracy or R²")] = "auto",
    repeats: Annotated[int, Param(ge=1, le=100, help="shuffles per feature (permutation)")] = 5,
    max_rows: Annotated[int, Param(ge=1, help="rows of 'data' used at most (permutation); a seeded sample beyond that")] = 10000,
    seed: Annotated[int, Param(ge=0, help="seeds the shuffles and the row sample")] = 0,
) -> Importance:
    """How much each feature matters to a model: its native importance, or permutation importance on a table.

    Native importance is the model's own: total split gain for LightGBM and XGBoost, impurity
    decrease for scikit-learn trees (``feature_importances_``), and the absolute coefficient for
    linear models (mean over classes; coefficients are only comparable when features share a
    scale, as they do after the standardization ``classification.logistic_regression`` applies).
    Permutation importance (scikit-learn's ``permutation_importance``) shuffles one feature at a
    time in ``data`` and reports how much the score drops; it works for every model.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_iris(as_frame=True).frame
    >>> result = feature_importance(logistic_regression(frame, label="target"), frame, method="permutation")
    >>> result.importance["feature"].iloc[0]
    'petal width (cm)'
    """
    native = native_importance(model) if method in ("auto", "native") else None
    if method == "native" and native is None:
        raise ParameterError(f"parameter 'method': this {type(model.model).__name__} model has no native importance; use method=permutation with a labelled table")
    if native is not None:
        importance, kind = native
        spread = np.full(len(importance), np.nan)
    else:
        if data is None:
            raise DataError("permutation importance needs a labelled table: connect input 'data'")
        if len(data) == 0:
            raise DataError("input 'data' is empty: permutation importance needs labelled rows")
        target = label or model.label
        if target is None or target not in data.columns:
            raise DataError(f"label column {target!r} is not in input 'data'; set 'label' to the column with the true values")
        rows = data if len(data) <= max_rows else data.sample(n=max_rows, random_state=seed)
        importance, spread, chosen = permutation_scores(model, rows.reset_index(drop=True), target, metric, repeats, seed)
        kind = f"permutation_{chosen}"
    total = float(np.abs(importance).sum())
    table = pd.DataFrame(
        {
            "feature": model.features,
            "importance": importance,
            "std": spread,
            "share": np.abs(importance) / total if total > 0 else 0.0,
            "method": kind,
        }
    )
    table = table.sort_values("importance", ascending=False, kind="stable", ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    shown = table.head(30)
    chart = bar_chart(shown["feature"].tolist(), shown["importance"].tolist(), x="feature", y="importance", title=f"Feature importance ({kind})")
    return Importance(table, Figure(chart))


def _grid(values: pd.Series, resolution: int, low: float, high: float) -> np.ndarray:
    """The feature values partial dependence is computed at, as scikit-learn picks them."""
    from scipy.stats.mstats import mquantiles

    numbers = values.to_numpy(dtype=float)
    uniques = np.unique(numbers)
    if len(uniques) < resolution:
        return uniques
    ends = mquantiles(numbers, prob=[low, high], axis=0)
    if np.isclose(ends[0], ends[1]):
        ends = [uniques[0], uniques[-1]]
    return np.linspace(ends[0], ends[1], num=resolution)


@component("model.partial_dependence", title="Partial Dependence", tags={"sample": "classification"})
def partial_dependence(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    features: Annotated[Columns, Param(help="the features to vary; empty: every model feature (cost grows with each)")] = None,
    target: Annotated[str | None, Param(help="the class whose probability is shown; default: the positive class (binary) or every class")] = None,
    grid_resolution: Annotated[int, Param(ge=2, le=200, help="points on each feature's grid")] = 20,
    lower_percentile: Annotated[float, Param(ge=0, lt=1, help="the grid starts at this quantile of the feature")] = 0.05,
    upper_percentile: Annotated[float, Param(gt=0, le=1, help="the grid ends at this quantile of the feature")] = 0.95,
    max_rows: Annotated[int, Param(ge=1, help="rows averaged over at most; a seeded sample beyond that")] = 1000,
    seed: Annotated[int, Param(ge=0, help="seeds the row sample")] = 0,
) -> Dependence:
    """The average prediction as one feature moves over a grid while the others keep their values.

    For every grid value the feature is set to that value in every row of ``data`` and the
    predictions (the class probability for classifiers) are averaged: scikit-learn's
    brute-force partial dependence, with the same grid (equally spaced between two quantiles, or
    the distinct values when there are fewer than ``grid_resolution``).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> frame = load_diabetes(as_frame=True).frame
    >>> names = [name for name in frame.columns if name != "target"]
    >>> fitted = ModelPackage.from_estimator(LinearRegression().fit(frame[names], frame["target"]), frame, features=names, task="regression", label="target")
    >>> curve = partial_dependence(fitted, frame, features=["bmi"], grid_resolution=5).dependence
    >>> curve["average"].round(1).tolist()
    [117.3, 137.3, 157.3, 177.3, 197.4]
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: partial dependence averages over its rows")
    if lower_percentile >= upper_percentile:
        raise ParameterError(f"parameter 'lower_percentile' ({lower_percentile}) must be below 'upper_percentile' ({upper_percentile})")
    chosen = list(features) if features else list(model.features)
    unknown = [name for name in chosen if name not in model.features]
    if unknown:
        raise DataError(f"parameter 'features': {', '.join(map(repr, unknown))} are not features of the model (it uses: {', '.join(model.features[:20])})")
    rows = model.feature_frame(data)
    rows = rows if len(rows) <= max_rows else rows.sample(n=max_rows, random_state=seed)
    rows = rows.reset_index(drop=True)
    classes = list(model.classes or [])
    if model.task in ("binary", "multiclass"):
        if target is not None:
            matches = [index for index, value in enumerate(classes) if str(value) == str(target)]
            if not matches:
                raise ParameterError(f"parameter 'target': {target!r} is not a class of the model (classes: {classes})")
            targets = matches
        else:
            targets = [len(classes) - 1] if len(classes) == 2 else list(range(len(classes)))
    records: list[dict[str, Any]] = []
    for name in chosen:
        if not pd.api.types.is_numeric_dtype(rows[name]) or rows[name].isna().any():
            raise DataError(f"feature '{name}' must be numeric without missing values for partial dependence (dtype {rows[name].dtype})")
        grid = _grid(rows[name], grid_resolution, lower_percentile, upper_percentile)
        varied = pd.concat([rows] * len(grid), ignore_index=True)
        varied[name] = np.repeat(grid, len(rows))
        if model.task in ("binary", "multiclass"):
            outputs = model.predict_proba(varied).reshape(len(grid), len(rows), -1).mean(axis=1)
            for index in targets:
                records += [{"feature": name, "value": float(v), "target": str(classes[index]), "average": float(a)} for v, a in zip(grid, outputs[:, index], strict=True)]
        else:
            outputs = np.asarray(model.predict(varied), dtype=float).reshape(len(grid), len(rows)).mean(axis=1)
            records += [{"feature": name, "value": float(v), "target": "prediction", "average": float(a)} for v, a in zip(grid, outputs, strict=True)]
    table = pd.DataFrame.from_records(records, columns=["feature", "value", "target", "average"])
    series = [{"feature": f"{row['feature']} ({row['target']})" if len(set(table["target"])) > 1 else row["feature"], "value": row["value"], "average": row["average"]} for row in records]
    chart = series_chart(series, x="value", y="average", series="feature", title="Partial dependence", facet=True)
    return Dependence(table, Figure(chart))
