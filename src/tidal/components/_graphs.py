"""Building a networkx graph from an edge table, and turning results back into tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError


def build_graph(
    edges: pd.DataFrame,
    source_column: str,
    target_column: str,
    weight_column: str | None = None,
    *,
    directed: bool = False,
    self_loops: bool = True,
) -> Any:
    """A networkx graph; repeated edges add up their weights (1 per edge without a weight column)."""
    import networkx as nx

    if len(edges) == 0:
        raise DataError("the edge table is empty: a graph needs at least one (source, target) row")
    if source_column == target_column:
        raise DataError(f"'source_column' and 'target_column' are both '{source_column}'; choose two different columns")
    for name in (source_column, target_column):
        missing = edges[name].isna().to_numpy()
        if missing.any():
            raise DataError(f"column '{name}' has {int(missing.sum())} missing value(s), the first at row {int(np.flatnonzero(missing)[0])}; drop those edges first")
    if weight_column is None:
        weights = np.ones(len(edges))
    else:
        column = edges[weight_column]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise DataError(f"weight column '{weight_column}' ({column.dtype}) must be numeric")
        weights = column.to_numpy(dtype=float)
        if np.isnan(weights).any():
            raise DataError(f"weight column '{weight_column}' has missing values, the first at row {int(np.flatnonzero(np.isnan(weights))[0])}")
    graph = nx.DiGraph() if directed else nx.Graph()
    sources, targets = edges[source_column].tolist(), edges[target_column].tolist()
    vertices = ordered(set(sources) | set(targets))
    rank = {vertex: index for index, vertex in enumerate(vertices)}
    graph.add_nodes_from(vertices)  # sorted vertices and edges: results do not depend on the row order
    rows = sorted(zip(sources, targets, weights.tolist(), strict=True), key=lambda row: (rank[row[0]], rank[row[1]]))
    for source, target, weight in rows:
        if source == target and not self_loops:
            graph.add_node(source)
            continue
        if graph.has_edge(source, target):
            graph[source][target]["weight"] += weight
        else:
            graph.add_edge(source, target, weight=weight)
    return graph


def require_positive_weights(graph: Any, weight_column: str | None, what: str) -> None:
    if weight_column is None:
        return
    for source, target, weight in graph.edges(data="weight"):
        if weight < 0:
            raise DataError(f"{what} needs non-negative weights; edge ({source!r}, {target!r}) has weight {weight} in '{weight_column}'")


def ordered(vertices: Iterable[Any]) -> list[Any]:
    """Vertices sorted by value (by type name and text when the ids mix types)."""
    items = list(vertices)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda vertex: (type(vertex).__name__, str(vertex)))


def vertex_table(graph: Any, columns: dict[str, Any]) -> pd.DataFrame:
    """One row per vertex in sorted order; each column maps a vertex to its value."""
    vertices = ordered(graph.nodes)
    table = {"vertex": vertices}
    for name, values in columns.items():
        table[name] = [values.get(vertex) for vertex in vertices]
    return pd.DataFrame(table)


def community_table(graph: Any, communities: Iterable[Iterable[Any]]) -> pd.DataFrame:
    """vertex, community: communities are numbered by their smallest vertex, in sorted order."""
    groups = [ordered(group) for group in communities]
    position = {vertex: index for index, vertex in enumerate(ordered(graph.nodes))}
    groups.sort(key=lambda group: position[group[0]])
    label = {vertex: index for index, group in enumerate(groups) for vertex in group}
    sizes = {vertex: len(group) for group in groups for vertex in group}
    return vertex_table(graph, {"community": label, "community_size": sizes})


def find_vertex(graph: Any, value: str, parameter: str) -> Any:
    """The vertex whose text equals ``value``."""
    for vertex in graph.nodes:
        if str(vertex) == str(value):
            return vertex
    shown = ", ".join(map(str, ordered(graph.nodes)[:10]))
    raise DataError(f"parameter '{parameter}': vertex {value!r} is not in the graph (vertices include: {shown})")
