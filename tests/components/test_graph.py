"""Graph components against networkx and direct numpy computations on Zachary's karate club."""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import tidal
from tidal.components.graph import (
    centrality,
    clustering_coefficient,
    connected_components,
    degree,
    edge_clustering_coefficient,
    k_core,
    pagerank,
    shortest_paths,
    tree_depth,
    triangle_count,
)
from tidal.components.graph_communities import label_propagation, louvain, modularity
from tidal.core import DataError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COLUMNS = {"source_column": "source", "target_column": "target"}


@pytest.fixture(scope="module")
def karate() -> nx.Graph:
    return nx.karate_club_graph()


@pytest.fixture(scope="module")
def edges(karate) -> pd.DataFrame:
    return pd.DataFrame([(a, b, float(data["weight"])) for a, b, data in karate.edges(data=True)], columns=["source", "target", "weight"])


def by_vertex(table: pd.DataFrame, column: str) -> dict:
    return dict(zip(table["vertex"], table[column], strict=True))


def test_pagerank_matches_networkx_and_power_iteration(karate, edges):
    ranks = pagerank(edges, **COLUMNS, weight_column="weight", directed=False, tolerance=1e-12, max_iter=1000)
    expected = nx.pagerank(karate, weight="weight", tol=1e-12, max_iter=1000)
    assert ranks["vertex"].tolist() == list(range(34))
    np.testing.assert_allclose(ranks["pagerank"], [expected[v] for v in range(34)], rtol=1e-8)
    adjacency = nx.to_numpy_array(karate, nodelist=range(34), weight="weight")
    transition = adjacency / adjacency.sum(axis=1, keepdims=True)
    vector = np.full(34, 1 / 34)
    for _ in range(500):
        vector = 0.85 * vector @ transition + 0.15 / 34
    np.testing.assert_allclose(ranks["pagerank"], vector, rtol=1e-8)
    assert ranks["pagerank"].sum() == pytest.approx(1.0)


def test_directed_pagerank_handles_dangling_vertices():
    links = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "d"]})
    expected = nx.pagerank(nx.DiGraph(list(zip(links["source"], links["target"], strict=True))))
    np.testing.assert_allclose(pagerank(links, **COLUMNS)["pagerank"], [expected[v] for v in "abcd"], rtol=1e-6)


def test_connected_components_match_networkx():
    graph = nx.disjoint_union_all([nx.path_graph(4), nx.cycle_graph(3), nx.complete_graph(5)])
    links = pd.DataFrame(list(graph.edges()), columns=["source", "target"])
    table = connected_components(links, **COLUMNS)
    assert table["component"].nunique() == nx.number_connected_components(graph)
    for part in nx.connected_components(graph):
        assert table.loc[table["vertex"].isin(part), "component"].nunique() == 1
        assert (table.loc[table["vertex"].isin(part), "component_size"] == len(part)).all()
    directed = pd.DataFrame({"source": [1, 2, 3, 3], "target": [2, 1, 4, 3]})
    strong = connected_components(directed, **COLUMNS, directed=True)
    assert strong["component"].tolist() == [0, 0, 1, 2]


def test_k_core_matches_networkx(karate, edges):
    result = k_core(edges, **COLUMNS, k=4)
    cores = nx.core_number(karate)
    assert by_vertex(result.vertices, "core_number") == cores
    expected = nx.k_core(karate, k=4)
    assert {tuple(sorted(pair)) for pair in zip(result.edges["source"], result.edges["target"], strict=True)} == {tuple(sorted(edge)) for edge in expected.edges()}


def test_shortest_paths_match_networkx_dijkstra(karate, edges):
    table = shortest_paths(edges, **COLUMNS, weight_column="weight", source="33")
    distances = nx.single_source_dijkstra_path_length(karate, 33, weight="weight")
    assert by_vertex(table, "distance") == pytest.approx(distances)
    for vertex, previous in by_vertex(table, "predecessor").items():
        if previous is not None:
            assert distances[previous] + karate[previous][vertex]["weight"] == pytest.approx(distances[vertex])
    hops = shortest_paths(edges, **COLUMNS, source="0")
    assert by_vertex(hops, "hops") == nx.single_source_shortest_path_length(karate, 0)
    apart = shortest_paths(pd.DataFrame({"source": [1, 3], "target": [2, 4]}), **COLUMNS, source="1")
    assert apart["distance"].isna().tolist() == [False, False, True, True]


def test_triangles_and_clustering_match_networkx(karate, edges):
    assert by_vertex(triangle_count(edges, **COLUMNS), "triangles") == nx.triangles(karate)
    result = clustering_coefficient(edges, **COLUMNS)
    assert by_vertex(result.vertices, "clustering") == pytest.approx(nx.clustering(karate))
    assert result.metrics["average_clustering"] == pytest.approx(nx.average_clustering(karate))
    assert result.metrics["transitivity"] == pytest.approx(nx.transitivity(karate))
    assert result.metrics["triangles"] == sum(nx.triangles(karate).values()) // 3
    weighted = clustering_coefficient(edges, **COLUMNS, weight_column="weight")
    assert by_vertex(weighted.vertices, "clustering") == pytest.approx(nx.clustering(karate, weight="weight"))


def test_edge_clustering_follows_its_formula(karate, edges):
    table = edge_clustering_coefficient(edges, **COLUMNS)
    assert len(table) == karate.number_of_edges()
    for row in table.itertuples():
        shared = len(list(nx.common_neighbors(karate, row.source, row.target)))
        possible = min(karate.degree(row.source), karate.degree(row.target)) - 1
        assert row.triangles == shared
        assert row.clustering == pytest.approx(shared / possible if possible else 0.0)
    assert table["triangles"].sum() == sum(nx.triangles(karate).values())  # each triangle has 3 edges


def test_tree_depth_matches_breadth_first_levels():
    tree = nx.balanced_tree(2, 4, create_using=nx.DiGraph)
    links = pd.DataFrame(list(tree.edges()), columns=["source", "target"])
    table = tree_depth(links, **COLUMNS, require_forest=True)
    assert by_vertex(table, "depth") == nx.single_source_shortest_path_length(tree, 0)
    assert set(table["root"]) == {0}
    assert by_vertex(table, "parent") == {0: None, **{child: parent for parent, child in tree.edges()}}
    cyclic = pd.DataFrame({"source": [1, 2, 3, 4], "target": [2, 1, 5, 5]})
    loose = tree_depth(cyclic, **COLUMNS)
    assert loose["depth"].isna().tolist() == [True, True, False, False, False]
    with pytest.raises(DataError, match="vertex 5 has 2 parents"):
        tree_depth(cyclic, **COLUMNS, require_forest=True)


def test_louvain_and_modularity_match_networkx(karate, edges):
    result = louvain(edges, **COLUMNS, weight_column="weight", seed=3)
    expected = nx.community.louvain_communities(karate, weight="weight", seed=3)
    found = [set(part) for _, part in result.communities.groupby("community")["vertex"]]
    assert sorted(map(sorted, [group for _, group in result.communities.groupby("community")["vertex"]])) == sorted(map(sorted, expected))
    assert len(found) == result.metrics["communities"]
    assert result.metrics["modularity"] == pytest.approx(nx.community.modularity(karate, expected, weight="weight"))
    measured = modularity(edges, result.communities, **COLUMNS, weight_column="weight")
    assert measured["modularity"] == pytest.approx(result.metrics["modularity"])
    coverage, performance = nx.community.partition_quality(karate, expected)
    assert measured["coverage"] == pytest.approx(coverage) and measured["performance"] == pytest.approx(performance)
    partial = modularity(edges, result.communities[result.communities["vertex"] != 0], **COLUMNS)
    assert partial["unassigned_vertices"] == 1


def test_label_propagation_matches_networkx(karate, edges):
    table = label_propagation(edges, **COLUMNS)
    expected = nx.community.label_propagation_communities(karate)
    assert sorted(map(sorted, [group for _, group in table.groupby("community")["vertex"]])) == sorted(map(sorted, expected))
    shuffled = label_propagation(edges.sample(frac=1, random_state=0), **COLUMNS)
    pd.testing.assert_frame_equal(shuffled, table)  # the row order of the edges does not matter
    first = label_propagation(edges, **COLUMNS, method="asynchronous", seed=4)
    assert first.equals(label_propagation(edges, **COLUMNS, method="asynchronous", seed=4))


@pytest.mark.parametrize("measure", ["betweenness", "closeness", "eigenvector", "degree"])
def test_centrality_matches_networkx(karate, edges, measure):
    table = centrality(edges, **COLUMNS, measure=measure)
    expected = {
        "betweenness": nx.betweenness_centrality,
        "closeness": nx.closeness_centrality,
        "eigenvector": nx.eigenvector_centrality_numpy,
        "degree": nx.degree_centrality,
    }[measure](karate if measure != "eigenvector" else nx.Graph(karate.edges()))
    assert by_vertex(table, "centrality") == pytest.approx(expected, abs=1e-9)


def test_degree_adds_repeated_edges(karate, edges):
    table = degree(edges, **COLUMNS, weight_column="weight")
    assert by_vertex(table, "degree") == dict(karate.degree())
    assert by_vertex(table, "weighted_degree") == pytest.approx(dict(karate.degree(weight="weight")))
    doubled = degree(pd.DataFrame({"source": [1, 1, 2], "target": [2, 2, 1], "w": [1.0, 2.0, 3.0]}), **COLUMNS, weight_column="w")
    assert doubled["weighted_degree"].tolist() == [6.0, 6.0]


def test_errors_name_the_problem(edges):
    with pytest.raises(DataError, match="empty"):
        pagerank(edges.iloc[0:0], **COLUMNS)
    broken = edges.copy()
    broken.loc[2, "target"] = np.nan
    with pytest.raises(DataError, match="column 'target' has 1 missing value.*row 2"):
        triangle_count(broken, **COLUMNS)
    with pytest.raises(DataError, match="must be numeric"):
        louvain(edges.assign(weight="heavy"), **COLUMNS, weight_column="weight")
    with pytest.raises(DataError, match="non-negative"):
        shortest_paths(edges.assign(weight=-1.0), **COLUMNS, weight_column="weight", source="0")
    with pytest.raises(DataError, match="parameter 'source': vertex '99'"):
        shortest_paths(edges, **COLUMNS, source="99")
    with pytest.raises(DataError, match="'from' not found"):
        tidal.get_component("graph.pagerank").execute({"edges": edges}, {"source_column": "from", "target_column": "target"})
    with pytest.raises(DataError, match="more than one community"):
        modularity(edges, pd.DataFrame({"vertex": [0, 0], "community": [1, 2]}), **COLUMNS)


def test_example_pipeline_runs(tmp_path, karate):
    shutil.copytree(EXAMPLES / "data", tmp_path / "examples" / "data")
    shutil.copy(EXAMPLES / "graph.yaml", tmp_path / "examples")
    result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "graph.yaml"), workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    assert result.output("louvain_modularity")["modularity"] == pytest.approx(result.output("louvain", "metrics")["modularity"])
    ranks = result.output("pagerank").to_pandas()
    assert ranks.sort_values("pagerank")["vertex"].iloc[-1] in (0, 33)
    assert len(result.output("from_instructor").to_pandas()) == karate.number_of_nodes()
