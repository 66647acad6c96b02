"""Evaluation of cluster assignments: internal scores, and agreement with known labels."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from sklearn import metrics as skm

from tidal.components._charts import bar_chart
from tidal.components._training import numeric_features
from tidal.components.evaluation import complete_column, require_scored_rows
from tidal.core import Column, Columns, DataError, Metrics, Param, component


@component(
    "evaluation.clustering",
    title="Clustering Evaluation",
    tags={"sample": "scored_multiclass", "evaluation": "clustering", "sample_params": {"cluster_column": "prediction", "features": ["prob_0", "prob_1", "prob_2"]}},
)
def clustering(
    data: pd.DataFrame,
    *,
    cluster_column: Annotated[Column, Param(help="the cluster each row was assigned to")],
    features: Annotated[Columns, Param(help="the numeric columns the clusters were built on; empty: every numeric column but the cluster and label")] = None,
    label: Annotated[Column | None, Param(help="known classes; adds adjusted Rand index and normalized mutual information")] = None,
    sample_size: Annotated[int, Param(ge=0, help="rows the silhouette is computed on (it costs rows²); 0 uses every row")] = 5000,
    seed: Annotated[int, Param(ge=0, help="which rows the silhouette sample takes")] = 0,
) -> Metrics:
    """Silhouette, Calinski-Harabasz and Davies-Bouldin scores of a clustering, plus ARI and NMI against a label.

    Higher silhouette (from -1 to 1) and Calinski-Harabasz are better, lower Davies-Bouldin is
    better. With ``label`` the clustering is compared to known classes: adjusted Rand index,
    normalized mutual information, homogeneity, completeness and V-measure.

    Examples
    --------
    >>> import pandas as pd
    >>> points = pd.DataFrame({"x": [0.0, 0.1, 0.2, 5.0, 5.1, 5.2], "cluster": [0, 0, 0, 1, 1, 1]})
    >>> round(clustering(points, cluster_column="cluster")["silhouette"], 3)
    0.973
    """
    require_scored_rows(data)
    clusters = complete_column(data, cluster_column, "cluster")
    excluded = {cluster_column, label}
    columns = list(features) if features else [
        str(name) for name in data.columns if name not in excluded and pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])
    ]
    if not columns:
        raise DataError("no numeric feature columns to measure the clusters in; set 'features'")
    X = numeric_features(data, columns).to_numpy(dtype=float)
    assigned = clusters.astype(str).to_numpy()
    count = len(set(assigned.tolist()))
    if not 2 <= count <= len(assigned) - 1:
        raise DataError(
            f"cluster column '{cluster_column}' has {count} cluster(s) over {len(assigned)} rows; "
            "the scores need at least 2 clusters and fewer clusters than rows"
        )
    sampled = sample_size if 0 < sample_size < len(assigned) else None
    values: dict[str, Any] = {
        "rows": int(len(assigned)),
        "clusters": count,
        "silhouette": float(skm.silhouette_score(X, assigned, sample_size=sampled, random_state=seed)),
        "calinski_harabasz": float(skm.calinski_harabasz_score(X, assigned)),
        "davies_bouldin": float(skm.davies_bouldin_score(X, assigned)),
    }
    if label is not None:
        truth = complete_column(data, label, "label").astype(str).to_numpy()
        values["adjusted_rand_index"] = float(skm.adjusted_rand_score(truth, assigned))
        values["normalized_mutual_information"] = float(skm.normalized_mutual_info_score(truth, assigned))
        homogeneity, completeness, v_measure = skm.homogeneity_completeness_v_measure(truth, assigned)
        values.update({"homogeneity": float(homogeneity), "completeness": float(completeness), "v_measure": float(v_measure)})
    per_row = skm.silhouette_samples(X, assigned) if sampled is None else None
    sizes = pd.Series(assigned).value_counts().sort_index()
    table = [
        {
            "cluster": name,
            "rows": int(size),
            "share": float(size / len(assigned)),
            **({"silhouette": float(per_row[assigned == name].mean())} if per_row is not None else {}),
        }
        for name, size in sizes.items()
    ]
    figures = {"sizes": bar_chart([row["cluster"] for row in table], [row["rows"] for row in table], x="cluster", y="rows", title="Cluster sizes")}
    return Metrics(values, figures=figures, tables={"clusters": table})
