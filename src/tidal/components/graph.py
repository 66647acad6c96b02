"""Graph analytics on an edge table (networkx): ranking, components, cores, paths, triangles, trees.

Every component reads an edge table (``source_column``, ``target_column``, optional
``weight_column``; repeated edges add up their weights) and writes a vertex table (``vertex``
plus results, sorted by vertex) or an edge table. Scalars go to Metrics.
"""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from tidal.components._graphs import (
    build_graph,
    find_vertex,
    ordered,
    require_positive_weights,
    vertex_table,
)
from tidal.core import Column, DataError, Metrics, Param, component

Source = Annotated[Column, Param(help="the column holding each edge's source vertex")]
Target = Annotated[Column, Param(help="the column holding each edge's target vertex")]
Weight = Annotated[Column | None, Param(help="edge weights; empty gives every edge weight 1")]
Directed = Annotated[bool, Param(help="edges point from source to target")]
TAGS = {"sample": "edges"}


@component("graph.pagerank", title="PageRank", tags=TAGS)
def pagerank(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    weight_column: Weight = None,
    directed: Directed = True,
    damping: Annotated[float, Param(gt=0, lt=1, help="probability of following a link rather than jumping anywhere")] = 0.85,
    max_iter: Annotated[int, Param(ge=1, help="power iterations at most")] = 100,
    tolerance: Annotated[float, Param(gt=0, log=True, help="stop when the total change is below tolerance x vertices")] = 1e-6,
) -> pd.DataFrame:
    """PageRank of every vertex: the share of time a random surfer spends there.

    Dangling vertices (no out-links) spread their rank evenly. Ranks sum to 1.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"src": ["a", "b", "c"], "dst": ["b", "c", "a"]})
    >>> pagerank(links, source_column="src", target_column="dst")["pagerank"].round(4).tolist()
    [0.3333, 0.3333, 0.3333]
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column, directed=directed)
    require_positive_weights(graph, weight_column, "PageRank")
    try:
        ranks = nx.pagerank(graph, alpha=damping, max_iter=max_iter, tol=tolerance, weight="weight")
    except nx.PowerIterationFailedConvergence:
        raise DataError(f"PageRank did not converge in {max_iter} iterations; raise 'max_iter' or 'tolerance'") from None
    return vertex_table(graph, {"pagerank": ranks})


@component("graph.connected_components", title="Connected Components", tags=TAGS)
def connected_components(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    directed: Annotated[bool, Param(help="strongly connected components (every vertex reaches every other along edge directions)")] = False,
) -> pd.DataFrame:
    """Which connected component each vertex belongs to, and the component's size.

    Components are numbered from 0 in the order of their smallest vertex. With ``directed``,
    strongly connected components are found instead.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 2, 7], "b": [2, 3, 8]})
    >>> connected_components(links, source_column="a", target_column="b")["component"].tolist()
    [0, 0, 0, 1, 1]
    """
    import networkx as nx

    from tidal.components._graphs import community_table

    graph = build_graph(edges, source_column, target_column, directed=directed)
    parts = nx.strongly_connected_components(graph) if directed else nx.connected_components(graph)
    table = community_table(graph, parts)
    return table.rename(columns={"community": "component", "community_size": "component_size"})


class KCore(NamedTuple):
    vertices: pd.DataFrame
    edges: pd.DataFrame


@component("graph.k_core", title="k-Core", tags=TAGS)
def k_core(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    k: Annotated[int, Param(ge=1, help="keep the subgraph where every vertex has at least k neighbours inside it")] = 2,
) -> KCore:
    """Core number of every vertex, and the edges of the k-core.

    The k-core is the largest subgraph in which every vertex has degree at least k; a vertex's
    core number is the largest k whose core contains it. Edges are undirected; self-loops are
    ignored. ``edges`` keeps the input rows whose both ends are in the k-core.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 3], "b": [2, 3, 3, 4]})
    >>> result = k_core(links, source_column="a", target_column="b", k=2)
    >>> result.vertices["core_number"].tolist(), len(result.edges)
    ([2, 2, 2, 1], 3)
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, self_loops=False)
    cores = nx.core_number(graph)
    vertices = vertex_table(graph, {"core_number": cores})
    inside = {vertex for vertex, core in cores.items() if core >= k}
    keep = edges[source_column].isin(inside) & edges[target_column].isin(inside) & (edges[source_column] != edges[target_column])
    return KCore(vertices, edges[keep].reset_index(drop=True))


@component("graph.shortest_paths", title="Single-source Shortest Paths", tags={**TAGS, "sample_params": {"source": "0"}})
def shortest_paths(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    source: Annotated[str, Param(help="the start vertex (compared as text with the vertex ids)")],
    weight_column: Weight = None,
    directed: Directed = False,
) -> pd.DataFrame:
    """Shortest distance from one vertex to every other (Dijkstra; breadth-first without weights).

    Each vertex gets its distance, the number of edges on the path (``hops``) and the previous
    vertex on it (``predecessor``); unreachable vertices have empty values. Weights must be >= 0.

    Examples
    --------
    >>> import pandas as pd
    >>> roads = pd.DataFrame({"a": ["x", "y", "x"], "b": ["y", "z", "z"], "km": [1.0, 1.0, 5.0]})
    >>> shortest_paths(roads, source_column="a", target_column="b", weight_column="km", source="x")
      vertex  distance  hops predecessor
    0      x       0.0     0        None
    1      y       1.0     1           x
    2      z       2.0     2           y
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column, directed=directed)
    require_positive_weights(graph, weight_column, "Dijkstra's algorithm")
    start = find_vertex(graph, source, "source")
    distances, paths = nx.single_source_dijkstra(graph, start, weight="weight")
    table = vertex_table(graph, {
        "distance": distances,
        "hops": {vertex: len(path) - 1 for vertex, path in paths.items()},
        "predecessor": {vertex: path[-2] for vertex, path in paths.items() if len(path) > 1},
    })
    table["distance"] = table["distance"].astype(float)
    table["hops"] = table["hops"].astype("Int64")
    table["predecessor"] = table["predecessor"].astype(object).where(table["predecessor"].notna(), None)
    return table


@component("graph.triangle_count", title="Triangle Count", tags=TAGS)
def triangle_count(edges: pd.DataFrame, *, source_column: Source, target_column: Target) -> pd.DataFrame:
    """The number of triangles through each vertex (edges undirected, self-loops ignored).

    The graph's total triangle count is the column's sum divided by 3.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 3], "b": [2, 3, 3, 4]})
    >>> triangle_count(links, source_column="a", target_column="b")["triangles"].tolist()
    [1, 1, 1, 0]
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, self_loops=False)
    return vertex_table(graph, {"triangles": nx.triangles(graph)})


class Clustering(NamedTuple):
    vertices: pd.DataFrame
    metrics: Metrics


@component("graph.clustering_coefficient", title="Vertex Clustering Coefficient", tags=TAGS)
def clustering_coefficient(
    edges: pd.DataFrame, *, source_column: Source, target_column: Target, weight_column: Weight = None
) -> Clustering:
    """Local clustering coefficient of each vertex: how many of its neighbour pairs are linked.

    c(v) = 2 T(v) / (deg(v) (deg(v) - 1)), with T(v) the triangles through v; with weights, the
    geometric mean of the normalized triangle weights (Onnela et al.). Metrics give the average
    clustering and the transitivity (3 x triangles / connected triples). Edges are undirected.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 3], "b": [2, 3, 3, 4]})
    >>> result = clustering_coefficient(links, source_column="a", target_column="b")
    >>> result.vertices["clustering"].round(3).tolist(), round(result.metrics["transitivity"], 3)
    ([1.0, 1.0, 0.333, 0.0], 0.6)
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column, self_loops=False)
    weight = "weight" if weight_column else None
    if weight:
        require_positive_weights(graph, weight_column, "the weighted clustering coefficient")
    local = nx.clustering(graph, weight=weight)
    vertices = vertex_table(graph, {"degree": dict(graph.degree()), "triangles": nx.triangles(graph), "clustering": local})
    metrics = {"average_clustering": float(np.mean(list(local.values()))), "transitivity": float(nx.transitivity(graph)),
               "triangles": int(sum(nx.triangles(graph).values()) // 3), "vertices": graph.number_of_nodes()}
    return Clustering(vertices, Metrics(metrics))


@component("graph.edge_clustering_coefficient", title="Edge Clustering Coefficient", tags=TAGS)
def edge_clustering_coefficient(edges: pd.DataFrame, *, source_column: Source, target_column: Target) -> pd.DataFrame:
    """For each edge, the triangles it closes and its clustering coefficient.

    clustering(u, v) = triangles(u, v) / min(deg(u) - 1, deg(v) - 1): the share of the possible
    triangles through the edge that exist (Radicchi et al., without their +1 smoothing); 0 when
    an end has no other neighbour. Low values mark edges that bridge communities. Edges are
    undirected; one row per distinct edge, self-loops left out.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2, 3], "b": [2, 3, 3, 4]})
    >>> edge_clustering_coefficient(links, source_column="a", target_column="b")
       a  b  triangles  clustering
    0  1  2          1         1.0
    1  1  3          1         1.0
    2  2  3          1         1.0
    3  3  4          0         0.0
    """
    graph = build_graph(edges, source_column, target_column, self_loops=False)
    rank = {vertex: index for index, vertex in enumerate(ordered(graph.nodes))}
    rows = []
    for u, v in graph.edges():
        first, second = (u, v) if rank[u] <= rank[v] else (v, u)
        shared = len(set(graph[u]) & set(graph[v]) - {u, v})
        possible = min(graph.degree(u) - 1, graph.degree(v) - 1)
        rows.append((rank[first], rank[second], first, second, shared, shared / possible if possible > 0 else 0.0))
    rows.sort()
    table = pd.DataFrame([row[2:] for row in rows], columns=[source_column, target_column, "triangles", "clustering"])
    return table


@component("graph.tree_depth", title="Tree Depth", tags=TAGS)
def tree_depth(
    edges: pd.DataFrame,
    *,
    source_column: Annotated[Column, Param(help="the parent vertex of each edge")],
    target_column: Annotated[Column, Param(help="the child vertex of each edge")],
    require_forest: Annotated[bool, Param(help="fail unless every vertex has at most one parent and there are no cycles")] = False,
) -> pd.DataFrame:
    """Depth and root of every vertex of a forest given as parent -> child edges.

    Roots (vertices without a parent) have depth 0; every other vertex is one deeper than its
    parent. On a graph that is not a forest, depth is the fewest edges from any root and the root
    is that nearest one (the smallest when several are as near); vertices no root reaches (on a
    cycle) get empty values, unless ``require_forest`` makes that an error.

    Examples
    --------
    >>> import pandas as pd
    >>> org = pd.DataFrame({"boss": ["ceo", "ceo", "cto"], "report": ["cto", "cfo", "dev"]})
    >>> tree_depth(org, source_column="boss", target_column="report")
      vertex parent root  depth
    0    ceo   None  ceo      0
    1    cfo    ceo  ceo      1
    2    cto    ceo  ceo      1
    3    dev    cto  ceo      2
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, directed=True)
    if require_forest:
        several = [vertex for vertex in ordered(graph.nodes) if graph.in_degree(vertex) > 1]
        if several:
            raise DataError(f"vertex {several[0]!r} has {graph.in_degree(several[0])} parents; a forest allows one")
        if not nx.is_directed_acyclic_graph(graph):
            raise DataError(f"the edges contain a cycle through {nx.find_cycle(graph)[0][0]!r}; a forest has none")
    roots = [vertex for vertex in ordered(graph.nodes) if graph.in_degree(vertex) == 0]
    depth: dict[Any, int] = {root: 0 for root in roots}
    root_of: dict[Any, Any] = {root: root for root in roots}
    parent: dict[Any, Any] = {}
    queue = deque(roots)
    while queue:
        vertex = queue.popleft()
        for child in ordered(graph.successors(vertex)):
            if child not in depth:
                depth[child], root_of[child], parent[child] = depth[vertex] + 1, root_of[vertex], vertex
                queue.append(child)
    table = vertex_table(graph, {"parent": parent, "root": root_of, "depth": depth})
    table["depth"] = table["depth"].astype("Int64")
    for name in ("parent", "root"):
        table[name] = table[name].astype(object).where(table[name].notna(), None)
    return table


@component("graph.degree", title="Vertex Degree", tags=TAGS)
def degree(
    edges: pd.DataFrame, *, source_column: Source, target_column: Target, weight_column: Weight = None, directed: Directed = False
) -> pd.DataFrame:
    """Degree of every vertex; in- and out-degree when directed; summed weights with a weight column.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"a": [1, 1, 2], "b": [2, 3, 3]})
    >>> degree(links, source_column="a", target_column="b", directed=True)
       vertex  degree  in_degree  out_degree
    0       1       2          0           2
    1       2       2          1           1
    2       3       2          2           0
    """
    graph = build_graph(edges, source_column, target_column, weight_column, directed=directed)
    columns: dict[str, Any] = {"degree": dict(graph.degree())}
    if directed:
        columns.update({"in_degree": dict(graph.in_degree()), "out_degree": dict(graph.out_degree())})
    if weight_column:
        columns["weighted_degree"] = dict(graph.degree(weight="weight"))
    return vertex_table(graph, columns)


@component("graph.centrality", title="Vertex Centrality", tags=TAGS)
def centrality(
    edges: pd.DataFrame,
    *,
    source_column: Source,
    target_column: Target,
    measure: Annotated[Literal["betweenness", "closeness", "eigenvector", "degree"], Param(help="which centrality")] = "betweenness",
    weight_column: Annotated[Column | None, Param(help="edge lengths (betweenness, closeness) or strengths (eigenvector)")] = None,
    directed: Directed = False,
    normalized: Annotated[bool, Param(help="betweenness: divide by the number of vertex pairs")] = True,
) -> pd.DataFrame:
    """Betweenness, closeness, eigenvector or degree centrality of every vertex (networkx).

    Betweenness counts the shortest paths through a vertex (exact, Brandes' algorithm);
    closeness is the inverse mean distance to the reachable vertices (Wasserman-Faust scaling);
    eigenvector centrality is the leading eigenvector of the adjacency matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> star = pd.DataFrame({"a": [0, 0, 0], "b": [1, 2, 3]})
    >>> centrality(star, source_column="a", target_column="b")["centrality"].tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    import networkx as nx

    graph = build_graph(edges, source_column, target_column, weight_column, directed=directed)
    weight = "weight" if weight_column else None
    if weight:
        require_positive_weights(graph, weight_column, f"{measure} centrality")
    if measure == "betweenness":
        values = nx.betweenness_centrality(graph, normalized=normalized, weight=weight)
    elif measure == "closeness":
        values = nx.closeness_centrality(graph, distance=weight)
    elif measure == "eigenvector":
        try:
            values = nx.eigenvector_centrality_numpy(graph, weight=weight)
        except (nx.AmbiguousSolution, nx.NetworkXException) as error:
            raise DataError(f"eigenvector centrality is not defined for this graph: {error}") from None
        values = {vertex: abs(float(value)) for vertex, value in values.items()}
    else:
        values = nx.degree_centrality(graph)
    return vertex_table(graph, {"centrality": values})
