"""Weight-of-evidence binning, kept as a scikit-learn transformer with plain attributes (skops-safe).

WoE of a bin = ln(share of all non-events in the bin / share of all events in the bin), with
``smoothing`` added to every bin's counts so an empty side stays finite. Credit scoring calls
events "bads" (label = positive class, e.g. default) and non-events "goods", so a higher WoE
means lower risk. IV = sum over bins of (non-event share - event share) × WoE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING = "missing"
OTHER = "other"


def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def woe_and_iv(events: np.ndarray, non_events: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin WoE and IV contribution from per-bin event and non-event counts."""
    events = np.asarray(events, dtype=float) + smoothing
    non_events = np.asarray(non_events, dtype=float) + smoothing
    event_share, non_event_share = events / events.sum(), non_events / non_events.sum()
    with np.errstate(divide="ignore"):
        woe = np.log(non_event_share / event_share)
    return woe, (non_event_share - event_share) * woe


def _cut_points(values: np.ndarray, events: np.ndarray, bins: int, method: str, min_share: float) -> list[float]:
    """Inner edges of right-closed bins (lower, upper] for one numeric feature."""
    if method == "quantile":
        edges = np.quantile(values, np.linspace(0, 1, bins + 1))
    elif method == "uniform":
        edges = np.linspace(values.min(), values.max(), bins + 1)
    else:
        from sklearn.tree import DecisionTreeClassifier

        leaf = max(1, int(np.ceil(min_share * len(values))))
        tree = DecisionTreeClassifier(max_leaf_nodes=bins, min_samples_leaf=leaf, random_state=0)
        tree.fit(values.reshape(-1, 1), events)
        edges = np.r_[values.min(), np.sort(tree.tree_.threshold[tree.tree_.feature >= 0]), values.max()]
    inner = np.unique(edges[1:-1])
    return [float(edge) for edge in inner if values.min() <= edge < values.max()]


def _merge(edges: list[float], values: np.ndarray, events: np.ndarray, min_share: float, monotonic: bool) -> list[float]:
    """Drop edges until every bin holds at least ``min_share`` of the rows (and, if asked, event rates are monotonic)."""
    edges = list(edges)
    while edges:
        which = np.searchsorted(edges, values, side="left")
        counts = np.bincount(which, minlength=len(edges) + 1)
        shares = counts / len(values)
        if shares.min() < min_share:
            small = int(np.argmin(shares))
            if small == 0:
                edges.pop(0)
            elif small == len(edges) or counts[small - 1] <= counts[small + 1]:
                edges.pop(small - 1)
            else:
                edges.pop(small)
            continue
        if monotonic:
            rates = np.bincount(which, weights=events, minlength=len(edges) + 1) / np.maximum(counts, 1)
            steps = np.diff(rates)
            direction = np.sign(rates[-1] - rates[0]) or 1.0
            wrong = np.flatnonzero(np.sign(steps) == -direction)
            if len(wrong):
                edges.pop(int(wrong[0]))
                continue
        break
    return edges


class WoeBinner(BaseEstimator, TransformerMixin):
    """Replaces each feature by the WoE of its bin: numeric features by ranges, others by category."""

    def __init__(self, bins: int = 10, method: str = "quantile", min_share: float = 0.05, monotonic: bool = False, smoothing: float = 0.5, positive: Any = 1) -> None:
        self.bins = bins
        self.method = method
        self.min_share = min_share
        self.monotonic = monotonic
        self.smoothing = smoothing
        self.positive = positive

    def fit(self, X: pd.DataFrame, y: Any) -> WoeBinner:
        events = (np.asarray(y) == self.positive).astype(float)
        self.features_ = [str(name) for name in X.columns]
        self.numeric_ = {name: bool(is_numeric(X[name])) for name in self.features_}
        self.edges_: dict[str, list[float]] = {}
        self.categories_: dict[str, list[str]] = {}
        self.woe_: dict[str, list[float]] = {}
        self.report_: list[dict[str, Any]] = []
        for name in self.features_:
            codes, labels, lower, upper = self._fit_codes(name, X[name], events)
            counts = np.bincount(codes, minlength=len(labels))
            positives = np.bincount(codes, weights=events, minlength=len(labels))
            used = counts > 0
            woe, iv = woe_and_iv(positives[used], counts[used] - positives[used], self.smoothing)
            full = np.zeros(len(labels))
            full[used] = woe
            self.woe_[name] = [float(value) for value in full]
            position = np.cumsum(used) - 1
            for index in np.flatnonzero(used):
                self.report_.append(
                    {
                        "feature": name,
                        "bin": int(index),
                        "bin_label": labels[index],
                        "lower": lower[index],
                        "upper": upper[index],
                        "count": int(counts[index]),
                        "events": int(positives[index]),
                        "non_events": int(counts[index] - positives[index]),
                        "event_rate": float(positives[index] / counts[index]),
                        "share": float(counts[index] / len(events)),
                        "woe": float(woe[position[index]]),
                        "iv": float(iv[position[index]]),
                    }
                )
        return self

    def _fit_codes(self, name: str, column: pd.Series, events: np.ndarray) -> tuple[np.ndarray, list[str], list[float], list[float]]:
        """Bin index per row (missing is the last bin) and each bin's label and range."""
        present = column.notna().to_numpy()
        if self.numeric_[name]:
            values = column.to_numpy(dtype=float, na_value=np.nan)
            edges = _cut_points(values[present], events[present], self.bins, self.method, self.min_share) if present.any() else []
            edges = _merge(edges, values[present], events[present], self.min_share, self.monotonic)
            self.edges_[name] = edges
            bounds = [-np.inf, *edges, np.inf]
            labels = [f"({bounds[i]:.6g}, {bounds[i + 1]:.6g}]" for i in range(len(edges) + 1)]
            lower, upper = bounds[:-1], bounds[1:]
        else:
            text = column.astype(str).where(column.notna(), None)
            shares = text[present].value_counts(normalize=True, sort=False)
            kept = sorted(str(value) for value, share in shares.items() if share >= self.min_share)
            self.categories_[name] = kept
            labels = [*kept, OTHER]
            lower = upper = [float("nan")] * len(labels)
        codes = self._codes(name, column)
        return codes, [*labels, MISSING], [*lower, float("nan")], [*upper, float("nan")]

    def _codes(self, name: str, column: pd.Series) -> np.ndarray:
        missing = column.isna().to_numpy()
        if self.numeric_[name]:
            edges = self.edges_[name]
            codes = np.searchsorted(edges, np.nan_to_num(column.to_numpy(dtype=float, na_value=np.nan)), side="left")
            return np.where(missing, len(edges) + 1, codes)
        kept = self.categories_[name]
        lookup = {value: index for index, value in enumerate(kept)}
        codes = np.array([lookup.get(str(value), len(kept)) for value in column.to_numpy()], dtype=int)
        return np.where(missing, len(kept) + 1, codes)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Each value's WoE; unseen categories take the 'other' bin, and empty bins (or unseen missing values) 0."""
        out = np.empty((len(X), len(self.features_)))
        for index, name in enumerate(self.features_):
            out[:, index] = np.asarray(self.woe_[name])[self._codes(name, X[name])]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"{name}_woe" for name in self.features_], dtype=object)
