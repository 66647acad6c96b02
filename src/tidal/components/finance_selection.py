"""Stepwise feature selection for binary outcomes, by AIC or cross-validated AUC."""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._training import numeric_features
from tidal.components.finance import event_class
from tidal.core import Column, Columns, DataError, Param, component


class Selection(NamedTuple):
    data: pd.DataFrame
    steps: pd.DataFrame


def logistic_aic(X: np.ndarray, y: np.ndarray) -> float:
    """AIC = 2 (features + 1) - 2 log-likelihood of an unpenalized logistic regression."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if X.shape[1] == 0:
        p = np.full(len(y), y.mean())
    else:
        scaled = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-8).fit(scaled, y)
        p = model.predict_proba(scaled)[:, 1]
    p = np.clip(p, 1e-15, 1 - 1e-15)
    likelihood = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return 2.0 * (X.shape[1] + 1) - 2.0 * likelihood


def cross_validated_auc(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """Mean AUC of a standardized logistic regression over stratified folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if X.shape[1] == 0:
        return 0.5
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X, y, cv=splitter, scoring="roc_auc").mean())


@component("finance.stepwise_selection", title="Stepwise Selection", tags={"sample": "classification", "sample_params": {"folds": 3}})
def stepwise_selection(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the binary outcome")],
    features: Annotated[Columns, Param(help="numeric candidate columns; empty: every numeric column but the label")] = None,
    positive: Annotated[str | None, Param(help="the event class; default: the larger label value")] = None,
    direction: Annotated[Literal["forward", "backward"], Param(help="forward adds one feature at a time; backward removes one at a time")] = "forward",
    criterion: Annotated[Literal["aic", "auc"], Param(help="aic: of a logistic regression on all rows (lower is better); auc: cross-validated (higher is better)")] = "aic",
    max_features: Annotated[int, Param(ge=0, help="at most this many features: forward stops there, backward removes until there (0: no limit)")] = 0,
    min_improvement: Annotated[float, Param(ge=0, help="a step must improve the criterion by more than this")] = 0.0,
    folds: Annotated[int, Param(ge=2, le=20, help="folds for the AUC criterion")] = 5,
    seed: Annotated[int, Param(ge=0, help="shuffles the folds of the AUC criterion")] = 0,
) -> Selection:
    """Choose features step by step for a logistic regression, by AIC or by cross-validated AUC.

    Forward selection starts from no feature and adds, at each step, the one that improves the
    criterion most; backward elimination starts from all and removes the one whose removal
    helps most. It stops when no step improves the criterion by more than ``min_improvement``
    (forward also stops at ``max_features``; backward keeps removing until at most that many remain). AIC uses an unpenalized logistic regression fitted on
    every row; AUC is the mean over stratified folds of a standardized logistic regression, as
    scikit-learn's ``SequentialFeatureSelector`` scores candidates.

    Outputs: ``data``, the label and the chosen features; ``steps``, one row per step.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> picked = stepwise_selection(frame, label="target", features=["mean radius", "mean texture", "mean symmetry", "worst area"], max_features=2)
    >>> picked.steps[["action", "feature"]].values.tolist()
    [['start', ''], ['add', 'worst area'], ['add', 'mean symmetry']]
    """
    event = event_class(data, label, positive)
    if features and label in features:
        raise DataError(f"the label column '{label}' is also listed in 'features'; remove it")
    candidates = list(features) if features else [
        str(name) for name in data.columns if name != label and pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])
    ]
    if not candidates:
        raise DataError("there are no numeric candidate features; set 'features' or encode text columns first")
    X = numeric_features(data, candidates).to_numpy(dtype=float)
    y = (data[label] == event).to_numpy().astype(float)
    if criterion == "auc" and int(min(y.sum(), len(y) - y.sum())) < folds:
        raise DataError(f"the rarer class has fewer rows than folds={folds}; lower 'folds' or use criterion=aic")

    def measure(columns: list[int]) -> float:
        subset = X[:, columns]
        return logistic_aic(subset, y) if criterion == "aic" else cross_validated_auc(subset, y, folds, seed)

    better = (lambda new, old: new < old - min_improvement) if criterion == "aic" else (lambda new, old: new > old + min_improvement)
    chosen = [] if direction == "forward" else list(range(len(candidates)))
    current = measure(chosen)
    steps: list[dict[str, Any]] = [{"step": 0, "action": "start", "feature": "", "features": len(chosen), criterion: current}]
    limit = max_features or len(candidates)
    while True:
        if direction == "forward":
            options = [index for index in range(len(candidates)) if index not in chosen] if len(chosen) < limit else []
            trials = [(measure(sorted([*chosen, index])), index) for index in options]
        else:
            trials = [(measure([other for other in chosen if other != index]), index) for index in chosen] if len(chosen) > 1 else []
        if not trials:
            break
        scores = np.array([score for score, _ in trials])
        best_score, best_index = trials[int(np.argmin(scores) if criterion == "aic" else np.argmax(scores))]
        if not better(best_score, current) and not (direction == "backward" and len(chosen) > limit):
            break
        if direction == "forward":
            chosen = sorted([*chosen, best_index])
        else:
            chosen = [other for other in chosen if other != best_index]
        current = best_score
        steps.append({"step": len(steps), "action": "add" if direction == "forward" else "remove", "feature": candidates[best_index], "features": len(chosen), criterion: current})
    selected = [candidates[index] for index in chosen]
    return Selection(data[[*selected, label]].reset_index(drop=True), pd.DataFrame(steps))
