"""Streaming: online learners run over a table replayed as a stream of micro-batches.

These batch-table versions replay the rows in order, ``batch_size`` at a time, through the learners
of :mod:`tidal.stream` (the Kafka and Redis sources, when they come, feed the same learners). Each
batch is scored before it is learned (progressive validation), so the metrics table shows how the
model did on rows it had not yet seen. Models are ``stream`` packages (numpy arrays and JSON, no
pickle) that ``model.predict`` and ``tidal serve`` load, and that ``stream.ftrl_train`` continues.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.core import Column, Columns, Param, ParameterError, component
from tidal.core._errors import DataError
from tidal.models import ModelPackage
from tidal.models._training_data import feature_columns, numeric_features
from tidal.stream._drift import ADWIN, PageHinkley
from tidal.stream._flavor import StreamModel
from tidal.stream._ftrl import FTRLLogisticRegression
from tidal.stream._learners import restore
from tidal.stream._stats import StreamingStats

BATCH = Annotated[int, Param(ge=1, le=1_000_000, help="rows per micro-batch")]
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class FTRLTraining(NamedTuple):
    model: ModelPackage
    metrics: pd.DataFrame


def _require_table(data: Any, name: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input '{name}' must be a table, got {type(data).__name__}")
    if data.empty:
        raise DataError(f"input '{name}' is empty: there are no rows to stream")
    return data


def _binary_labels(data: pd.DataFrame, label: str, classes: list[Any] | None) -> tuple[np.ndarray, list[Any]]:
    if label not in data.columns:
        raise DataError(f"label column '{label}' is not in the table (columns: {', '.join(map(str, data.columns[:20]))})")
    values = data[label]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"label column '{label}' must hold two numeric classes (e.g. 0 and 1); it has dtype {values.dtype}")
    if values.isna().any():
        raise DataError(f"label column '{label}' has a missing value at row {int(np.flatnonzero(values.isna().to_numpy())[0])}")
    found = sorted(values.unique().tolist())
    classes = classes or found
    if len(classes) != 2 or not set(found) <= set(classes):
        raise DataError(f"label column '{label}' must hold two classes {'(' + ', '.join(map(str, classes)) + ')' if len(classes) == 2 else ''}; "
                        f"it holds {', '.join(map(str, found[:10]))}; FTRL here is binary logistic regression")
    return (values.to_numpy() == classes[1]).astype(np.float64), classes


def _start(warm_start: ModelPackage | None, params: dict[str, Any]) -> FTRLLogisticRegression:
    if warm_start is None:
        return FTRLLogisticRegression(**params)
    if warm_start.flavor == "stream":
        learner = restore(warm_start.model.learner.state())
        if not isinstance(learner, FTRLLogisticRegression):
            raise DataError(f"input 'warm_start' holds a {type(learner).__name__}; an FTRL model or a logistic regression is needed")
        learner.features, learner.classes = list(warm_start.features), warm_start.classes
        return learner
    return FTRLLogisticRegression.from_batch_model(warm_start, **params)


@component("stream.ftrl_train", title="FTRL Online Training", tags={
    "sample": "classification", "task": "binary", "handles_missing": False, "numeric_only": True, "sample_params": {"batch_size": 8}})
def ftrl_train(
    data: pd.DataFrame,
    warm_start: ModelPackage | None = None,
    *,
    label: Annotated[Column, Param(help="the 0/1 (two-class numeric) column to predict")],
    features: Annotated[Columns, Param(help="feature columns; empty: the warm-start model's, else every column but the label")] = None,
    alpha: Annotated[float, Param(gt=0, log=True, help="FTRL learning-rate scale")] = 0.05,
    beta: Annotated[float, Param(ge=0, help="FTRL learning-rate smoothing")] = 1.0,
    l1: Annotated[float, Param(ge=0, help="L1 penalty (sparsity)")] = 0.0,
    l2: Annotated[float, Param(ge=0, help="L2 penalty")] = 1.0,
    batch_size: BATCH = 256,
) -> FTRLTraining:
    """FTRL-proximal logistic regression (Alink's parameters) over the table replayed as a stream.

    Rows are read in order, ``batch_size`` at a time; each batch is scored, then learned (the
    gradients of a batch at its starting weights, summed). A ``warm_start`` model, from
    ``classification.logistic_regression`` or an earlier ``stream.ftrl_train``, gives the start
    weights (and its features and input scaling). Outputs the model and a progressive-validation
    table: one row per batch with its log loss and accuracy before learning it, and the running
    log loss.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    >>> batch_model = logistic_regression(frame.iloc[:200], label="target")   # warm start: its weights and scaling
    >>> result = ftrl_train(frame.iloc[200:], batch_model, label="target", batch_size=32)
    >>> result.model.flavor, len(result.metrics), round(float(result.metrics["accuracy"].mean()), 2)
    ('stream', 12, 0.97)
    """
    data = _require_table(data, "data")
    learner = _start(warm_start, {"alpha": alpha, "beta": beta, "l1": l1, "l2": l2})
    columns = list(features) if features else (learner.features or feature_columns(data, label, None))
    X = numeric_features(data, columns).to_numpy(dtype=np.float64)
    y, classes = _binary_labels(data, label, learner.classes)
    rows: list[dict[str, Any]] = []
    total_loss = 0.0
    for start in range(0, len(X), batch_size):
        batch, target = X[start:start + batch_size], y[start:start + batch_size]
        positive = np.clip(learner.predict_proba(batch)[:, 1] if learner.n_features else np.full(len(batch), 0.5), 1e-15, 1 - 1e-15)
        losses = -(target * np.log(positive) + (1 - target) * np.log(1 - positive))
        total_loss += float(losses.sum())
        learner.learn(batch, target)
        rows.append({"batch": len(rows), "rows_seen": learner.n_seen, "log_loss": float(losses.mean()),
                     "accuracy": float(((positive > 0.5) == (target == 1)).mean()), "running_log_loss": total_loss / learner.n_seen})
    learner.features, learner.classes = columns, classes
    params = {"alpha": alpha, "beta": beta, "l1": l1, "l2": l2, "batch_size": batch_size}
    model = ModelPackage.from_estimator(StreamModel(learner, classes), data, features=columns, task="binary", label=label,
                                        classes=classes, params=params, metadata={"rows_seen": learner.n_seen})
    return FTRLTraining(model, pd.DataFrame(rows))


@component("stream.ftrl_predict", title="FTRL Predict", tags={"sample": "classification", "sample_model": "stream.ftrl_train"})
def ftrl_predict(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    prediction_column: Annotated[str, Param(help="name of the new column with the predicted class")] = "prediction",
    probability_column: Annotated[str, Param(help="name of the new column with the probability of the second class")] = "probability",
) -> pd.DataFrame:
    """Score a table with an FTRL model (from ``stream.ftrl_train``): the class and its probability.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> model = ftrl_train(frame, logistic_regression(frame, label="target"), label="target").model
    >>> scored = ftrl_predict(model, frame)
    >>> sorted(scored["prediction"].unique().tolist()), bool((scored["prediction"] == frame["target"]).mean() > 0.95)
    ([0, 1], True)
    """
    data = _require_table(data, "data")
    if model.flavor != "stream" or not isinstance(getattr(model.model, "learner", None), FTRLLogisticRegression):
        raise DataError(f"input 'model' must come from stream.ftrl_train; it is a {model.flavor} {model.task} model (use model.predict)")
    result = data.copy()
    result[prediction_column] = model.predict(data)
    result[probability_column] = model.predict_proba(data)[:, 1]
    return result


@component("stream.online_stats", title="Streaming Statistics", tags={"sample": "numeric", "numeric_only": True, "sample_params": {"batch_size": 4}})
def online_stats(
    data: pd.DataFrame,
    *,
    features: Annotated[Columns, Param(help="numeric columns to describe; empty: every numeric column")] = None,
    batch_size: BATCH = 1024,
    capacity: Annotated[int, Param(ge=8, le=1_000_000, help="items per level of the quantile sketch: more is more exact")] = 2048,
) -> pd.DataFrame:
    """Count, mean, variance, min, max (exact) and quantiles (sketched) of each column, computed as a stream.

    One row per column; ``quantile_error_bound`` is the most any quantile's rank can be off, as a
    fraction of the rows (see :mod:`tidal.stream._stats`).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> stats = online_stats(load_iris(as_frame=True).frame.drop(columns="target"))
    >>> stats.loc[0, "column"], round(float(stats.loc[0, "mean"]), 3), float(stats.loc[0, "p50"])
    ('sepal length (cm)', 5.843, 5.8)
    """
    data = _require_table(data, "data")
    columns = list(features) if features else [name for name in data.columns if pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])]
    if not columns:
        raise DataError("input 'data' has no numeric column to describe; pick columns with 'features'")
    X = numeric_features(data, columns).to_numpy(dtype=np.float64)
    stats = StreamingStats(capacity=capacity)
    for start in range(0, len(X), batch_size):
        stats.learn(X[start:start + batch_size])
    quantiles = stats.quantile(QUANTILES)
    table = pd.DataFrame({"column": columns, "count": stats.count.astype(np.int64), "mean": stats.mean, "variance": stats.variance(ddof=1),
                          "min": stats.minimum, "max": stats.maximum})
    for index, level in enumerate(QUANTILES):
        table[f"p{round(level * 100):02d}"] = quantiles[index]
    table["quantile_error_bound"] = [sketch.error_bound() for sketch in stats.sketches]
    return table


@component("stream.drift_detect", title="Drift Detection", tags={"sample": "classification", "sample_params": {"column": "x1"}})
def drift_detect(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the numeric column to watch (e.g. a model's per-row error or loss)")],
    detector: Literal["adwin", "page_hinkley"] = "adwin",
    delta: Annotated[float, Param(gt=0, lt=1, help="ADWIN: confidence (smaller: fewer alarms); Page-Hinkley: tolerated change")] = 0.002,
    threshold: Annotated[float, Param(gt=0, help="Page-Hinkley: the alarm threshold")] = 50.0,
    drift_column: Annotated[str, Param(help="name of the new boolean column marking rows where drift was detected")] = "drift",
) -> pd.DataFrame:
    """Flag the rows where a concept-drift detector (ADWIN or Page-Hinkley, as River defines them) fires.

    The column is read in row order as one stream; the output is the table with a boolean column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> values = np.r_[np.zeros(1000), np.ones(1000)] + np.random.default_rng(0).normal(0, 0.1, 2000)
    >>> flagged = drift_detect(pd.DataFrame({"error": values}), column="error")
    >>> np.flatnonzero(flagged["drift"]).tolist()
    [1023]
    """
    data = _require_table(data, "data")
    values = numeric_features(data, [column]).to_numpy(dtype=np.float64)[:, 0]
    if detector == "adwin":
        watcher: ADWIN | PageHinkley = ADWIN(delta=delta)
    elif delta >= threshold:
        raise ParameterError(f"Page-Hinkley 'delta' ({delta}) must be smaller than 'threshold' ({threshold})")
    else:
        watcher = PageHinkley(delta=delta, threshold=threshold)
    flags = np.zeros(len(values), dtype=bool)
    flags[watcher.update_many(values)] = True
    result = data.copy()
    result[drift_column] = flags
    return result
