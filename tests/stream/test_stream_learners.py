"""Warm start from the library's batch models, and the learners' own behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from tidal.components.classification import logistic_regression
from tidal.components.clustering import kmeans
from tidal.components.regression import linear_regression
from tidal.core import DataError
from tidal.stream import (
    FTRLLogisticRegression,
    OnlineLinearRegression,
    StreamingKMeans,
    StreamingStats,
)


@pytest.mark.parametrize("standardize", [True, False])
def test_ftrl_warm_started_from_logistic_regression_predicts_as_it(standardize: bool) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    package = logistic_regression(frame, label="target", standardize=standardize, max_iter=5000)
    features = frame[package.features].to_numpy()
    for mode in ("batch", "river"):
        learner = FTRLLogisticRegression.from_batch_model(package, alpha=0.1, l1=0.5, mode=mode)
        np.testing.assert_allclose(learner.predict_proba(features), package.predict_proba(frame), rtol=1e-9, atol=1e-12)
        assert learner.features == package.features and learner.classes == [0, 1]
        learner.learn(features[:64], frame["target"].to_numpy()[:64])  # and it keeps learning from there
        assert not np.allclose(learner.predict_proba(features), package.predict_proba(frame))


def test_linear_regression_warm_start_then_least_squares() -> None:
    frame = load_diabetes(as_frame=True).frame
    package = linear_regression(frame, label="target")
    features, target = frame[package.features].to_numpy(), frame["target"].to_numpy()
    learner = OnlineLinearRegression.from_batch_model(package)
    np.testing.assert_allclose(learner.predict(features), package.predict(frame), rtol=1e-9)
    fresh = OnlineLinearRegression(penalty=1e-9)
    for start in range(0, len(features), 50):
        fresh.learn(features[start:start + 50], target[start:start + 50])
    np.testing.assert_allclose(fresh.coef_, package.model.coef_, rtol=1e-5)


def test_linear_regression_forgetting_equals_row_by_row() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    batched, single = OnlineLinearRegression(forgetting=0.98), OnlineLinearRegression(forgetting=0.98)
    for start in range(0, 300, 60):
        batched.learn(X[start:start + 60], y[start:start + 60])
    for row in range(300):
        single.learn(X[row:row + 1], y[row:row + 1])
    np.testing.assert_allclose(batched.coef_, single.coef_, rtol=1e-9)


def test_kmeans_warm_start_and_spark_update_rule() -> None:
    frame = load_iris(as_frame=True).frame.drop(columns="target")
    package = kmeans(frame, n_clusters=3)
    learner = StreamingKMeans.from_batch_model(package, decay=0.5)
    assert (learner.predict(frame.to_numpy()) == package.model.predict(frame)).all()
    centres, counts = learner.centers.copy(), learner.counts.copy()
    batch = frame.to_numpy()[:20]
    nearest = learner.predict(batch)
    learner.learn(batch)
    for cluster in range(3):
        rows = batch[nearest == cluster]
        expected = (centres[cluster] * counts[cluster] * 0.5 + rows.sum(axis=0)) / (counts[cluster] * 0.5 + len(rows))
        np.testing.assert_allclose(learner.centers[cluster], expected, rtol=1e-12)


def test_streaming_stats_exact_moments_and_bounded_quantiles() -> None:
    rng = np.random.default_rng(5)
    values = np.column_stack([rng.lognormal(size=40_000), rng.normal(size=40_000)])
    stats = StreamingStats(capacity=256, bin_edges=[-1.0, 0.0, 1.0])
    for start in range(0, len(values), 1000):
        stats.learn(values[start:start + 1000])
    np.testing.assert_allclose(stats.mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.variance(ddof=1), values.var(axis=0, ddof=1), rtol=1e-10)
    assert (stats.minimum == values.min(axis=0)).all() and (stats.maximum == values.max(axis=0)).all()
    levels = np.linspace(0.01, 0.99, 99)
    estimates = stats.quantile(levels)
    for column, sketch in enumerate(stats.sketches):
        true_ranks = np.searchsorted(np.sort(values[:, column]), estimates[:, column], side="right") / len(values)
        error = np.abs(true_ranks - levels).max()
        assert error <= sketch.error_bound() + 1 / len(values)
        assert error < 0.02
    edges, counts = stats.histogram(1)
    assert counts.tolist() == np.bincount(np.searchsorted(edges, values[:, 1], side="right"), minlength=4).tolist()
    edges, estimated = stats.histogram(0, bins=5)
    exact = np.histogram(values[:, 0], bins=edges)[0]
    assert np.abs(estimated - exact).max() <= 2 * stats.sketches[0].error_bound() * len(values)


def test_learners_name_bad_input() -> None:
    learner = FTRLLogisticRegression().learn(np.zeros((2, 3)), [0, 1])
    with pytest.raises(DataError, match="3"):
        learner.learn(np.zeros((2, 4)), [0, 1])
    with pytest.raises(DataError, match="0/1"):
        learner.learn(np.zeros((2, 3)), [0, 2])
    with pytest.raises(DataError, match="row 1"):
        learner.learn(np.array([[0, 0, 0], [np.nan, 0, 0]]), [0, 1])
    with pytest.raises(DataError, match="binary"):
        FTRLLogisticRegression.from_batch_model(logistic_regression(load_iris(as_frame=True).frame, label="target"))
