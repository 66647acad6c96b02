"""Anomaly detection: flag unusual rows without a label.

Every component outputs its input with two new columns, ``is_anomaly`` (bool) and
``anomaly_score`` (higher is more unusual), and a model package (task ``anomaly``) whose
``predict`` flags new rows the same way (True for an anomaly). Scores are on each detector's
own scale: compare them within one detector, not across detectors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd
from sklearn import covariance, ensemble, neighbors, svm

from tidal.components._detectors import AnomalyModel, BoxPlotDetector, KSigmaDetector
from tidal.components._hyperparameters import Hyper, hyper, library_params, tuned
from tidal.components._training import (
    COLUMNS,
    SEED,
    WEIGHT,
    accepts_weights,
    allows_missing,
    build_component,
    capability,
    compose_doc,
    feature_columns,
    final_step,
    fit_estimator,
    numeric_features,
    require_rows,
    standardize_param,
    weight_values,
    wrap_scaled,
)
from tidal.core._component import ComponentSpec
from tidal.models import ModelPackage


class Anomalies(NamedTuple):
    data: pd.DataFrame
    model: ModelPackage


EXAMPLE = """
    >>> import pandas as pd
    >>> from tidal.components.anomaly import {name}
    >>> frame = pd.DataFrame({{"x": [i % 7 for i in range(40)] + [60], "y": [i % 5 for i in range(40)] + [-50]}})
    >>> result = {name}(frame{extra})
    >>> bool(result.data["is_anomaly"].iloc[-1]), int(result.data["anomaly_score"].idxmax()), result.model.task
    (True, 40, 'anomaly')
"""


def detector(
    component_id: str,
    make: Callable[..., Any],
    *,
    title: str,
    summary: str,
    details: str = "",
    hypers: dict[str, Hyper] | None = None,
    fixed: dict[str, Any] | None = None,
    standardize: bool | None = None,
    example_params: str = "",
) -> ComponentSpec:
    """Declare an anomaly component over a scikit-learn-style outlier detector (see ``supervised``)."""
    declared = library_params(make, hypers or {})
    fixed = dict(fixed or {})
    handles_missing = capability(make, None, allows_missing)
    supports_weights = capability(make, None, accepts_weights)
    seed = "random_state" in inspect.signature(make).parameters
    parameters = [COLUMNS, *declared.parameters]
    if standardize is not None:
        parameters.append(standardize_param(standardize))
    if supports_weights:
        parameters.append(WEIGHT)
    if seed:
        parameters.append(SEED)

    def run(data: pd.DataFrame, **values: Any) -> Anomalies:
        require_rows(data, "input 'data'", 2)
        weight = values.get("sample_weight")
        columns = feature_columns(data, None, values["features"], exclude=(weight,) if weight else ())
        X = numeric_features(data, columns, allow_missing=handles_missing)
        arguments = {**fixed, **declared.to_library(values)}
        if seed:
            arguments["random_state"] = values["seed"]
        estimator = wrap_scaled(make(**arguments), bool(values.get("standardize")))
        fit_estimator(estimator, X, None, weight_values(data, weight) if weight else None)
        model = AnomalyModel(estimator)
        final = final_step(estimator)
        table = data.copy()
        if hasattr(final, "negative_outlier_factor_"):  # local outlier factor: its own training rows
            table["is_anomaly"] = final.negative_outlier_factor_ < final.offset_
            table["anomaly_score"] = -final.negative_outlier_factor_
        else:
            table["is_anomaly"] = model.predict(X)
            table["anomaly_score"] = model.anomaly_score(X)
        params = {key: value for key, value in values.items() if key != "features"}
        package = ModelPackage.from_estimator(model, data, features=columns, task="anomaly", params=params)
        return Anomalies(table, package)

    name = component_id.split(".", 1)[1]
    doc = compose_doc(summary, details, EXAMPLE, name=name, extra=example_params)
    tags = {"sample": "numeric", "task": "anomaly", "handles_missing": handles_missing, "numeric_only": True, "supports_weights": supports_weights}
    return build_component(
        component_id,
        title=title,
        doc=doc,
        inputs={"data": pd.DataFrame},
        parameters=parameters,
        returns=Anomalies,
        run=run,
        tags=tags,
        module=__name__,
    )


CONTAMINATION = tuned("expected share of anomalies, which sets the threshold; empty: the algorithm's own rule", 0.001, 0.5, log=True, kind=float, empty="auto")

isolation_forest = detector(
    "anomaly.isolation_forest",
    ensemble.IsolationForest,
    title="Isolation Forest",
    summary="Isolation forest (scikit-learn IsolationForest): anomalies are the rows random trees isolate in few splits.",
    details="The score is the normalized mean path length of the original paper (about 0.5 for ordinary rows, near 1 for anomalies). Missing values are allowed.",
    hypers={"n_estimators": tuned("number of trees", 50, 500, log=True), "max_samples": hyper("share of rows each tree sees; empty: min(256, rows)", kind=float, empty="auto"),
            "contamination": CONTAMINATION, "max_features": hyper("share of features each tree sees"), "bootstrap": hyper("draw rows with replacement")},
)

local_outlier_factor = detector(
    "anomaly.local_outlier_factor",
    neighbors.LocalOutlierFactor,
    title="Local Outlier Factor",
    summary="Local outlier factor (scikit-learn LocalOutlierFactor): anomalies are rows much less dense than their neighbours.",
    details="The score is the local outlier factor (about 1 for ordinary rows). Training rows are scored against each other; the model scores new rows (novelty mode).",
    hypers={"n_neighbors": tuned("neighbours the density is measured on", 5, 100, log=True), "contamination": CONTAMINATION,
            "metric": hyper("distance between rows", choices=("minkowski", "euclidean", "manhattan", "chebyshev", "cosine"))},
    fixed={"novelty": True},
    standardize=True,
)

one_class_svm = detector(
    "anomaly.one_class_svm",
    svm.OneClassSVM,
    title="One-Class SVM",
    summary="One-class support vector machine (scikit-learn OneClassSVM): learns a boundary around the ordinary rows.",
    details="``nu`` bounds the share of training rows left outside the boundary. Costs grow with the square of the rows.",
    hypers={"nu": tuned("upper bound on the share of anomalies among training rows", 0.01, 0.5, log=True, default=0.05),
            "kernel": hyper("kernel function", choices=("rbf", "poly", "sigmoid", "linear")),
            "gamma": tuned("kernel coefficient; empty: 1 / (features × variance)", 1e-4, 10, log=True, kind=float, empty="scale")},
    standardize=True,
    example_params=", nu=0.1",
)

elliptic_envelope = detector(
    "anomaly.elliptic_envelope",
    covariance.EllipticEnvelope,
    title="Elliptic Envelope",
    summary="Elliptic envelope (scikit-learn EllipticEnvelope): a robust Gaussian fit; anomalies lie far outside its ellipse.",
    details="The score is the squared Mahalanobis distance under the robust (minimum covariance determinant) estimate. Suits roughly Gaussian data.",
    hypers={"contamination": tuned("expected share of anomalies, which sets the threshold", 0.001, 0.5, log=True),
            "support_fraction": hyper("share of rows the robust estimate uses; empty: the minimum", kind=float)},
)

k_sigma = detector(
    "anomaly.k_sigma",
    KSigmaDetector,
    title="K-Sigma Rule",
    summary="The k-sigma rule: a row is an anomaly when any column lies more than k standard deviations from its mean.",
    details="The score is the largest number of standard deviations any column lies from its mean. Missing values are ignored.",
    hypers={"k": tuned("standard deviations from the mean that count as anomalous", 2.0, 5.0)},
)

box_plot = detector(
    "anomaly.box_plot",
    BoxPlotDetector,
    title="Box Plot (IQR) Rule",
    summary="The box-plot rule: a row is an anomaly when any column lies beyond the whiskers, whisker × IQR outside the quartiles.",
    details="The score is the largest distance outside the box (in IQRs) of any column, 0 inside it. Missing values are ignored.",
    hypers={"whisker": tuned("whisker length in interquartile ranges (1.5 is Tukey's)", 1.0, 3.0)},
)
