"""Anomaly detectors written for Tidal, and the wrapper that gives every detector one meaning.

:class:`KSigmaDetector` and :class:`BoxPlotDetector` are the classic per-column rules, written
as scikit-learn outlier detectors (``score_samples``: lower is more abnormal; ``predict``: -1
for anomalies, 1 otherwise) so the anomaly factory treats them like any library detector.
They ignore missing values: a row is judged on the columns it has.

:class:`AnomalyModel` is what an anomaly model package stores: ``predict`` gives ``True`` for
an anomaly, ``anomaly_score`` a number that grows with abnormality. All attributes are numpy
arrays or scikit-learn objects, so skops stores them without pickle.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data


class _RuleDetector(OutlierMixin, BaseEstimator):
    """Per-column rule: a row's score is its worst column's distance in that rule's units."""

    threshold_name = ""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _distances(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_samples(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            distances = self._distances(X)
        distances = np.where(np.isnan(distances), 0.0, distances)
        return -distances.max(axis=1)  # type: ignore[no-any-return]

    def decision_function(self, X: Any) -> np.ndarray:
        return self.score_samples(X) + float(getattr(self, self.threshold_name))

    def predict(self, X: Any) -> np.ndarray:
        return np.where(self.decision_function(X) < 0, -1, 1)


class KSigmaDetector(_RuleDetector):
    """A row is an anomaly when a column lies more than ``k`` standard deviations from its mean."""

    _parameter_constraints: dict[str, list[Any]] = {"k": [Interval(Real, 0, None, closed="neither")]}
    threshold_name = "k"

    def __init__(self, k: float = 3.0) -> None:
        self.k = k

    def fit(self, X: Any, y: Any = None) -> KSigmaDetector:
        self._validate_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite="allow-nan")
        self.mean_ = np.nanmean(X, axis=0)
        self.scale_ = np.nanstd(X, axis=0, ddof=1)
        return self

    def _distances(self, X: np.ndarray) -> np.ndarray:
        gap = np.abs(X - self.mean_)
        return np.where(gap == 0, 0.0, gap / self.scale_)  # a constant column: any change is infinitely far


class BoxPlotDetector(_RuleDetector):
    """A row is an anomaly when a column lies more than ``whisker`` × IQR outside its quartiles."""

    _parameter_constraints: dict[str, list[Any]] = {"whisker": [Interval(Real, 0, None, closed="neither")]}
    threshold_name = "whisker"

    def __init__(self, whisker: float = 1.5) -> None:
        self.whisker = whisker

    def fit(self, X: Any, y: Any = None) -> BoxPlotDetector:
        self._validate_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite="allow-nan")
        self.lower_quartile_, self.upper_quartile_ = np.nanquantile(X, [0.25, 0.75], axis=0)
        return self

    def _distances(self, X: np.ndarray) -> np.ndarray:
        outside = np.maximum(self.lower_quartile_ - X, X - self.upper_quartile_).clip(min=0)
        spread = self.upper_quartile_ - self.lower_quartile_
        return np.where(outside == 0, 0.0, outside / spread)


class AnomalyModel(BaseEstimator):
    """A fitted detector with Tidal's meaning: ``predict`` is True for anomalies."""

    def __init__(self, detector: Any = None) -> None:
        self.detector = detector

    def fit(self, X: Any, y: Any = None) -> AnomalyModel:
        self.detector.fit(X)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.detector.predict(X)) == -1

    def anomaly_score(self, X: Any) -> np.ndarray:
        return -np.asarray(self.detector.score_samples(X), dtype=np.float64)
