"""Streaming learners as components: recursive least squares, streaming k-means, online Gaussian naive Bayes.

Like ``stream.ftrl_train``, each replays the table in order, ``batch_size`` rows at a time, through
a learner of :mod:`tidal.stream`; the supervised ones score each batch before learning it
(progressive validation) and report it in a metrics table. Models are ``stream`` packages (numpy
arrays and JSON, no pickle) that ``model.predict`` and ``tidal serve`` load, and that the same
component continues when given as ``warm_start`` (a batch model of the matching family warm-starts
them too).
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd

from tidal.core import Column, Columns, Param, component
from tidal.core._errors import DataError
from tidal.models import ModelPackage
from tidal.models._training_data import feature_columns, numeric_features
from tidal.stream._flavor import StreamModel
from tidal.stream._kmeans import StreamingKMeans
from tidal.stream._learners import restore
from tidal.stream._linear import OnlineLinearRegression
from tidal.stream._naive_bayes import OnlineGaussianNB

BATCH = Annotated[int, Param(ge=1, le=1_000_000, help="rows per micro-batch")]


class StreamTraining(NamedTuple):
    model: ModelPackage
    metrics: pd.DataFrame


class StreamClustering(NamedTuple):
    model: ModelPackage
    centers: pd.DataFrame


def _require_table(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if data.empty:
        raise DataError("input 'data' is empty: there are no rows to stream")
    return data


def _target(data: pd.DataFrame, label: str) -> np.ndarray:
    if label not in data.columns:
        raise DataError(f"label column '{label}' is not in the table (columns: {', '.join(map(str, data.columns[:20]))})")
    values = data[label]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"label column '{label}' must be numeric; it has dtype {values.dtype}")
    if values.isna().any():
        raise DataError(f"label column '{label}' has a missing value at row {int(np.flatnonzero(values.isna().to_numpy())[0])}")
    return values.to_numpy(dtype=np.float64)


def _continued(warm_start: ModelPackage, kind: type[Any], name: str) -> Any:
    learner: Any = restore(warm_start.model.learner.state())
    if not isinstance(learner, kind):
        raise DataError(f"input 'warm_start' holds a {type(learner).__name__}; a {name} model is needed")
    learner.features = list(warm_start.features)
    return learner


@component("stream.linear_regression_train", title="Online Linear Regression (RLS)", tags={
    "sample": "regression", "task": "regression", "handles_missing": False, "numeric_only": True, "sample_params": {"batch_size": 8}})
def linear_regression_train(
    data: pd.DataFrame,
    warm_start: ModelPackage | None = None,
    *,
    label: Annotated[Column, Param(help="the numeric column to predict")],
    features: Annotated[Columns, Param(help="feature columns; empty: the warm-start model's, else every column but the label")] = None,
    penalty: Annotated[float, Param(gt=0, log=True, help="ridge penalty of the start weights (δ): small trusts the data at once")] = 1e-6,
    forgetting: Annotated[float, Param(gt=0, le=1, help="weight kept by each older row per new row (1: never forget; 0.999: track drift)")] = 1.0,
    batch_size: BATCH = 256,
) -> StreamTraining:
    """Linear regression learned row by row by recursive least squares, over the table replayed as a stream.

    With ``forgetting=1`` the weights after the last row are the ridge solution (penalty
    ``penalty``, intercept included) of every row: scikit-learn's ``Ridge`` on the same rows. Each
    batch is predicted before it is learned; the metrics table has one row per batch with its
    mean squared and absolute error, and the running root mean squared error. A ``warm_start``
    from ``regression.linear_regression`` (its weights and scaling) or from this component
    continues from there.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = pd.DataFrame({"x1": rng.normal(size=600), "x2": rng.normal(size=600)})
    >>> rows["y"] = 3 * rows["x1"] - rows["x2"] + 0.5
    >>> result = linear_regression_train(rows, label="y", batch_size=100)
    >>> [round(float(w), 6) for w in result.model.model.learner.coef_], round(float(result.metrics["mse"].iloc[-1]), 9)
    ([3.0, -1.0], 0.0)
    """
    data = _require_table(data)
    if warm_start is None:
        learner = None
    elif warm_start.flavor == "stream":
        learner = _continued(warm_start, OnlineLinearRegression, "linear regression")
    else:
        learner = OnlineLinearRegression.from_batch_model(warm_start, penalty=penalty, forgetting=forgetting)
    columns = list(features) if features else ((learner.features if learner is not None else None) or feature_columns(data, label, None))
    X = numeric_features(data, columns).to_numpy(dtype=np.float64)
    y = _target(data, label)
    if learner is None:
        learner = OnlineLinearRegression(penalty=penalty, forgetting=forgetting, n_features=len(columns))
    rows: list[dict[str, Any]] = []
    squares = 0.0
    for start in range(0, len(X), batch_size):
        batch, target = X[start:start + batch_size], y[start:start + batch_size]
        error = learner.predict(batch) - target
        squares += float(error @ error)
        learner.learn(batch, target)
        rows.append({"batch": len(rows), "rows_seen": learner.n_seen, "mse": float(np.mean(error**2)),
                     "mae": float(np.mean(np.abs(error))), "running_rmse": float(np.sqrt(squares / (start + len(batch))))})
    learner.features = columns
    model = ModelPackage.from_estimator(StreamModel(learner), data, features=columns, task="regression", label=label,
                                        params={"penalty": penalty, "forgetting": forgetting, "batch_size": batch_size},
                                        metadata={"rows_seen": learner.n_seen})
    return StreamTraining(model, pd.DataFrame(rows))


@component("stream.kmeans_train", title="Streaming K-Means", tags={
    "sample": "numeric", "handles_missing": False, "numeric_only": True, "sample_model": "clustering.kmeans",
    "sample_params": {"k": 2, "batch_size": 8}})
def kmeans_train(
    data: pd.DataFrame,
    warm_start: ModelPackage | None = None,
    *,
    features: Annotated[Columns, Param(help="numeric columns to cluster on; empty: the warm-start model's, else every numeric column")] = None,
    k: Annotated[int, Param(ge=1, le=10_000, help="number of clusters (a warm-start model's own count wins)")] = 2,
    decay: Annotated[float, Param(ge=0, le=1, help="weight kept by the past per batch (1: every row counts forever; 0: the last batch only)")] = 1.0,
    batch_size: BATCH = 256,
) -> StreamClustering:
    """Spark MLlib's streaming k-means over the table replayed as a stream: centres move towards each batch's rows.

    Centres start from the first ``k`` distinct rows, or from a ``warm_start`` k-means model
    (``clustering.kmeans``, its scaling too, or an earlier run of this component). Outputs the model
    (``model.predict`` gives each row's cluster) and the centres, with the weight each carries.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> points = pd.DataFrame(np.r_[rng.normal(0, 0.1, (300, 2)), rng.normal(5, 0.1, (300, 2))], columns=["a", "b"]).sample(frac=1, random_state=0)
    >>> result = kmeans_train(points, k=2, batch_size=50)
    >>> sorted(result.centers["a"].round().astype(int).tolist()), int(result.centers["weight"].sum())
    ([0, 5], 600)
    """
    data = _require_table(data)
    if warm_start is None:
        learner = StreamingKMeans(k, decay=decay)
    elif warm_start.flavor == "stream":
        learner = _continued(warm_start, StreamingKMeans, "k-means")
    else:
        learner = StreamingKMeans.from_batch_model(warm_start, decay=decay)
    columns = list(features) if features else (learner.features or [
        str(name) for name in data.columns if pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])])
    if not columns:
        raise DataError("input 'data' has no numeric column to cluster; pick columns with 'features'")
    X = numeric_features(data, columns).to_numpy(dtype=np.float64)
    for start in range(0, len(X), batch_size):
        learner.learn(X[start:start + batch_size])
    if len(learner.centers) < learner.k:
        raise DataError(f"the table has only {len(learner.centers)} distinct rows, fewer than k={learner.k}: lower 'k'")
    learner.features = columns
    centres = learner.centers * (learner.scale if learner.scale is not None else 1.0) + (learner.center if learner.center is not None else 0.0)
    table = pd.DataFrame(centres, columns=columns)
    table.insert(0, "cluster", np.arange(len(centres)))
    table["weight"] = learner.counts
    model = ModelPackage.from_estimator(StreamModel(learner), data, features=columns, task="clustering",
                                        params={"k": learner.k, "decay": decay, "batch_size": batch_size},
                                        metadata={"rows_seen": learner.n_seen, "clusters": learner.k})
    return StreamClustering(model, table)


@component("stream.naive_bayes_train", title="Online Gaussian Naive Bayes", tags={
    "sample": "multiclass", "task": "binary|multiclass", "handles_missing": False, "numeric_only": True, "sample_params": {"batch_size": 8}})
def naive_bayes_train(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the class column (numbers, e.g. 0, 1, 2)")],
    features: Annotated[Columns, Param(help="numeric feature columns; empty: every column but the label")] = None,
    var_smoothing: Annotated[float, Param(ge=0, help="added to every variance, times the largest feature variance of the batch")] = 1e-9,
    batch_size: BATCH = 256,
) -> StreamTraining:
    """Gaussian naive Bayes updated batch by batch, as scikit-learn's ``GaussianNB.partial_fit`` does.

    The classes are the label's values in the whole table. From the second batch on, each batch is
    classified before it is learned; the metrics table has its accuracy and log loss, and the
    running accuracy.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame.sample(frac=1.0, random_state=0)
    >>> result = naive_bayes_train(frame, label="target", batch_size=30)
    >>> result.model.classes, round(float(result.metrics["accuracy"].iloc[-1]), 2)
    ([0, 1, 2], 0.93)
    """
    data = _require_table(data)
    columns = feature_columns(data, label, list(features) if features else None)
    X = numeric_features(data, columns).to_numpy(dtype=np.float64)
    y = _target(data, label)
    found = np.unique(y)
    if found.size < 2:
        raise DataError(f"label column '{label}' holds one class ({found[0]:g}); naive Bayes needs at least two")
    learner = OnlineGaussianNB(classes=found, var_smoothing=var_smoothing)
    rows: list[dict[str, Any]] = []
    right = scored = 0
    for start in range(0, len(X), batch_size):
        batch, target = X[start:start + batch_size], y[start:start + batch_size]
        if learner.means.size:
            probabilities = np.clip(learner.predict_proba(batch), 1e-15, 1.0)
            hits = learner.classes[probabilities.argmax(axis=1)] == target
            right, scored = right + int(hits.sum()), scored + len(batch)
            picked = probabilities[np.arange(len(batch)), np.searchsorted(learner.classes, target)]
            rows.append({"batch": start // batch_size, "rows_seen": int(learner.counts.sum()), "accuracy": float(hits.mean()),
                         "log_loss": float(-np.log(picked).mean()), "running_accuracy": right / scored})
        learner.learn(batch, target)
    classes = [int(value) if float(value).is_integer() else float(value) for value in found]
    model = ModelPackage.from_estimator(StreamModel(learner, classes), data, features=columns,
                                        task="binary" if len(classes) == 2 else "multiclass", label=label, classes=classes,
                                        params={"var_smoothing": var_smoothing, "batch_size": batch_size},
                                        metadata={"rows_seen": int(learner.counts.sum())})
    metrics = pd.DataFrame(rows, columns=["batch", "rows_seen", "accuracy", "log_loss", "running_accuracy"])
    return StreamTraining(model, metrics)
