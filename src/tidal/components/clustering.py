"""Clustering: group rows without a label.

Every component adds a ``cluster`` column (an integer id; ``-1`` marks noise for the density
methods) to its input. Algorithms that can assign new rows to the clusters they found (k-means,
mini-batch and bisecting k-means, Gaussian mixture, BIRCH, mean shift, affinity propagation)
also output a model package (task ``clustering``) whose ``predict`` gives cluster ids; the
others (DBSCAN, HDBSCAN, OPTICS, agglomerative, spectral) output only the table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn import cluster, mixture

from tidal.components._centers import NearestCenter
from tidal.components._hyperparameters import Hyper, hyper, library_params, tuned
from tidal.components._training import (
    COLUMNS,
    SEED,
    WEIGHT,
    accepts_weights,
    allows_missing,
    build_component,
    capability,
    compose_doc,
    feature_columns,
    final_step,
    fit_estimator,
    numeric_features,
    require_rows,
    standardize_param,
    weight_values,
    wrap_scaled,
)
from tidal.core import Param, ParameterError
from tidal.core._component import ComponentSpec
from tidal.models import ModelPackage


class Clusters(NamedTuple):
    data: pd.DataFrame
    model: ModelPackage


CLUSTER_COLUMN = ("cluster_column", Annotated[str, Param(help="name of the new column holding each row's cluster id")], "cluster")
EXAMPLE = """
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.clustering import {name}
    >>> frame = load_iris(as_frame=True).frame.drop(columns="target")
    >>> result = {name}(frame{extra})
    >>> {shown}
    {output}
"""


def clusterer(
    component_id: str,
    make: Callable[..., Any],
    *,
    title: str,
    summary: str,
    details: str = "",
    hypers: dict[str, Hyper] | None = None,
    fixed: dict[str, Any] | None = None,
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    standardize: bool = False,
    storable: Callable[[Any], Any] | None = None,
    example_params: str = "",
    example_clusters: int = 3,
) -> ComponentSpec:
    """Declare a clustering component over a scikit-learn clusterer (see ``supervised``).

    ``storable`` turns the fitted estimator into what the model package keeps, for estimators
    skops cannot store.
    """
    declared = library_params(make, hypers or {})
    fixed = dict(fixed or {})
    handles_missing = capability(make, None, allows_missing)
    supports_weights = capability(make, None, accepts_weights)
    seed = "random_state" in inspect.signature(make).parameters
    predicts = hasattr(make(), "predict")
    parameters = [COLUMNS, *declared.parameters, standardize_param(standardize)]
    if supports_weights:
        parameters.append(WEIGHT)
    if seed:
        parameters.append(SEED)
    parameters.append(CLUSTER_COLUMN)

    def run(data: pd.DataFrame, **values: Any) -> Any:
        require_rows(data, "input 'data'", 2)
        weight = values.get("sample_weight")
        columns = feature_columns(data, None, values["features"], exclude=(weight,) if weight else ())
        X = numeric_features(data, columns, allow_missing=handles_missing)
        arguments = {**fixed, **declared.to_library(values)}
        if seed:
            arguments["random_state"] = values["seed"]
        estimator = wrap_scaled(make(**(adapt(arguments) if adapt else arguments)), values["standardize"])
        fit_estimator(estimator, X, None, weight_values(data, weight) if weight else None)
        final = final_step(estimator)
        labels = final.labels_ if hasattr(final, "labels_") else estimator.predict(X)
        table = data.copy()
        table[values["cluster_column"]] = np.asarray(labels, dtype="int64")
        if not predicts:
            return table
        if storable is not None:
            steps = getattr(estimator, "steps", None)
            if steps:
                steps[-1] = (steps[-1][0], storable(final))
            else:
                estimator = storable(final)
        params = {key: value for key, value in values.items() if key not in ("features", "cluster_column")}
        found = int(len(set(table[values["cluster_column"]].tolist()) - {-1}))
        model = ModelPackage.from_estimator(estimator, data, features=columns, task="clustering", params=params, metadata={"clusters": found})
        return Clusters(table, model)

    name = component_id.split(".", 1)[1]
    if predicts:
        shown, output = "result.data[\"cluster\"].nunique(), result.model.task", f"({example_clusters}, 'clustering')"
        note = "Outputs the table with a ``cluster`` column and a model whose ``predict`` assigns new rows to the clusters."
    else:
        shown, output = "result[\"cluster\"].nunique()", str(example_clusters)
        note = "Outputs only the table with a ``cluster`` column: the algorithm cannot assign new rows, so there is no model."
    doc = compose_doc(summary, f"{inspect.cleandoc(details)}\n\n{note}".strip(), EXAMPLE, name=name, extra=example_params, shown=shown, output=output)
    tags = {"sample": "numeric", "task": "clustering", "handles_missing": handles_missing, "numeric_only": True,
            "supports_weights": supports_weights, "assigns_new_rows": predicts}
    return build_component(
        component_id,
        title=title,
        doc=doc,
        inputs={"data": pd.DataFrame},
        parameters=parameters,
        returns=Clusters if predicts else pd.DataFrame,
        run=run,
        tags=tags,
        module=__name__,
    )


N_CLUSTERS = tuned("number of clusters", 2, 20)
N_INIT = hyper("runs from different starting centroids, the best kept; empty: 1 for k-means++ init, 10 for random", kind=int, empty="auto")
METRIC = hyper("distance between rows", choices=("euclidean", "manhattan", "chebyshev", "cosine"))

kmeans = clusterer(
    "clustering.kmeans",
    cluster.KMeans,
    title="K-Means",
    summary="k-means clustering (scikit-learn KMeans): each row joins the nearest of k centroids.",
    details="Finds round clusters of similar size; scale features first (``standardize``) when their units differ.",
    hypers={"n_clusters": N_CLUSTERS, "init": hyper("how the first centroids are chosen", choices=("k-means++", "random")), "n_init": N_INIT,
            "max_iter": hyper("iterations of one run at most"), "algorithm": hyper("lloyd (classic) or elkan (faster on well-separated clusters)")},
    example_params=", n_clusters=3",
)

mini_batch_kmeans = clusterer(
    "clustering.mini_batch_kmeans",
    cluster.MiniBatchKMeans,
    title="Mini-Batch K-Means",
    summary="k-means on mini-batches (scikit-learn MiniBatchKMeans): much faster on large tables, slightly worse centroids.",
    hypers={"n_clusters": N_CLUSTERS, "batch_size": tuned("rows per mini-batch", 256, 8192, log=True), "max_iter": hyper("passes over the data at most"), "n_init": N_INIT},
    example_params=", n_clusters=3",
)

bisecting_kmeans = clusterer(
    "clustering.bisecting_kmeans",
    cluster.BisectingKMeans,
    title="Bisecting K-Means",
    summary="Bisecting k-means (scikit-learn BisectingKMeans): splits one cluster in two at a time, building a hierarchy.",
    hypers={"n_clusters": N_CLUSTERS, "bisecting_strategy": hyper("which cluster to split next"), "init": hyper("how the first centroids are chosen", choices=("random", "k-means++")),
            "n_init": hyper("runs of each split, the best kept")},
    example_params=", n_clusters=3",
)

gaussian_mixture = clusterer(
    "clustering.gaussian_mixture",
    mixture.GaussianMixture,
    title="Gaussian Mixture",
    summary="A Gaussian mixture model (scikit-learn GaussianMixture) fitted by expectation-maximization; clusters may be elongated ellipses.",
    hypers={"n_clusters": tuned("number of mixture components", 2, 20, argument="n_components", default=3),
            "covariance_type": hyper("shape of each component: full, tied (shared), diag or spherical"), "max_iter": hyper("EM iterations at most"),
            "n_init": hyper("EM runs, the best kept"), "reg_covar": hyper("added to the covariance diagonals for stability")},
)

birch = clusterer(
    "clustering.birch",
    cluster.Birch,
    title="BIRCH",
    summary="BIRCH (scikit-learn Birch): summarizes the rows in a tree of subclusters in one pass, then groups the subclusters.",
    hypers={"n_clusters": tuned("final number of clusters; empty: keep the subclusters", 2, 20),
            "threshold": tuned("largest radius of a subcluster", 0.1, 5.0, log=True), "branching_factor": hyper("most subclusters per tree node")},
    storable=NearestCenter.from_birch,
    example_params=", threshold=0.3",
)

mean_shift = clusterer(
    "clustering.mean_shift",
    cluster.MeanShift,
    title="Mean Shift",
    summary="Mean shift (scikit-learn MeanShift): centroids climb to the densest places; the number of clusters is found, not given.",
    details="Costs grow with the square of the rows; use it on tables of thousands of rows, not millions.",
    hypers={"bandwidth": tuned("kernel radius; empty: estimated from the data", 0.1, 10.0, log=True), "bin_seeding": hyper("start from a grid of points (faster)"),
            "cluster_all": hyper("assign every row, even far from all centroids (else -1)")},
    example_params=", bandwidth=1.0",
    example_clusters=2,
)

affinity_propagation = clusterer(
    "clustering.affinity_propagation",
    cluster.AffinityPropagation,
    title="Affinity Propagation",
    summary="Affinity propagation (scikit-learn AffinityPropagation): rows pass messages until some are chosen as exemplars.",
    details="Finds the number of clusters itself; ``preference`` (lower gives fewer clusters) steers it. Costs grow with the square of the rows.",
    hypers={"damping": tuned("how much old messages are kept", 0.5, 0.95), "preference": hyper("how readily a row becomes an exemplar; empty: the median similarity", kind=float),
            "max_iter": hyper("iterations at most")},
    example_params=", preference=-50.0",
)

# -- table only -------------------------------------------------------------------------------------

dbscan = clusterer(
    "clustering.dbscan",
    cluster.DBSCAN,
    title="DBSCAN",
    summary="DBSCAN (scikit-learn): clusters are dense regions; rows in sparse regions are noise (cluster -1).",
    hypers={"eps": tuned("neighbourhood radius", 0.05, 5.0, log=True), "min_samples": tuned("rows within eps that make a core row", 2, 50, log=True), "metric": METRIC},
    example_params=", eps=0.5, min_samples=5",
)

hdbscan = clusterer(
    "clustering.hdbscan",
    cluster.HDBSCAN,
    title="HDBSCAN",
    summary="HDBSCAN (scikit-learn): density clustering over all radii at once; finds clusters of varying density, noise is -1.",
    details="Rows with missing values are allowed: they join no cluster unless their other features place them.",
    hypers={"min_cluster_size": tuned("fewest rows in a cluster", 2, 100, log=True), "min_samples": hyper("neighbours that make a core row; empty: min_cluster_size"),
            "cluster_selection_epsilon": hyper("merge clusters closer than this"), "cluster_selection_method": hyper("eom (most persistent) or leaf (finest)"), "metric": METRIC},
    fixed={"copy": True},
    example_params=", min_cluster_size=10",
    example_clusters=2,
)

optics = clusterer(
    "clustering.optics",
    cluster.OPTICS,
    title="OPTICS",
    summary="OPTICS (scikit-learn): orders rows by density reachability and cuts clusters from that ordering; noise is -1.",
    hypers={"min_samples": tuned("rows in a neighbourhood that make a core row", 2, 50, log=True, kind=int), "xi": hyper("steepness that marks a cluster boundary", kind=float),
            "cluster_method": hyper("xi or dbscan"), "metric": hyper("distance between rows", choices=("minkowski", "euclidean", "manhattan", "chebyshev", "cosine"))},
    example_params=", min_samples=20",
    example_clusters=2,
)


def _agglomerative_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    if (arguments["n_clusters"] is None) == (arguments["distance_threshold"] is None):
        raise ParameterError("set exactly one of 'n_clusters' and 'distance_threshold' (the other empty)")
    if arguments["linkage"] == "ward" and arguments["metric"] != "euclidean":
        raise ParameterError(f"parameter 'metric': linkage 'ward' needs the euclidean metric, got {arguments['metric']!r}")
    return arguments


agglomerative = clusterer(
    "clustering.agglomerative",
    cluster.AgglomerativeClustering,
    title="Agglomerative Clustering",
    summary="Hierarchical agglomerative clustering (scikit-learn AgglomerativeClustering): merges the closest clusters until k are left.",
    details="Set ``distance_threshold`` (and leave ``n_clusters`` empty) to cut the hierarchy at a distance instead. Costs grow with the square of the rows.",
    hypers={"n_clusters": tuned("number of clusters; empty: cut at distance_threshold", 2, 20), "linkage": hyper("how cluster distance is measured: ward, complete, average, single"),
            "metric": hyper("distance between rows (ward needs euclidean)", choices=("euclidean", "manhattan", "cosine")),
            "distance_threshold": hyper("merge clusters closer than this; empty: stop at n_clusters", kind=float)},
    adapt=_agglomerative_arguments,
    example_params=", n_clusters=3",
)

spectral = clusterer(
    "clustering.spectral",
    cluster.SpectralClustering,
    title="Spectral Clustering",
    summary="Spectral clustering (scikit-learn SpectralClustering): k-means on the eigenvectors of a row-similarity graph; finds non-convex clusters.",
    details="Costs grow with the square of the rows.",
    hypers={"n_clusters": N_CLUSTERS, "affinity": hyper("how similarity is measured", choices=("rbf", "nearest_neighbors")), "gamma": tuned("RBF kernel coefficient", 1e-3, 10.0, log=True),
            "n_neighbors": hyper("neighbours in the nearest_neighbors graph"), "assign_labels": hyper("how labels are drawn from the embedding")},
    example_params=", n_clusters=3",
)
