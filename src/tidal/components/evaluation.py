"""Evaluation: metrics and charts for predictions (binary, multiclass, regression)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from tidal.components._charts import heatmap, line_chart, scatter_chart, xy_chart
from tidal.core import Column, DataError, Metrics, Param, component


def require_scored_rows(data: pd.DataFrame) -> None:
    if len(data) == 0:
        raise DataError("input 'data' is empty: there is nothing to evaluate")


def complete_column(data: pd.DataFrame, column: str, what: str) -> pd.Series:
    """A column without missing values; names the first missing row otherwise."""
    if column not in data.columns:
        shown = ", ".join(map(str, data.columns[:20]))
        raise DataError(f"no {what} column '{column}' in the input (columns: {shown}); set the parameter naming it")
    values = data[column]
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{what} column '{column}' has {int(values.isna().sum())} missing value(s), the first at row {row}")
    return values


def numeric_column(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A column as floats; names the first row that is missing or not a number."""
    values = complete_column(data, column, what)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(numbers).any():
        row = int(np.flatnonzero(np.isnan(numbers))[0])
        raise DataError(f"{what} column '{column}' is not numeric: row {row} holds {values.iloc[row]!r}")
    return numbers


def comparable(truth: pd.Series, predicted: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of the same kind: numbers stay numbers, anything else compares as text."""
    if pd.api.types.is_numeric_dtype(truth) and pd.api.types.is_numeric_dtype(predicted):
        return truth.to_numpy(), predicted.to_numpy()
    return truth.astype(str).to_numpy(), predicted.astype(str).to_numpy()


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


def binary_scores(
    data: pd.DataFrame, label: str, score: str | None, positive: str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(is positive, score, score column) for a scored binary table, with readable errors."""
    require_scored_rows(data)
    truth = complete_column(data, label, "label")
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
    return (truth == positive_value).to_numpy(), scores, column


def lift_table(actual: np.ndarray, scores: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Rows sorted by score, cut into ``bins`` equal groups: positives, lift and cumulative gain per group."""
    order = np.argsort(-scores, kind="stable")
    hits = actual[order].astype(float)
    total, rate = hits.sum(), hits.mean()
    rows = []
    for index, part in enumerate(np.array_split(np.arange(len(hits)), bins), start=1):
        if len(part) == 0:
            continue
        upto = part[-1] + 1
        captured = hits[:upto].sum()
        rows.append(
            {
                "bin": index,
                "rows": int(len(part)),
                "positives": int(hits[part].sum()),
                "positive_rate": float(hits[part].mean()),
                "lift": float(hits[part].mean() / rate) if rate else 0.0,
                "population_share": float(upto / len(hits)),
                "cumulative_gain": float(captured / total) if total else 0.0,
                "cumulative_lift": float(hits[:upto].mean() / rate) if rate else 0.0,
            }
        )
    return rows


@component("evaluation.binary_classification", title="Binary Classification Evaluation", tags={"sample": "scored_binary", "evaluation": "binary"})
def binary_classification(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true class")],
    score: Annotated[Column | None, Param(help="positive-class probability; default: prob_<positive>")] = None,
    positive: Annotated[str | None, Param(help="the positive class; default: the larger label value")] = None,
    threshold: Annotated[float, Param(ge=0, le=1, help="probability at or above which a row is positive")] = 0.5,
) -> Metrics:
    """AUC, KS, accuracy, precision, recall, F1 and log loss, with ROC, precision-recall, lift and gain charts.

    The lift table sorts rows by score and cuts them into ten equal groups; ``lift`` is a group's
    positive rate over the overall rate and ``cumulative_gain`` the share of all positives found
    in the top groups so far.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": [0, 0, 1, 1], "prob_1": [0.1, 0.4, 0.35, 0.8]})
    >>> binary_classification(scored, label="y")["auc"]
    0.75
    """
    actual, scores, _ = binary_scores(data, label, score, positive)
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
    tables: dict[str, list[dict[str, Any]]] = {}
    if 0 < actual.sum() < len(actual):
        fpr, tpr, _ = skm.roc_curve(actual, scores)
        precision, recall, _ = skm.precision_recall_curve(actual, scores)
        values["auc"] = float(skm.roc_auc_score(actual, scores))
        values["ks"] = float(np.max(tpr - fpr))
        values["log_loss"] = float(skm.log_loss(actual, np.clip(scores, 1e-15, 1 - 1e-15), labels=[False, True]))
        values["average_precision"] = float(skm.average_precision_score(actual, scores))
        figures["roc"] = line_chart(fpr, tpr, x="false_positive_rate", y="true_positive_rate", title=f"ROC (AUC {values['auc']:.3f})", diagonal=True)
        figures["pr"] = line_chart(recall[::-1], precision[::-1], x="recall", y="precision", title="Precision-recall")
        tables["lift"] = lift_table(actual, scores)
        values["lift_top_decile"] = tables["lift"][0]["lift"]
        order = np.argsort(-scores, kind="stable")
        share = np.arange(1, len(actual) + 1) / len(actual)
        gain = np.cumsum(actual[order]) / actual.sum()
        figures["gain"] = xy_chart(np.r_[0, share], np.r_[0, gain], x="population_share", y="cumulative_gain", title="Cumulative gain", reference=[(0, 0), (1, 1)])
        figures["lift"] = xy_chart(share, gain / share, x="population_share", y="cumulative_lift", title="Lift", reference=[(0, 1), (1, 1)])
    matrix = skm.confusion_matrix(actual, predicted, labels=[False, True])
    tables["confusion_matrix"] = [
        {"actual": str(a), "predicted": str(p), "count": int(matrix[i, j])}
        for i, a in enumerate(["negative", "positive"])
        for j, p in enumerate(["negative", "positive"])
    ]
    return Metrics(values, figures=figures, tables=tables)


def _probabilities(data: pd.DataFrame, classes: list[Any]) -> np.ndarray | None:
    """The prob_<class> columns for every class, rows scaled to sum to one; None if any is absent."""
    columns = [f"prob_{value}" for value in classes]
    if not all(name in data.columns for name in columns):
        return None
    scores = data[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if np.isnan(scores).any():
        row, column = (int(index[0]) for index in np.nonzero(np.isnan(scores)))
        raise DataError(f"probability column '{columns[column]}' has a missing or non-numeric value at row {row}")
    totals = scores.sum(axis=1, keepdims=True)
    return scores / np.where(totals > 0, totals, 1.0)


@component("evaluation.multiclass_classification", title="Multiclass Classification Evaluation", tags={"sample": "scored_multiclass", "evaluation": "multiclass"})
def multiclass_classification(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true class")],
    prediction_column: Annotated[Column, Param(help="the predicted class")] = "prediction",
) -> Metrics:
    """Accuracy, macro / micro / weighted precision, recall and F1, kappa, a confusion matrix and a per-class report.

    When the table has a ``prob_<class>`` column for every class (as ``model.predict`` writes),
    log loss and one-vs-rest macro AUC are added; each row's probabilities are scaled to sum to one.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": ["a", "b", "c", "a"], "prediction": ["a", "b", "b", "a"]})
    >>> report = multiclass_classification(scored, label="y")
    >>> report["accuracy"], round(report["f1_macro"], 3)
    (0.75, 0.556)
    """
    require_scored_rows(data)
    truth, predicted = comparable(complete_column(data, label, "label"), complete_column(data, prediction_column, "prediction"))
    classes = sorted(set(truth.tolist()) | set(predicted.tolist()))
    values: dict[str, Any] = {
        "rows": int(len(truth)),
        "classes": len(classes),
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(truth, predicted)),
        "kappa": float(skm.cohen_kappa_score(truth, predicted)) if len(classes) > 1 else 1.0,
    }
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = skm.precision_recall_fscore_support(truth, predicted, labels=classes, average=average, zero_division=0)
        values.update({f"precision_{average}": float(precision), f"recall_{average}": float(recall), f"f1_{average}": float(f1)})
    present = sorted(set(truth.tolist()))
    probabilities = _probabilities(data, present)
    if probabilities is not None and len(present) > 1:
        values["log_loss"] = float(skm.log_loss(truth, np.clip(probabilities, 1e-15, 1), labels=present))
        if len(present) > 2:
            values["auc_ovr"] = float(skm.roc_auc_score(truth, probabilities, multi_class="ovr", labels=present))
        else:
            values["auc_ovr"] = float(skm.roc_auc_score(truth == present[1], probabilities[:, 1]))
    matrix = skm.confusion_matrix(truth, predicted, labels=classes)
    confusion = [
        {"actual": str(a), "predicted": str(p), "count": int(matrix[i, j])}
        for i, a in enumerate(classes)
        for j, p in enumerate(classes)
    ]
    precision, recall, f1, support = skm.precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    per_class = [
        {"class": str(value), "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, value in enumerate(classes)
    ]
    figures = {"confusion_matrix": heatmap(confusion, x="predicted", y="actual", value="count", title="Confusion matrix")}
    return Metrics(values, figures=figures, tables={"confusion_matrix": confusion, "per_class": per_class})


@component("evaluation.regression", title="Regression Evaluation", tags={"sample": "scored_regression", "evaluation": "regression"})
def regression(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true value")],
    prediction_column: Annotated[Column, Param(help="the predicted value")] = "prediction",
) -> Metrics:
    """MAE, MSE, RMSE, R², MAPE, median absolute error and explained variance, with a residual chart.

    ``mape`` is a fraction (0.05 means 5 %), computed as scikit-learn does: a zero true value
    divides by a tiny epsilon instead, so such rows dominate it.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "prediction": [1.5, 2.0, 2.5, 4.0]})
    >>> report = regression(scored, label="y")
    >>> report["mae"], report["rmse"]
    (0.25, 0.3535533905932738)
    """
    require_scored_rows(data)
    truth = numeric_column(data, label, "label")
    predicted = numeric_column(data, prediction_column, "prediction")
    residuals = truth - predicted
    values: dict[str, Any] = {
        "rows": int(len(truth)),
        "mae": float(skm.mean_absolute_error(truth, predicted)),
        "mse": float(skm.mean_squared_error(truth, predicted)),
        "rmse": float(np.sqrt(skm.mean_squared_error(truth, predicted))),
        "mape": float(skm.mean_absolute_percentage_error(truth, predicted)),
        "median_absolute_error": float(skm.median_absolute_error(truth, predicted)),
        "max_error": float(np.max(np.abs(residuals))),
        "mean_residual": float(residuals.mean()),
    }
    if len(truth) > 1 and np.ptp(truth) > 0:
        values["r2"] = float(skm.r2_score(truth, predicted))
        values["explained_variance"] = float(skm.explained_variance_score(truth, predicted))
    figures = {
        "residuals": scatter_chart(predicted, residuals, x="prediction", y="residual", title="Residuals", zero_line=True),
        "actual_vs_predicted": scatter_chart(truth, predicted, x="actual", y="prediction", title="Actual vs predicted"),
    }
    quantiles = np.quantile(residuals, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    table = [{"quantile": q, "residual": float(v)} for q, v in zip([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0], quantiles, strict=True)]
    return Metrics(values, figures=figures, tables={"residual_quantiles": table})
