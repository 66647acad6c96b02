"""Using models: batch prediction with any model package, what a package says about itself, and
exporting it to ONNX or PMML."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd

from tidal.core import Columns, DataError, Metrics, OutputFile, Param, component
from tidal.models import ModelPackage


def probability_column(value: object) -> str:
    return f"prob_{value}"


@component("model.predict", title="Predict", tags={"sample": "classification", "batch_scoring": True})
def predict(
    model: ModelPackage,
    data: pd.DataFrame,
    *,
    keep_columns: Annotated[Columns, Param(help="input columns to carry over; empty keeps all")] = None,
    prediction_column: Annotated[str, Param(help="name of the new prediction column")] = "prediction",
    probabilities: Annotated[bool, Param(help="add one prob_<class> column per class (classifiers)")] = True,
) -> pd.DataFrame:
    """Score a table with any model: adds a prediction column and, for classifiers, class probabilities.

    A fitted transform (a scaler, an encoder) is applied instead, returning the transformed table.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_iris(as_frame=True).frame
    >>> scored = predict(logistic_regression(frame, label="target"), frame)
    >>> [name for name in scored.columns if name.startswith("prob_")]
    ['prob_0', 'prob_1', 'prob_2']
    """
    if model.task == "transform":
        return model.transform(data)
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no rows to score")
    result = data[keep_columns].copy() if keep_columns else data.copy()
    if prediction_column in result.columns:
        result = result.drop(columns=[prediction_column])
    result[prediction_column] = model.predict(data)
    if probabilities and model.task in ("binary", "multiclass"):
        scores = model.predict_proba(data)
        for index, value in enumerate(model.classes or []):
            result[probability_column(value)] = scores[:, index]
    return result


@component("model.summary", title="Model Summary", tags={"sample": "classification"})
def summary(model: ModelPackage) -> Metrics:
    """A model's manifest as metrics: flavor, task, label, classes, features and training parameters.

    The scalar facts are metrics; the ``features`` table lists every input column with its type,
    ``params`` the training parameters, ``classes`` the classes of a classifier and
    ``libraries`` the library versions the model was built with. The creation time is left out,
    so the same model always gives the same summary.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> facts = summary(logistic_regression(load_iris(as_frame=True).frame, label="target"))
    >>> facts["task"], facts["features"], facts["classes"]
    ('multiclass', 4, 3)
    """
    manifest = model.summary()
    values: dict[str, Any] = {
        "flavor": model.flavor,
        "task": model.task,
        "label": model.label or "",
        "features": len(model.features),
        "classes": len(model.classes or []),
        "estimator": type(model.model).__name__,
    }
    for name, value in model.params.items():
        if isinstance(value, (int, float, str, bool)):
            values[f"param_{name}"] = value
    tables = {
        "features": [{"feature": name, "dtype": model.feature_types.get(name, "unknown")} for name in model.features],
        "params": [{"param": name, "value": json.dumps(value, sort_keys=True, default=str)} for name, value in sorted(model.params.items())],
        "classes": [{"class": str(value)} for value in model.classes or []],
        "libraries": [{"library": name, "version": version} for name, version in sorted(model.libraries.items())],
        "signature": [{"output": item["name"], "dtype": item["dtype"]} for item in manifest["signature"]["outputs"]],
    }
    return Metrics(values, tables=tables)


@component("model.export", title="Export Model", side_effects=True,
           tags={"sample": "classification", "file_format": "onnx", "sink": True})
def export(
    model: ModelPackage,
    data: pd.DataFrame | None = None,
    *,
    path: Annotated[OutputFile, Param(help="the file to write; relative paths start at the workspace")],
    format: Annotated[Literal["onnx", "pmml"], Param(help="onnx (run by onnxruntime) or pmml (needs Java to convert)")] = "onnx",
    tolerance: Annotated[float | None, Param(gt=0, help="largest difference accepted; empty: 1e-5 for ONNX, 1e-9 for PMML")] = None,
) -> Metrics:
    """Export a model to ONNX or PMML, writing the file only once it reproduces the model's answers.

    The export is scored on ``data`` (held-out rows: the best check) or, without it, on rows
    generated from the model: its feature ranges and the split points of its trees. Probabilities
    (predictions, for a regressor) must agree within ``tolerance``, class labels exactly;
    otherwise the node fails with the first row that disagrees and nothing is written. The file
    is replaced atomically. scikit-learn estimators and pipelines, LightGBM and XGBoost models
    export; ``tidal serve FILE.onnx`` (or ``.pmml``) serves the file again.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> frame = load_iris(as_frame=True).frame
    >>> model = logistic_regression(frame, label="target")
    >>> report = export(model, frame, path=os.path.join(tempfile.mkdtemp(), "iris.onnx"))
    >>> report["rows"], report["max_difference"] < 1e-5
    (150, True)
    """
    from tidal.models import export_model

    if data is not None and len(data) == 0:
        raise DataError("input 'data' is empty: give held-out rows to check the export on, or leave it unconnected")
    registered, lineage = model.metadata.get("registered") or {}, model.lineage or {}
    source = (f"models:/{registered['name']}/{registered['version']}" if registered.get("name") else
              f"run {lineage['run_id']}, node {lineage['node_id']}" if lineage.get("run_id") else "")
    target = Path(os.path.expanduser(path)).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)  # as the other writers do
    report = export_model(model, target, format=format, data=data, tolerance=tolerance, overwrite=True,
                          source=source)
    facts = report.to_dict()
    notes = facts.pop("notes")
    return Metrics(facts, tables={"notes": [{"note": note} for note in notes]} if notes else None)
