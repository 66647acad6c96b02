"""Choosing and checking probability cut-offs: threshold tuning and calibration."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from tidal.components._charts import line_chart, series_chart
from tidal.components.evaluation import binary_scores
from tidal.core import Column, DataError, Metrics, Param, component


def threshold_curve(actual: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Confusion counts for every distinct score used as the threshold (score >= threshold is positive)."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], actual[order].astype(float)
    last = np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    positives, negatives = hits.sum(), len(hits) - hits.sum()
    frame = pd.DataFrame({"threshold": ranked[last], "tp": tp, "fp": fp, "fn": positives - tp, "tn": negatives - fp})
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["precision"] = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        frame["recall"] = tp / positives if positives else 0.0
        frame["specificity"] = (negatives - fp) / negatives if negatives else 0.0
        frame["f1"] = np.where(2 * tp + fp + (positives - tp) > 0, 2 * tp / (2 * tp + fp + (positives - tp)), 0.0)
    frame["youden"] = frame["recall"] + frame["specificity"] - 1
    return frame


@component("evaluation.threshold_tuning", title="Threshold Tuning", tags={"sample": "scored_binary", "evaluation": "binary"})
def threshold_tuning(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true class")],
    score: Annotated[Column | None, Param(help="positive-class probability; default: prob_<positive>")] = None,
    positive: Annotated[str | None, Param(help="the positive class; default: the larger label value")] = None,
    criterion: Annotated[Literal["f1", "youden", "cost"], Param(help="what the best threshold maximizes (cost: minimizes)")] = "f1",
    cost_false_positive: Annotated[float, Param(ge=0, help="cost of one false positive (criterion=cost)")] = 1.0,
    cost_false_negative: Annotated[float, Param(ge=0, help="cost of one false negative (criterion=cost)")] = 1.0,
) -> Metrics:
    """The probability threshold that maximizes F1 or Youden's J (recall + specificity - 1), or minimizes a cost.

    Every distinct score is tried as a threshold (score >= threshold is positive). ``cost``
    weighs false positives and false negatives by the two cost parameters; the total cost at
    every threshold is in the ``thresholds`` table. Ties go to the highest threshold.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": [0, 0, 1, 0, 1, 1], "prob_1": [0.1, 0.3, 0.35, 0.6, 0.7, 0.9]})
    >>> threshold_tuning(scored, label="y")["threshold"]
    0.35
    """
    actual, scores, _ = binary_scores(data, label, score, positive)
    if not 0 < actual.sum() < len(actual):
        raise DataError(f"label column '{label}' holds only one class; tuning a threshold needs both")
    curve = threshold_curve(actual, scores)
    curve["cost"] = cost_false_positive * curve["fp"] + cost_false_negative * curve["fn"]
    objective = -curve["cost"] if criterion == "cost" else curve[criterion]
    best = curve.iloc[int(np.argmax(objective.to_numpy()))]
    values: dict[str, Any] = {
        "criterion": criterion,
        "threshold": float(best["threshold"]),
        **{name: float(best[name]) for name in ("f1", "precision", "recall", "specificity", "youden", "cost")},
        "accuracy": float((best["tp"] + best["tn"]) / len(actual)),
        "candidates": int(len(curve)),
    }
    tracked = ["precision", "recall", "f1", "youden"]
    long = [{"threshold": float(row.threshold), "metric": name, "value": float(getattr(row, name))} for row in curve.itertuples() for name in tracked]
    if len(long) > 2000:
        keep = np.unique(np.linspace(0, len(curve) - 1, 500).round().astype(int))
        long = [item for index in keep for item in long[index * len(tracked) : (index + 1) * len(tracked)]]
    figures = {"thresholds": series_chart(long, x="threshold", y="value", series="metric", title=f"Metrics by threshold (best {criterion} at {values['threshold']:.3f})")}
    table = curve[["threshold", "tp", "fp", "fn", "tn", "precision", "recall", "specificity", "f1", "youden", "cost"]]
    rows = [{key: (int(value) if key in ("tp", "fp", "fn", "tn") else float(value)) for key, value in row.items()} for row in table.to_dict("records")]
    return Metrics(values, figures=figures, tables={"thresholds": rows})


@component("evaluation.calibration", title="Calibration", tags={"sample": "scored_binary", "evaluation": "binary"})
def calibration(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the true class")],
    score: Annotated[Column | None, Param(help="positive-class probability; default: prob_<positive>")] = None,
    positive: Annotated[str | None, Param(help="the positive class; default: the larger label value")] = None,
    bins: Annotated[int, Param(ge=2, le=100, help="how many probability bins the reliability curve uses")] = 10,
    strategy: Annotated[Literal["uniform", "quantile"], Param(help="equal-width bins, or bins with equal row counts")] = "uniform",
) -> Metrics:
    """How well predicted probabilities match observed rates: Brier score, calibration error and a reliability curve.

    Rows are binned by predicted probability; in a well calibrated model each bin's mean
    prediction equals its share of positives. ``expected_calibration_error`` is the row-weighted
    mean gap between the two, ``max_calibration_error`` the largest gap.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"y": [0, 0, 1, 1], "prob_1": [0.2, 0.2, 0.8, 0.8]})
    >>> round(calibration(scored, label="y", bins=5)["brier_score"], 3)
    0.04
    """
    actual, scores, column = binary_scores(data, label, score, positive)
    if scores.min() < 0 or scores.max() > 1:
        raise DataError(f"score column '{column}' must hold probabilities between 0 and 1 (found {scores.min():g} to {scores.max():g})")
    if strategy == "quantile":
        edges = np.unique(np.quantile(scores, np.linspace(0, 1, bins + 1)))
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], scores, side="left")  # right-closed bins, as scikit-learn's calibration_curve
    rows = []
    for index in np.unique(which):
        inside = which == index
        rows.append(
            {
                "bin": int(index),
                "lower": float(edges[index]),
                "upper": float(edges[index + 1]),
                "rows": int(inside.sum()),
                "mean_prediction": float(scores[inside].mean()),
                "positive_rate": float(actual[inside].mean()),
            }
        )
    gaps = np.array([abs(row["mean_prediction"] - row["positive_rate"]) for row in rows])
    weights = np.array([row["rows"] for row in rows]) / len(scores)
    values = {
        "rows": int(len(scores)),
        "brier_score": float(skm.brier_score_loss(actual, scores)),
        "expected_calibration_error": float((gaps * weights).sum()),
        "max_calibration_error": float(gaps.max()),
        "mean_prediction": float(scores.mean()),
        "positive_rate": float(actual.mean()),
    }
    curve = line_chart(
        [row["mean_prediction"] for row in rows], [row["positive_rate"] for row in rows],
        x="mean_predicted_probability", y="observed_positive_rate", title="Reliability", diagonal=True,
    )
    curve["layer"][0]["mark"] = {"type": "line", "point": True}
    return Metrics(values, figures={"reliability": curve}, tables={"bins": rows})
