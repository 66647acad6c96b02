"""A layered drawing of a pipeline's graph: each node in the column after its deepest parent."""

from __future__ import annotations

from typing import Any

from tidal.pipeline import Pipeline

NODE_WIDTH, NODE_HEIGHT = 150, 44
COLUMN_GAP, ROW_GAP, MARGIN = 60, 22, 12


def graph_section(pipeline: Pipeline, statuses: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``graph`` section both renderers draw: boxes at fixed positions and edges between them.

    Columns are longest-path layers (a node sits right of everything it reads); within a column,
    nodes keep the order of the barycentre of their parents, which keeps crossings few on the
    small graphs pipelines are.
    """
    try:
        order = pipeline.topological_order()
    except Exception:  # a cycle: draw the nodes as they are listed; validation reports the cycle
        order = list(pipeline.nodes)
    layer: dict[str, int] = {}
    for node_id in order:
        parents = [parent for parent in pipeline.upstream(node_id) if parent in layer]
        layer[node_id] = 1 + max((layer[parent] for parent in parents), default=-1)
    columns: dict[int, list[str]] = {}
    rows: dict[str, float] = {}
    for node_id in order:
        columns.setdefault(layer[node_id], []).append(node_id)
    listed = list(pipeline.nodes)

    def weight(node_id: str) -> tuple[float, int]:
        parents = [rows[parent] for parent in pipeline.upstream(node_id) if parent in rows]
        return (sum(parents) / len(parents) if parents else 0.0, listed.index(node_id))

    for index in sorted(columns):
        column = columns[index]

        column.sort(key=weight)
        for position, node_id in enumerate(column):
            rows[node_id] = position
    height_rows = max((len(column) for column in columns.values()), default=1)
    nodes = []
    for node_id in order:
        column = columns[layer[node_id]]
        offset = (height_rows - len(column)) * (NODE_HEIGHT + ROW_GAP) / 2  # centre short columns
        node = pipeline.nodes[node_id]
        nodes.append({
            "id": node_id,
            "component": node.component,
            "x": MARGIN + layer[node_id] * (NODE_WIDTH + COLUMN_GAP),
            "y": MARGIN + offset + rows[node_id] * (NODE_HEIGHT + ROW_GAP),
            "status": (statuses or {}).get(node_id, ""),
        })
    edges = [
        {"from": ref.node, "to": node_id, "port": port}
        for node_id, node in pipeline.nodes.items()
        for port, ref in node.inputs.items()
        if ref.node in pipeline.nodes
    ]
    return {
        "type": "graph",
        "nodes": nodes,
        "edges": edges,
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "width": 2 * MARGIN + (max(layer.values(), default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
        "height": 2 * MARGIN + height_rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP,
    }
