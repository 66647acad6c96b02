"""Feature selection: keep the columns that carry signal. Each selector returns the reduced table
and a fitted selection (the kept columns), with every column's score in the package metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from sklearn import feature_selection as fs

from tidal.components._training import label_values
from tidal.components._transforms import (
    ColumnSubset,
    FittedTransform,
    complete_numeric,
    fit_or_explain,
    numeric_columns,
    package,
    supervised_task,
    without_label,
)
from tidal.core import Column, Columns, DataError, Param, component

COLUMNS_HELP = "candidate columns; empty means every numeric column but the label (others pass through)"
LABEL_HELP = "the target the columns are scored against"
TASK_HELP = "auto: a text, boolean or whole-number label with at most 20 values is a class label"
Task = Literal["auto", "classification", "regression"]
SUPERVISED = {"sample": "classification", "transform": "selector", "supervised": True}


def _inputs(data: pd.DataFrame, label: str | None, columns: list[str] | None) -> tuple[list[str], pd.DataFrame]:
    chosen = without_label(numeric_columns(data, columns, exclude=(label,), purpose="select from"), label)
    return chosen, complete_numeric(data, chosen)


def _keep(
    data: pd.DataFrame,
    chosen: list[str],
    support: Any,
    scores: Any,
    *,
    step: str,
    params: dict[str, Any],
    label: str | None = None,
    hint: str = "loosen the selection",
) -> FittedTransform:
    keep = [name for name, flag in zip(chosen, np.asarray(support, dtype=bool), strict=True) if flag]
    if not keep:
        raise DataError(f"no column passed the selection of {len(chosen)} candidate(s); {hint}")
    score_map = {name: (None if not np.isfinite(value) else float(value)) for name, value in zip(chosen, np.asarray(scores, dtype=float), strict=True)}
    estimator = ColumnSubset(keep).fit(data[chosen])
    return package(
        estimator, data, chosen, step=step, params=params, label=label, metadata={"selected": keep, "scores": score_map}
    )


def _k_best(
    score: Callable[..., Any], data: pd.DataFrame, label: str, chosen: list[str], X: pd.DataFrame, k: int, *, step: str, params: dict[str, Any]
) -> FittedTransform:
    selector = fit_or_explain(fs.SelectKBest(score, k=min(k, len(chosen))), X, label_values(data, label), what=step)
    return _keep(data, chosen, selector.get_support(), selector.scores_, step=step, params=params, label=label)


@component("features.variance_threshold", title="Variance Threshold", tags={"sample": "numeric", "transform": "selector"})
def variance_threshold(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="candidate columns; empty means every numeric column")] = None,
    threshold: Annotated[float, Param(ge=0, help="keep columns whose variance is above this")] = 0.0,
) -> FittedTransform:
    """Drop numeric columns whose variance is at most ``threshold`` (by default: constant columns).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "same": [5.0, 5.0, 5.0], "name": ["x", "y", "z"]})
    >>> variance_threshold(frame).data.columns.tolist()
    ['a', 'name']
    """
    chosen = numeric_columns(data, columns, purpose="select from")
    largest = float(data[chosen].astype(float).var(ddof=0).max())
    if not largest > threshold:
        raise DataError(f"no column passed the selection: the largest variance is {largest:g}; lower 'threshold' below it")
    selector = fit_or_explain(fs.VarianceThreshold(threshold), data[chosen], what="the variance threshold")
    return _keep(data, chosen, selector.get_support(), selector.variances_, step="features.variance_threshold", params={"threshold": threshold}, hint="lower 'threshold'")


@component("features.select_chi2", title="Chi-Square Selection", tags={**SUPERVISED, "sample": "mixed", "sample_params": {"columns": ["id", "n1"], "k": 1}})
def select_chi2(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the class label")],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    k: Annotated[int, Param(ge=1, help="number of columns to keep")] = 10,
) -> FittedTransform:
    """Keep the ``k`` non-negative columns (counts, frequencies, indicators) most dependent on the class.

    Scores are scikit-learn's chi-square statistics between each column and the class label.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> select_chi2(frame, label="target", k=2).data.columns.tolist()
    ['petal length (cm)', 'petal width (cm)', 'target']
    """
    chosen, X = _inputs(data, label, columns)
    negative = [name for name in chosen if (X[name] < 0).any()]
    if negative:
        row = int(np.flatnonzero((X[negative[0]] < 0).to_numpy())[0])
        raise DataError(
            f"column '{negative[0]}' has negative values (the first at row {row}); chi-square needs counts or other "
            "non-negative values: rescale it (features.min_max_scaler) or use features.select_anova"
        )
    return _k_best(fs.chi2, data, label, chosen, X, k, step="features.select_chi2", params={"k": k})


@component("features.select_anova", title="ANOVA F Selection", tags=SUPERVISED)
def select_anova(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help=LABEL_HELP)],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    k: Annotated[int, Param(ge=1, help="number of columns to keep")] = 10,
    task: Annotated[Task, Param(help=TASK_HELP)] = "auto",
) -> FittedTransform:
    """Keep the ``k`` columns with the largest F statistic against the label.

    For a class label this is the one-way ANOVA F (``f_classif``); for a numeric target, the F
    test of a one-variable linear regression (``f_regression``).

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> frame = load_wine(as_frame=True).frame
    >>> select_anova(frame, label="target", k=2).data.columns.tolist()
    ['flavanoids', 'proline', 'target']
    """
    chosen, X = _inputs(data, label, columns)
    kind = supervised_task(label_values(data, label), task)
    score = fs.f_classif if kind == "classification" else fs.f_regression
    return _k_best(score, data, label, chosen, X, k, step="features.select_anova", params={"k": k, "task": kind})


@component("features.select_mutual_info", title="Mutual Information Selection", tags=SUPERVISED)
def select_mutual_info(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help=LABEL_HELP)],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    k: Annotated[int, Param(ge=1, help="number of columns to keep")] = 10,
    task: Annotated[Task, Param(help=TASK_HELP)] = "auto",
    neighbors: Annotated[int, Param(ge=1, help="neighbours in the k-nearest-neighbour estimate")] = 3,
    seed: Annotated[int, Param(ge=0, help="seed of the small noise added to break ties")] = 0,
) -> FittedTransform:
    """Keep the ``k`` columns sharing the most mutual information with the label (catches non-linear links).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> select_mutual_info(frame, label="target", k=2).data.columns.tolist()
    ['petal length (cm)', 'petal width (cm)', 'target']
    """
    chosen, X = _inputs(data, label, columns)
    kind = supervised_task(label_values(data, label), task)
    estimate = fs.mutual_info_classif if kind == "classification" else fs.mutual_info_regression

    def score(features: Any, target: Any) -> Any:
        return estimate(features, target, n_neighbors=neighbors, random_state=seed)

    params = {"k": k, "task": kind, "neighbors": neighbors, "seed": seed}
    return _k_best(score, data, label, chosen, X, k, step="features.select_mutual_info", params=params)


def _model_selection(
    estimator: Any, data: pd.DataFrame, label: str, chosen: list[str], X: pd.DataFrame, *, threshold: Any, max_features: int | None, standardize: bool, step: str, params: dict[str, Any]
) -> FittedTransform:
    from sklearn.preprocessing import StandardScaler

    features = StandardScaler().fit_transform(X) if standardize else X.to_numpy()
    selector = fs.SelectFromModel(estimator, threshold=threshold, max_features=None if max_features is None else min(max_features, len(chosen)))
    fit_or_explain(selector, features, label_values(data, label), what=step)
    scores = _importances(selector.estimator_)
    return _keep(data, chosen, selector.get_support(), scores, step=step, params=params, label=label, hint="weaken the regularization or lower the threshold")


def _importances(model: Any) -> np.ndarray:
    if hasattr(model, "feature_importances_"):
        return np.asarray(model.feature_importances_, dtype=float)
    coef = np.asarray(model.coef_, dtype=float)
    return np.abs(coef) if coef.ndim == 1 else np.linalg.norm(coef, ord=1, axis=0)


@component("features.select_l1", title="L1-Based Selection", tags=SUPERVISED)
def select_l1(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help=LABEL_HELP)],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    alpha: Annotated[float, Param(gt=0, log=True, help="L1 strength: larger keeps fewer columns")] = 0.1,
    task: Annotated[Task, Param(help=TASK_HELP)] = "auto",
    max_features: Annotated[int | None, Param(ge=1, help="keep at most this many columns")] = None,
    standardize: Annotated[bool, Param(help="scale columns to unit variance before fitting, so the penalty treats them alike")] = True,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> FittedTransform:
    """Keep the columns an L1-penalized linear model gives a non-zero weight.

    A class label fits an L1 logistic regression (C = 1/alpha, solver saga); a numeric target a
    Lasso with this ``alpha``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> frame = load_diabetes(as_frame=True).frame
    >>> select_l1(frame, label="target", alpha=5.0).data.columns.tolist()
    ['sex', 'bmi', 'bp', 's3', 's5', 'target']
    """
    from sklearn.linear_model import Lasso, LogisticRegression

    chosen, X = _inputs(data, label, columns)
    kind = supervised_task(label_values(data, label), task)
    if kind == "classification":
        estimator: Any = LogisticRegression(C=1.0 / alpha, l1_ratio=1.0, solver="saga", max_iter=5000, random_state=seed)
    else:
        estimator = Lasso(alpha=alpha, max_iter=10000, random_state=seed)
    params = {"alpha": alpha, "task": kind, "max_features": max_features, "standardize": standardize, "seed": seed}
    return _model_selection(estimator, data, label, chosen, X, threshold=1e-5, max_features=max_features, standardize=standardize, step="features.select_l1", params=params)


@component("features.select_by_importance", title="Model Importance Selection", tags=SUPERVISED)
def select_by_importance(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help=LABEL_HELP)],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    k: Annotated[int | None, Param(ge=1, help="keep the k most important columns; empty keeps those above the mean importance")] = None,
    task: Annotated[Task, Param(help=TASK_HELP)] = "auto",
    trees: Annotated[int, Param(ge=1, help="trees in the random forest")] = 100,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> FittedTransform:
    """Keep the columns a random forest finds most important (impurity-based importance).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> select_by_importance(frame, label="target", k=2, trees=20).data.columns.tolist()
    ['petal length (cm)', 'petal width (cm)', 'target']
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    chosen, X = _inputs(data, label, columns)
    kind = supervised_task(label_values(data, label), task)
    forest = RandomForestClassifier if kind == "classification" else RandomForestRegressor
    estimator = forest(n_estimators=trees, random_state=seed, n_jobs=1)
    params = {"k": k, "task": kind, "trees": trees, "seed": seed}
    return _model_selection(
        estimator, data, label, chosen, X, threshold="mean" if k is None else -np.inf, max_features=k, standardize=False, step="features.select_by_importance", params=params
    )


@component("features.rfe", title="Recursive Feature Elimination", tags=SUPERVISED)
def rfe(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help=LABEL_HELP)],
    columns: Annotated[Columns, Param(help=COLUMNS_HELP)] = None,
    k: Annotated[int, Param(ge=1, help="number of columns to keep")] = 5,
    step: Annotated[int, Param(ge=1, help="columns removed per round")] = 1,
    task: Annotated[Task, Param(help=TASK_HELP)] = "auto",
    standardize: Annotated[bool, Param(help="scale columns to unit variance first, so weights are comparable")] = True,
) -> FittedTransform:
    """Recursive feature elimination: refit a linear model, drop the weakest columns, repeat until ``k`` remain.

    A class label uses logistic regression, a numeric target ordinary least squares. The package
    metadata ranks every column (1 = kept).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> len(rfe(frame, label="target", k=5, step=5).data.columns)
    6
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.preprocessing import StandardScaler

    chosen, X = _inputs(data, label, columns)
    kind = supervised_task(label_values(data, label), task)
    estimator = LogisticRegression(max_iter=2000) if kind == "classification" else LinearRegression()
    features = StandardScaler().fit_transform(X) if standardize else X.to_numpy()
    selector = fs.RFE(estimator, n_features_to_select=min(k, len(chosen)), step=step)
    fit_or_explain(selector, features, label_values(data, label), what="recursive feature elimination")
    params = {"k": k, "step": step, "task": kind, "standardize": standardize}
    return _keep(data, chosen, selector.support_, selector.ranking_, step="features.rfe", params=params, label=label)
