"""Clustering: parity with scikit-learn on iris, models that assign new rows (and survive a
reload), capability tags checked over the registry, and the example pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import cluster, datasets, mixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import tidal
from tidal.components import clustering
from tidal.core import DataError, ParameterError, ValidationFailed, registry
from tidal.models import ModelPackage

EXAMPLE = Path(__file__).parents[2] / "examples" / "clustering.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    return datasets.load_iris(as_frame=True).frame.drop(columns="target")


@pytest.fixture(scope="module")
def new_rows(iris) -> pd.DataFrame:
    return iris + np.random.default_rng(0).normal(scale=0.1, size=iris.shape)


def clusterers(**tags):
    return [spec for spec in registry.all() if spec.category == "clustering" and all(spec.tags.get(key) == value for key, value in tags.items())]


def ids(specs):
    return [spec.id for spec in specs]


def table_of(result):
    return result.data if isinstance(result, tuple) else result


PARITY = [
    ("kmeans", {"n_clusters": 3, "seed": 1}, lambda: cluster.KMeans(3, random_state=1)),
    ("kmeans", {"n_clusters": 4, "standardize": True}, lambda: make_pipeline(StandardScaler(), cluster.KMeans(4, random_state=0))),
    ("mini_batch_kmeans", {"n_clusters": 3, "batch_size": 50}, lambda: cluster.MiniBatchKMeans(3, batch_size=50, random_state=0)),
    ("bisecting_kmeans", {"n_clusters": 4}, lambda: cluster.BisectingKMeans(4, random_state=0)),
    ("gaussian_mixture", {"n_clusters": 3, "covariance_type": "diag"}, lambda: mixture.GaussianMixture(3, covariance_type="diag", random_state=0)),
    ("birch", {"threshold": 0.3}, lambda: cluster.Birch(threshold=0.3)),
    ("mean_shift", {"bandwidth": 1.0}, lambda: cluster.MeanShift(bandwidth=1.0)),
    ("affinity_propagation", {"preference": -50.0}, lambda: cluster.AffinityPropagation(preference=-50.0, random_state=0)),
    ("dbscan", {"eps": 0.5}, lambda: cluster.DBSCAN(eps=0.5)),
    ("hdbscan", {"min_cluster_size": 10}, lambda: cluster.HDBSCAN(min_cluster_size=10, copy=True)),
    ("optics", {"min_samples": 20}, lambda: cluster.OPTICS(min_samples=20)),
    ("agglomerative", {"n_clusters": 3, "linkage": "average"}, lambda: cluster.AgglomerativeClustering(3, linkage="average")),
    ("agglomerative", {"n_clusters": None, "distance_threshold": 10.0}, lambda: cluster.AgglomerativeClustering(None, distance_threshold=10.0)),
    ("spectral", {"n_clusters": 3, "seed": 2}, lambda: cluster.SpectralClustering(3, random_state=2)),
]


@pytest.mark.parametrize(("name", "params", "reference"), PARITY, ids=[f"{case[0]}-{index}" for index, case in enumerate(PARITY)])
def test_matches_scikit_learn(iris, new_rows, tmp_path, name, params, reference):
    result = getattr(clustering, name)(iris, **params)
    expected = reference().fit(iris)
    final = expected.steps[-1][1] if hasattr(expected, "steps") else expected
    labels = final.labels_ if hasattr(final, "labels_") else expected.predict(iris)
    table = table_of(result)
    assert table["cluster"].tolist() == labels.tolist()
    assert table.drop(columns="cluster").equals(iris)
    if isinstance(result, tuple):
        assert result.model.task == "clustering"
        np.testing.assert_array_equal(result.model.predict(new_rows), expected.predict(new_rows))
        loaded = ModelPackage.load(result.model.save_archive(tmp_path / "model.zip"))
        np.testing.assert_array_equal(loaded.predict(new_rows), expected.predict(new_rows))


@pytest.mark.parametrize("spec", clusterers(assigns_new_rows=True), ids=ids(clusterers(assigns_new_rows=True)))
def test_models_assign_the_training_rows_to_their_own_clusters(iris, spec):
    result = spec(iris, **({"preference": -50.0} if spec.param("preference") else {}))
    assert result.model.predict(iris).tolist() == result.data["cluster"].tolist()
    assert result.model.metadata["clusters"] == result.data["cluster"].nunique()


@pytest.mark.parametrize("spec", clusterers(assigns_new_rows=False), ids=ids(clusterers(assigns_new_rows=False)))
def test_algorithms_that_cannot_assign_new_rows_output_only_the_table(spec):
    assert [port.name for port in spec.outputs] == ["output"] and spec.outputs[0].type == "Table"
    assert "no model" in spec.description


@pytest.mark.parametrize("spec", clusterers(handles_missing=True), ids=ids(clusterers(handles_missing=True)))
def test_clusterers_that_claim_to_handle_missing_values_fit_with_them(iris, spec):
    frame = iris.copy()
    frame.iloc[[3, 40], 1] = np.nan
    assert len(table_of(spec(frame))) == len(iris)


@pytest.mark.parametrize("spec", clusterers(handles_missing=False), ids=ids(clusterers(handles_missing=False)))
def test_clusterers_that_do_not_handle_missing_values_name_the_column_and_row(iris, spec):
    frame = iris.copy()
    frame.iloc[7, 2] = np.nan
    with pytest.raises(DataError, match=r"column 'petal length \(cm\)' has 1 missing value\(s\), the first at row 7"):
        spec(frame)


@pytest.mark.parametrize("spec", clusterers(numeric_only=True), ids=ids(clusterers(numeric_only=True)))
def test_numeric_only_clusterers_name_a_text_column(iris, spec):
    with pytest.raises(DataError, match="'species'"):
        spec(iris.assign(species="setosa"))


@pytest.mark.parametrize("spec", clusterers(supports_weights=True), ids=ids(clusterers(supports_weights=True)))
def test_clusterers_that_support_weights_take_a_weight_column(iris, spec):
    result = spec(iris.assign(weight=np.arange(len(iris)) % 3 + 1.0), sample_weight="weight")
    assert "weight" not in (result.model.features if isinstance(result, tuple) else [])
    assert len(table_of(result)) == len(iris)


def test_weighted_kmeans_matches_scikit_learn(iris):
    weights = np.arange(len(iris)) % 3 + 1.0
    result = clustering.kmeans(iris.assign(weight=weights), n_clusters=3, sample_weight="weight")
    expected = cluster.KMeans(3, random_state=0).fit(iris, sample_weight=weights)
    assert result.data["cluster"].tolist() == expected.labels_.tolist()


def test_parameters_are_checked(iris):
    assert registry.get("clustering.dbscan").param("eps").meta.gt == 0
    assert registry.get("clustering.kmeans").param("n_init").default is None
    with pytest.raises(ValidationFailed, match="n_clusters"):
        clustering.kmeans(iris, n_clusters=0)
    with pytest.raises(ParameterError, match="exactly one of 'n_clusters' and 'distance_threshold'"):
        clustering.agglomerative(iris, distance_threshold=3.0)
    with pytest.raises(ParameterError, match="ward' needs the euclidean metric"):
        clustering.agglomerative(iris, metric="cosine")
    with pytest.raises(DataError, match="at least 2 needed"):
        clustering.kmeans(iris.iloc[:0])
    with pytest.raises(DataError, match="cannot be fitted on this data"):
        clustering.kmeans(iris.iloc[:5], n_clusters=8)


def test_example_pipeline(tmp_path):
    result = tidal.run(tidal.load_pipeline(EXAMPLE), workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    scores = result.metrics("evaluate")
    assert scores["adjusted_rand_index"] > 0.6 and scores["silhouette"] > 0.4
    model = result.output("clusters", "model")
    table = result.output("clusters", "data").to_pandas()
    assert model.predict(table).tolist() == table["cluster"].tolist()
