"""The streaming learner components against their references (scikit-learn) on the same data.

Where the algorithm is the same (naive Bayes: GaussianNB.partial_fit on the same batches; RLS: the
ridge normal equations) the results agree to rounding (relative 1e-9). Streaming k-means is a
different algorithm from batch k-means; on well-separated clusters (no row ever changes cluster) its
centres are the means of each cluster's rows, which is what KMeans converges to, to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.naive_bayes import GaussianNB

from tidal.components.stream_learners import (
    kmeans_train,
    linear_regression_train,
    naive_bayes_train,
)
from tidal.core._errors import DataError
from tidal.models import ModelPackage


def _regression(n: int = 900, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)) * [1.0, 5.0, 0.2], columns=["a", "b", "c"])
    frame["y"] = frame @ [2.0, -0.3, 7.0] + 4.0 + rng.normal(scale=0.5, size=n)
    return frame


@pytest.mark.parametrize(("penalty", "forgetting"), [(1e-6, 1.0), (10.0, 1.0), (1.0, 0.995)])
def test_rls_equals_scikit_learn_ridge_on_the_same_rows(penalty, forgetting):
    frame = _regression()
    result = linear_regression_train(frame, label="y", penalty=penalty, forgetting=forgetting, batch_size=64)
    n = len(frame)
    design = np.c_[frame[["a", "b", "c"]].to_numpy(), np.ones(n)]             # RLS penalises the intercept too
    weights = forgetting ** np.arange(n - 1, -1, -1, dtype=np.float64)          # row i counts forgetting^(n-1-i)
    reference = Ridge(alpha=penalty * forgetting**n, fit_intercept=False, solver="cholesky").fit(design, frame["y"], sample_weight=weights)
    learner = result.model.model.learner
    np.testing.assert_allclose(np.r_[learner.coef_, learner.intercept_], reference.coef_, rtol=1e-9)
    np.testing.assert_allclose(result.model.predict(frame), reference.predict(design), rtol=1e-9)
    assert len(result.metrics) == 15 and result.metrics["rows_seen"].iloc[-1] == n


def test_rls_progressive_errors_are_measured_before_learning_and_warm_start_continues():
    frame = _regression(seed=1)
    first = linear_regression_train(frame.iloc[:450], label="y", batch_size=50)
    assert first.metrics["mse"].iloc[0] > 10 * first.metrics["mse"].iloc[-1]    # weights 0 before the first batch
    continued = linear_regression_train(frame.iloc[450:], first.model, label="y", batch_size=50)
    whole = linear_regression_train(frame, label="y", batch_size=50)
    np.testing.assert_allclose(continued.model.model.learner.coef_, whole.model.model.learner.coef_, rtol=1e-9)
    batch = LinearRegression().fit(frame[["a", "b", "c"]], frame["y"])
    warm = linear_regression_train(frame.iloc[:5], ModelPackage.from_estimator(batch, frame, features=["a", "b", "c"], task="regression",
                                                                              label="y"), label="y", batch_size=5)
    assert warm.metrics["mse"].iloc[0] < 1.0                                     # the batch model's weights from the start


@pytest.mark.parametrize("batch_size", [7, 32, 1000])
def test_gaussian_nb_equals_scikit_learn_partial_fit_batch_by_batch(batch_size):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(700, 4)) * [1, 10, 0.1, 3], columns=["p", "q", "r", "s"])
    frame["label"] = rng.integers(0, 3, 700)
    frame[["p", "q"]] += frame[["label"]].to_numpy() * [1.0, 5.0]
    result = naive_bayes_train(frame, label="label", batch_size=batch_size)
    reference = GaussianNB()
    X, y = frame[["p", "q", "r", "s"]].to_numpy(), frame["label"].to_numpy()
    for start in range(0, 700, batch_size):
        reference.partial_fit(X[start:start + batch_size], y[start:start + batch_size], classes=[0, 1, 2])
    learner = result.model.model.learner
    np.testing.assert_allclose(learner.means, reference.theta_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(learner.variances, reference.var_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.model.predict_proba(frame), reference.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert (result.model.predict(frame).astype(int) == reference.predict(X)).all()
    assert result.model.classes == [0, 1, 2] and result.model.task == "multiclass"


def test_streaming_kmeans_centres_equal_the_cluster_means_kmeans_finds():
    rng = np.random.default_rng(3)
    blobs = np.r_[rng.normal(0, 0.3, (400, 2)), rng.normal([6, 0], 0.3, (400, 2)), rng.normal([0, 6], 0.3, (400, 2))]
    shuffled = pd.DataFrame(blobs, columns=["u", "v"]).sample(frac=1.0, random_state=1)
    first = [0, 400, 800]                        # the seeds (the first k distinct rows) come from three different blobs
    frame = pd.concat([shuffled.loc[first], shuffled.drop(index=first)]).reset_index(drop=True)
    result = kmeans_train(frame, k=3, batch_size=100)
    reference = KMeans(n_clusters=3, n_init=1, init=result.centers[["u", "v"]].to_numpy(), random_state=0).fit(frame)
    np.testing.assert_allclose(result.centers[["u", "v"]].to_numpy(), reference.cluster_centers_, rtol=1e-9, atol=1e-12)
    assert result.centers["weight"].tolist() == np.bincount(reference.labels_).tolist()
    assert (result.model.predict(frame).astype(int) == reference.labels_).all()


def test_streaming_kmeans_warm_starts_from_a_batch_kmeans_package():
    from tidal.components.clustering import kmeans

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(np.r_[rng.normal(0, 0.2, (100, 2)), rng.normal(4, 0.2, (100, 2))], columns=["u", "v"])
    batch = kmeans(frame, n_clusters=2)
    warm = kmeans_train(frame.iloc[:1], batch.model, batch_size=1)
    assert sorted(warm.centers["u"].round().astype(int).tolist()) == [0, 4]
    with pytest.raises(DataError, match="fewer than k=5"):
        kmeans_train(frame.iloc[:3], k=5)
