"""The validation table, the metric every variant is scored with, and the accuracy bound.

The table must hold the model's feature columns and the label, and nothing else: a column the
signature does not name is refused (naming it) rather than silently dropped, since it usually
means the wrong file or the wrong model.

Metrics: ``accuracy``, ``auc``, ``log_loss`` for classifiers (default ``accuracy``); ``rmse``,
``r2`` for regressors (default ``rmse``). The bound (``max_loss``) is either absolute, in the
metric's own units (``0.01``: one point of accuracy), or relative to the baseline's score
(``1%``). A variant's *loss* is how much worse than the baseline it scores, in the metric's
direction; a variant that scores better has a negative loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError, TidalError

CLASSIFIER_METRICS = ("accuracy", "auc", "log_loss")
REGRESSOR_METRICS = ("rmse", "r2")
#: metrics where a larger value is better
HIGHER_IS_BETTER = {"accuracy": True, "auc": True, "log_loss": False, "rmse": False, "r2": True, "cosine": True}


class OptimizeRefused(TidalError):
    """The model, the table or an option cannot be optimized as asked; nothing was written."""


def default_metric(task: str) -> str:
    return "accuracy" if task in ("binary", "multiclass") else "rmse"


def check_metric(metric: str | None, task: str) -> str:
    chosen = metric or default_metric(task)
    allowed = CLASSIFIER_METRICS if task in ("binary", "multiclass") else REGRESSOR_METRICS
    if chosen not in allowed:
        raise OptimizeRefused(f"metric '{chosen}' does not apply to a {task} model; choose one of {', '.join(allowed)}")
    return chosen


def validation_frame(package: Any, data: Any, label: str | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The feature columns (in the signature's order) and the label of the validation table.

    Refuses a table without the label, without a feature, with columns the signature lacks, with
    no rows, or with non-numeric or missing labels for a regressor, naming the columns. ``label``
    ``None`` (sentence encoders, scored on their embeddings alone): the table holds the features only.
    """
    frame = data if isinstance(data, pd.DataFrame) else _as_frame(data)
    columns = [str(name) for name in frame.columns]
    labelled = f" and the label '{label}'" if label is not None else ""
    if label is not None and label not in columns:
        raise OptimizeRefused(f"the validation table has no label column '{label}' (its columns: {_shown(columns)}); "
                              "give the column that holds the true answers with --label")
    if label is not None and label in package.features:
        raise OptimizeRefused(f"'{label}' is one of the model's input columns, so it cannot be the label")
    missing = [name for name in package.features if name not in columns]
    if missing:
        raise OptimizeRefused(f"the validation table lacks the model's input column(s) {_shown(missing)} (its columns: "
                              f"{_shown(columns)}); it must hold exactly the signature's columns "
                              f"({_shown(package.features)}){labelled}")
    extra = [name for name in columns if name != label and name not in package.features]
    if extra:
        raise OptimizeRefused(f"the validation table has column(s) {_shown(extra)} that the model's signature does not "
                              f"name; drop them (the signature: {_shown(package.features)}{labelled.replace(' and', ';')})")
    if len(frame) == 0:
        raise OptimizeRefused("the validation table has no rows; give held-out rows to measure the variants on")
    if label is None:
        return frame[list(package.features)].reset_index(drop=True), None
    truth = frame[label].to_numpy()
    if package.task == "regression":
        truth = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(truth).any():
            raise OptimizeRefused(f"label column '{label}' has missing or non-numeric values; a regressor is scored on numbers")
    return frame[list(package.features)].reset_index(drop=True), truth


def _as_frame(data: Any) -> pd.DataFrame:
    if hasattr(data, "to_pandas"):
        frame = data.to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise DataError(f"the validation data must be a table, got {type(data).__name__}")


def _shown(names: list[str]) -> str:
    listed = ", ".join(f"'{name}'" for name in names[:12])
    return listed + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def score(metric: str, truth: np.ndarray, prediction: np.ndarray, probabilities: np.ndarray | None,
          classes: list[Any] | None) -> float:
    """The metric of one variant's answers against the true labels (or values)."""
    from sklearn import metrics

    if metric == "rmse":
        return float(np.sqrt(np.mean((np.asarray(prediction, dtype=np.float64) - truth) ** 2)))
    if metric == "r2":
        return float(metrics.r2_score(truth, np.asarray(prediction, dtype=np.float64)))
    if metric == "accuracy":
        return float(np.mean([_same(a, b) for a, b in zip(truth, prediction, strict=True)]))
    if probabilities is None or not classes:
        raise OptimizeRefused(f"metric '{metric}' needs class probabilities, which this model does not give")
    known = {_key(value): index for index, value in enumerate(classes)}
    codes = np.array([known.get(_key(value), -1) for value in truth])
    if (codes < 0).any():
        unseen = sorted({str(value) for value, code in zip(truth, codes, strict=True) if code < 0})[:5]
        raise OptimizeRefused(f"the label has value(s) {', '.join(unseen)} that are not among the model's classes "
                              f"({', '.join(map(str, classes[:10]))}); {metric} cannot be computed")
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1.0)
    if metric == "log_loss":
        return float(-np.mean(np.log(clipped[np.arange(len(codes)), codes])))
    if len(classes) == 2:
        return float(metrics.roc_auc_score(codes, clipped[:, 1]))
    normalised = clipped / clipped.sum(axis=1, keepdims=True)
    return float(metrics.roc_auc_score(codes, normalised, multi_class="ovr", labels=list(range(len(classes)))))


def _key(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _key(a), _key(b)
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class LossBound:
    """How much worse than the baseline a variant may score: absolute (metric units) or relative."""

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str | float) -> LossBound:
        """``"1%"`` (relative to the baseline's score), ``"0.01"`` or ``0.01`` (absolute)."""
        raw = str(text).strip()
        relative = raw.endswith("%")
        number = raw[:-1].strip() if relative else raw
        try:
            value = float(number)
        except ValueError:
            raise OptimizeRefused(f"max loss '{text}' is not a number; write e.g. 1% (relative to the baseline's "
                                  "score) or 0.01 (absolute, in the metric's units)") from None
        if not value >= 0 or not np.isfinite(value):
            raise OptimizeRefused(f"max loss must be 0 or more, got '{text}'")
        return cls(value / 100 if relative else value, relative)

    def allowed(self, baseline: float) -> float:
        """The largest loss allowed, in the metric's units, given the baseline's score."""
        return self.value * abs(baseline) if self.relative else self.value

    def describe(self) -> str:
        return f"{self.value * 100:g}% of the baseline's score" if self.relative else f"{self.value:g} (absolute)"


def loss(metric: str, baseline: float, variant: float) -> float:
    """How much worse ``variant`` scores than ``baseline`` (negative when it scores better)."""
    return baseline - variant if HIGHER_IS_BETTER[metric] else variant - baseline


def cosine(reference: np.ndarray | None, other: np.ndarray | None) -> tuple[float, float] | None:
    """Mean and smallest per-row cosine similarity of two output matrices (probabilities or values)."""
    if reference is None or other is None:
        return None
    a = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    b = np.asarray(other, dtype=np.float64).reshape(len(other), -1)
    if a.shape != b.shape or not len(a):
        return None
    if a.shape[1] == 1:  # one value per row: the cosine of the whole column
        value = float(np.dot(a[:, 0], b[:, 0]) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
        return value, value
    rows = row_cosines(a, b)
    return float(rows.mean()), float(rows.min())


def row_cosines(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The cosine of each row of ``other`` to the same row of ``reference`` (1 where both are zero)."""
    a, b = reference.astype(np.float64), other.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 1.0)
