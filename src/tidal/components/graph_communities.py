"""Community detection on an edge table: label propagation, Louvain, and modularity of a partition."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import pandas as pd

from tidal.components._graphs import build_graph, community_table, require_positive_weights
from tidal.core import Column, DataError, Metrics, Param, component

Source = Annotated[Column, Param(help="the column holding each edge's source vertex")]
Target = Annotated[Column, Param(help="the column holding each edge's target vertex")]
Weight = Annotated[Column | None, Param(help="edge weights; empty gives every edge weight 1")]


@component("graph.label_propagation", title="Label Propagation Communities", tags={"sample": "edges", "deterministic_under_seed": True})
def label_propagation(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    weight_column: Weight = None,
    method: Annotated[Literal["semi_synchronous", "asynchronous"], Param(help="semi_synchronous: deterministic (Cordasco and Gargano); asynchronous: random order, uses seed and weights")] = "semi_synchronous",
    seed: Annotated[int, Param(ge=0, help="random seed of the asynchronous method")] = 0,
) -> pd.DataFrame:
    """Communities by label propagation: each vertex repeatedly takes its neighbours' most common label.

    Fast and parameter-free; communities are numbered from 0 in the order of their smallest
    vertex. Edges are undirected. Only the asynchronous method uses ``weight_column``.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 4, 4, 5, 3], "b": [2, 3, 3, 5, 6, 6, 4]})
    >>> label_propagation(links, source_column="a", target_column="b")["community"].tolist()
    [0, 0, 0, 1, 1, 1]
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column)
    if method == "asynchronous":
        communities = nx.community.asyn_lpa_communities(graph, weight="weight" if weight_column else None, seed=seed)
    else:
        communities = nx.community.label_propagation_communities(graph)
    return community_table(graph, communities)


class Communities(NamedTuple):
    communities: pd.DataFrame
    metrics: Metrics


@component("graph.louvain", title="Louvain Communities", tags={"sample": "edges", "deterministic_under_seed": True})
def louvain(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    weight_column: Weight = None,
    resolution: Annotated[float, Param(gt=0, tune=True, low=0.1, high=10, help="above 1 favours smaller communities, below 1 larger ones")] = 1.0,
    threshold: Annotated[float, Param(gt=0, log=True, help="stop when a level improves modularity by less than this")] = 1e-7,
    seed: Annotated[int, Param(ge=0, help="random seed of the vertex order")] = 0,
) -> Communities:
    """Communities by the Louvain method: greedy modularity optimisation, level by level (networkx).

    Outputs each vertex's community (numbered from 0 in the order of their smallest vertex) and
    Metrics with the partition's modularity and number of communities. Edges are undirected;
    weights must be >= 0.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 4, 4, 5, 3], "b": [2, 3, 3, 5, 6, 6, 4]})
    >>> result = louvain(links, source_column="a", target_column="b")
    >>> result.communities["community"].tolist(), round(result.metrics["modularity"], 4)
    ([0, 0, 0, 1, 1, 1], 0.3571)
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column)
    require_positive_weights(graph, weight_column, "Louvain")
    weight = "weight" if weight_column else None
    found = nx.community.louvain_communities(graph, weight=weight, resolution=resolution, threshold=threshold, seed=seed)
    quality = nx.community.modularity(graph, found, weight=weight, resolution=resolution)
    metrics = Metrics({"modularity": float(quality), "communities": len(found), "vertices": graph.number_of_nodes()})
    return Communities(community_table(graph, found), metrics)


@component(
    "graph.modularity",
    title="Modularity",
    tags={"sample": "edges", "sample_params": {"vertex_column": "source", "community_column": "weight"}},
)
def modularity(
    edges: pd.DataFrame,
    communities: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    weight_column: Weight = None,
    vertex_column: Annotated[Column, Param(column_of="communities", help="the vertex ids in 'communities'")] = "vertex",
    community_column: Annotated[Column, Param(column_of="communities", help="each vertex's community label")] = "community",
    resolution: Annotated[float, Param(gt=0, help="resolution parameter gamma of the modularity")] = 1.0,
) -> Metrics:
    """Modularity of a partition of the graph into communities, with coverage and performance.

    Q = sum over communities c of L_c / m - gamma (d_c / 2m)^2, with L_c the edges inside c, d_c
    their total degree and m the edges (weights when given). Vertices of the graph missing from
    ``communities`` form one community each. Edges are undirected.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 4, 4, 5, 3], "b": [2, 3, 3, 5, 6, 6, 4]})
    >>> labels = pd.DataFrame({"vertex": [1, 2, 3, 4, 5, 6], "community": ["x", "x", "x", "y", "y", "y"]})
    >>> round(modularity(links, labels, source_column="a", target_column="b")["modularity"], 4)
    0.3571
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column)
    require_positive_weights(graph, weight_column, "modularity")
    if len(communities) == 0:
        raise DataError("input 'communities' is empty; connect a table of (vertex, community) rows")
    for name in (vertex_column, community_column):
        missing = communities[name].isna().to_numpy()
        if missing.any():
            raise DataError(f"input 'communities': column '{name}' has missing values, the first at row {int(missing.argmax())}")
    assignment = communities[[vertex_column, community_column]].drop_duplicates()
    repeated = assignment[vertex_column].duplicated()
    if repeated.any():
        vertex = assignment.loc[repeated.idxmax(), vertex_column]
        raise DataError(f"vertex {vertex!r} has more than one community in '{community_column}'; a partition gives each vertex one")
    groups: dict[object, set[object]] = {}
    label_of = dict(zip(assignment[vertex_column].tolist(), assignment[community_column].tolist(), strict=True))
    for vertex in graph.nodes:
        key = ("assigned", label_of[vertex]) if vertex in label_of else ("alone", vertex)
        groups.setdefault(key, set()).add(vertex)
    partition = list(groups.values())
    weight = "weight" if weight_column else None
    coverage, performance = nx.community.partition_quality(graph, partition)
    values = {
        "modularity": float(nx.community.modularity(graph, partition, weight=weight, resolution=resolution)),
        "communities": len(partition),
        "coverage": float(coverage),
        "performance": float(performance),
        "unassigned_vertices": sum(1 for vertex in graph.nodes if vertex not in label_of),
    }
    return Metrics(values)
