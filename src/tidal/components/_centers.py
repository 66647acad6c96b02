"""Assigning rows to the nearest of a set of centres: what a fitted BIRCH model keeps.

skops cannot store scikit-learn's ``Birch`` (its CF-tree holds custom node objects), and only
the tree's final subcluster centres and their cluster labels are needed to assign new rows.
:class:`NearestCenter` holds exactly those as numpy arrays, so the package stays pickle-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import pairwise_distances_argmin


class NearestCenter(ClusterMixin, BaseEstimator):
    """Predicts the label of the nearest centre (Euclidean), as ``Birch.predict`` does."""

    def __init__(self, centers: Any = None, center_labels: Any = None) -> None:
        self.centers = centers
        self.center_labels = center_labels

    def fit(self, X: Any = None, y: Any = None) -> NearestCenter:
        return self

    def predict(self, X: Any) -> np.ndarray:
        centers = np.asarray(self.centers, dtype=np.float64)
        norms = np.einsum("ij,ij->i", centers, centers)
        nearest = pairwise_distances_argmin(np.asarray(X, dtype=np.float64), centers, metric_kwargs={"Y_norm_squared": norms})
        return np.asarray(self.center_labels)[nearest]  # type: ignore[no-any-return]

    @classmethod
    def from_birch(cls, model: Any) -> NearestCenter:
        return cls(np.asarray(model.subcluster_centers_), np.asarray(model.subcluster_labels_))
