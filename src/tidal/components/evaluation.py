"""Evaluation: metrics and charts for predictions."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from tidal.components._charts import line_chart
from tidal.core import Column, DataError, Metrics, Param, component


def _positive_label(labels: pd.Series, positive: str | None) -> Any:
    values = sorted(labels.dropna().unique().tolist())
    if len(values) > 2:
        raise DataError(f"label column '{labels.name}' has {len(values)} classes; use a multiclass evaluation")
    if positive is None:
        return values[-1]
    for value in values:
        if str(value) == str(positive):
            return value
    raise DataError(f"parameter 'positive': {positive!r} is not a value of column '{labels.name}' (values: {values})")


@component("evaluation.binary_classification", title="Binary Classification Evaluation", tags={"sample": "scored_binary", "evaluation": "binary"})
def binary_classification(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true class")],
    score: Annotated[Column | None, Param(help="positive-class probability; default: prob_<positive>")] = None,
    positive: Annotated[str | None, Param(help="the positive class; default: the larger label value")] = None,
    threshold: Annotated[float, Param(ge=0, le=1, help="probability at or above which a row is positive")] = 0.5,
) -> Metrics:
    """AUC, KS, accuracy, precision, recall, F1 and log loss, with ROC and precision-recall curves.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": [0, 0, 1, 1], "prob_1": [0.1, 0.4, 0.35, 0.8]})
    >>> binary_classification(scored, label="y")["auc"]
    0.75
    """
    if len(data) == 0:
        raise DataError("input 'data' is empty: there is nothing to evaluate")
    truth = data[label]
    if truth.isna().any():
        raise DataError(f"label column '{label}' has missing values at row {int(np.flatnonzero(truth.isna())[0])}")
    positive_value = _positive_label(truth, positive)
    column = score or f"prob_{positive_value}"
    if column not in data.columns:
        found = [name for name in data.columns if str(name).startswith("prob_")]
        raise DataError(
            f"no score column '{column}' in the input (probability columns: {found or 'none'}); "
            "set 'score' or score the data with model.predict first"
        )
    scores = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(scores).any():
        raise DataError(f"score column '{column}' has missing or non-numeric values at row {int(np.flatnonzero(np.isnan(scores))[0])}")
    actual = (truth == positive_value).to_numpy()
    predicted = scores >= threshold
    values: dict[str, Any] = {
        "rows": int(len(actual)),
        "positive_rate": float(actual.mean()),
        "accuracy": float(skm.accuracy_score(actual, predicted)),
        "precision": float(skm.precision_score(actual, predicted, zero_division=0)),
        "recall": float(skm.recall_score(actual, predicted, zero_division=0)),
        "f1": float(skm.f1_score(actual, predicted, zero_division=0)),
        "threshold": threshold,
    }
    figures = {}
    if 0 < actual.sum() < len(actual):
        fpr, tpr, _ = skm.roc_curve(actual, scores)
        precision, recall, _ = skm.precision_recall_curve(actual, scores)
        values["auc"] = float(skm.roc_auc_score(actual, scores))
        values["ks"] = float(np.max(tpr - fpr))
        values["log_loss"] = float(skm.log_loss(actual, np.clip(scores, 1e-15, 1 - 1e-15), labels=[False, True]))
        values["average_precision"] = float(skm.average_precision_score(actual, scores))
        figures["roc"] = line_chart(fpr, tpr, x="false_positive_rate", y="true_positive_rate", title=f"ROC (AUC {values['auc']:.3f})", diagonal=True)
        figures["pr"] = line_chart(recall[::-1], precision[::-1], x="recall", y="precision", title="Precision-recall")
    matrix = skm.confusion_matrix(actual, predicted, labels=[False, True])
    confusion = [
        {"actual": str(a), "predicted": str(p), "count": int(matrix[i, j])}
        for i, a in enumerate(["negative", "positive"])
        for j, p in enumerate(["negative", "positive"])
    ]
    return Metrics(values, figures=figures, tables={"confusion_matrix": confusion})
