"""K-fold cross-validation of any trainer component."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from tidal.components._charts import bar_chart
from tidal.components._model_scoring import ScoreName, check_metric, metrics_for
from tidal.components._model_scoring import score as score_model
from tidal.components.evaluation import complete_column, require_scored_rows
from tidal.core import (
    Column,
    ComponentSpec,
    DataError,
    Metrics,
    NotFound,
    Param,
    ParameterError,
    component,
    get_component,
)
from tidal.models import ModelPackage


def trainer_spec(trainer: str) -> ComponentSpec:
    """The trainer component, checked to take a table and give a model."""
    try:
        spec = get_component(trainer)
    except NotFound as error:
        raise ParameterError(f"parameter 'trainer': {error}") from None
    if spec.runs_user_code:  # the engine's allow_code switch does not reach components called by name
        raise ParameterError(f"parameter 'trainer': {trainer} runs code taken from its parameters, so it cannot be "
                             "called by another component; run it as its own pipeline node")
    if not any(port.type == "Table" for port in spec.inputs) or not any(port.type == "Model" for port in spec.outputs):
        raise ParameterError(f"parameter 'trainer': {trainer} is not a trainer (it must take a table and output a model)")
    if spec.param("label") is None:
        raise ParameterError(f"parameter 'trainer': {trainer} has no 'label' parameter, so it cannot be cross-validated on a label")
    return spec


def train(spec: ComponentSpec, table: pd.DataFrame, label: str, params: dict[str, Any]) -> ModelPackage:
    """Run a trainer component eagerly on one table; returns its model output."""
    port = next(port.name for port in spec.inputs if port.type == "Table")
    outputs = spec.execute({port: table}, {**params, "label": label})
    return next(value for value in outputs.values() if isinstance(value, ModelPackage))


def _is_classification(spec: ComponentSpec, labels: pd.Series) -> bool:
    hint = str(spec.tags.get("task", ""))
    if "binary" in hint or "multiclass" in hint:
        return True
    if "regression" in hint:
        return False
    return not pd.api.types.is_float_dtype(labels)


@component(
    "evaluation.cross_validate",
    title="Cross-Validate",
    tags={"sample": "classification", "evaluation": "cross_validation", "sample_params": {"trainer": "classification.logistic_regression", "folds": 3}},
)
def cross_validate(
    data: pd.DataFrame,
    *,
    trainer: Annotated[str, Param(help="the trainer component to validate, e.g. classification.logistic_regression")],
    label: Annotated[Column, Param(help="the column to predict")],
    folds: Annotated[int, Param(ge=2, le=100, help="how many parts the rows are cut into")] = 5,
    seed: Annotated[int, Param(ge=0, help="shuffles the rows before cutting; the same seed gives the same folds")] = 0,
    params: Annotated[dict[str, Any] | None, Param(help="parameters for the trainer (label is set for you)")] = None,
    metric: Annotated[ScoreName, Param(help="the headline metric; auto: AUC (binary), accuracy (multiclass), R² (regression)")] = "auto",
    stratify: Annotated[bool, Param(help="keep class shares equal across folds (classification)")] = True,
) -> Metrics:
    """K-fold cross-validation: train any trainer component on k-1 folds, score it on the held-out fold, k times.

    Rows are shuffled with ``seed`` and cut into ``folds`` parts (stratified by class for
    classifiers, as scikit-learn's ``StratifiedKFold``; ``KFold`` otherwise). Every metric for
    the task is reported per fold and as mean and standard deviation (over folds, ddof=0);
    ``mean`` and ``std`` are those of the headline ``metric``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> report = cross_validate(frame, trainer="classification.logistic_regression", label="target", folds=3)
    >>> report["metric"], round(report["mean"], 3)
    ('auc', 0.995)
    """
    require_scored_rows(data)
    spec = trainer_spec(trainer)
    labels = complete_column(data, label, "label")
    if len(data) < folds:
        raise DataError(f"input 'data' has {len(data)} row(s), fewer than folds={folds}; lower 'folds'")
    classification = _is_classification(spec, labels)
    if classification and stratify:
        smallest = int(labels.value_counts().min())
        if smallest < folds:
            raise DataError(f"the rarest class of '{label}' has {smallest} row(s), fewer than folds={folds}; lower 'folds' or set stratify=false")
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    rows: list[dict[str, Any]] = []
    headline = ""
    for fold, (train_index, test_index) in enumerate(splitter.split(np.zeros(len(data)), labels if classification else None), start=1):
        model = train(spec, data.iloc[train_index].reset_index(drop=True), label, dict(params or {}))
        headline = check_metric(metric, model.task)
        test = data.iloc[test_index].reset_index(drop=True)
        truth = labels.iloc[test_index].to_numpy()
        row: dict[str, Any] = {"fold": fold, "train_rows": int(len(train_index)), "test_rows": int(len(test_index))}
        for name in metrics_for(model.task):
            row[name] = score_model(name, model, test, truth)
        rows.append(row)
    names = [name for name in rows[0] if name not in ("fold", "train_rows", "test_rows")]
    values: dict[str, Any] = {"trainer": trainer, "folds": folds, "metric": headline}
    for name in names:
        scores = np.array([row[name] for row in rows])
        values[f"{name}_mean"] = float(scores.mean())
        values[f"{name}_std"] = float(scores.std())
    values["mean"], values["std"] = values[f"{headline}_mean"], values[f"{headline}_std"]
    for row in rows:
        values[f"fold_{row['fold']}_{headline}"] = row[headline]
    figure = bar_chart([f"fold {row['fold']}" for row in rows], [row[headline] for row in rows], x="fold", y=headline, title=f"{headline} per fold (mean {values['mean']:.3f})")
    return Metrics(values, figures={"folds": figure}, tables={"folds": rows})
