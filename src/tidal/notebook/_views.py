"""Objects a notebook user meets, described as views: a title and a list of sections.

A section is plain JSON (``kv``, ``table``, ``chart``, ``graph``, ``params``); the widget's
front end and the static HTML fallback draw the same sections, so what a kernel-less viewer sees
is what the live widget shows, less the interaction.
"""

from __future__ import annotations

from typing import Any

from tidal.notebook._cells import cell, figure_section
from tidal.notebook._layout import graph_section
from tidal.pipeline import Pipeline

#: rows shown in a table preview
PREVIEW_ROWS = 10
#: trials listed in a study's table (the newest; the chart shows them all)
STUDY_ROWS = 50


def kv(title: str, items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"type": "kv", "title": title, "items": [[str(key), cell(value)] for key, value in items if value not in (None, "", [], {})]}


def table(title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> dict[str, Any]:
    return {"type": "table", "title": title, "columns": [str(column) for column in columns],
            "rows": [[cell(value) for value in row] for row in rows], "note": note}


def view(kind: str, title: str, sections: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "title": title, "sections": [section for section in sections if section]}


# -- pipelines --------------------------------------------------------------------------------------
def _param_kind(schema: dict[str, Any]) -> str:
    kinds = [schema.get("type")] + [option.get("type") for option in schema.get("anyOf", []) if isinstance(option, dict)]
    for kind in ("boolean", "integer", "number", "string"):
        if kind in kinds:
            return kind
    return "json"


def params_section(pipeline: Pipeline) -> dict[str, Any]:
    """Every node's parameters (set ones and defaults), with the type the editor needs."""
    from tidal.core._registry import registry

    nodes = []
    for node in pipeline.nodes.values():
        spec = registry.find(node.component)
        rows = []
        properties = spec.params_schema().get("properties", {}) if spec is not None else {}
        names = [param.name for param in spec.params] if spec is not None else list(node.params)
        for name in names + [name for name in node.params if name not in names]:
            default = spec.param(name) if spec is not None else None
            value = node.params.get(name, None if default is None or default.required else default.default)
            rows.append({"name": name, "value": value if _jsonable(value) else str(value), "set": name in node.params,
                         "kind": _param_kind(properties.get(name, {})),
                         "help": (properties.get(name, {}).get("description") or "")})
        nodes.append({"id": node.id, "component": node.component, "params": rows})
    return {"type": "params", "nodes": nodes}


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def pipeline_view(pipeline: Pipeline) -> dict[str, Any]:
    return view("pipeline", f"Pipeline {pipeline.name}", [
        kv("", [("nodes", len(pipeline.nodes)), ("file", str(pipeline.source) if pipeline.source else None),
                ("description", pipeline.description)]),
        graph_section(pipeline),
        params_section(pipeline),
    ])


# -- runs -------------------------------------------------------------------------------------------
def node_rows(result: Any) -> list[list[Any]]:
    rows = []
    for node_id, record in result.nodes.items():
        status = "cached" if record.cached else record.status
        took = None if record.duration_s is None else round(record.duration_s, 3)
        memory = None if not record.peak_memory_bytes else f"{record.peak_memory_bytes / 2**20:.1f} MiB"
        rows.append([node_id, record.component, status, took, memory, record.input_rows, record.error])
    return rows


NODE_COLUMNS = ["node", "component", "status", "seconds", "peak memory", "input rows", "error"]


def run_view(result: Any) -> dict[str, Any]:
    """A finished (or stored) run: its graph coloured by status, timings, metrics and figures."""
    from tidal.core import Metrics

    pipeline = Pipeline.from_yaml(result.run.pipeline_yaml) if result.run.pipeline_yaml else None
    statuses = {node_id: "cached" if record.cached else record.status for node_id, record in result.nodes.items()}
    sections = [
        kv("", [("run", result.id), ("pipeline", result.run.pipeline_name), ("status", result.status),
                ("error", result.run.error)]),
        graph_section(pipeline, statuses) if pipeline is not None else {},
        table("Nodes", NODE_COLUMNS, node_rows(result)),
    ]
    scalars = [[node_id, name, value] for node_id in result.nodes for name, value in result.metrics(node_id).items()]
    if scalars:
        sections.append(table("Metrics", ["node", "metric", "value"], scalars))
    for node_id, outputs in result.artifacts.items():
        for port, record in outputs.items():
            if record.type != "Metrics":
                continue
            try:
                metrics = result.output(node_id, port)
            except Exception:  # an artifact missing from the store: the scalars above still show
                continue
            if isinstance(metrics, Metrics):
                sections.extend(figure_section(f"{node_id}: {name}", spec) for name, spec in metrics.figures.items())
    return view("run", f"Run {result.id}", sections)


# -- tables -----------------------------------------------------------------------------------------
def table_view(data: Any, title: str = "Table") -> dict[str, Any]:
    """A preview of the first rows and per-column statistics (DuckDB's SUMMARIZE, read in place)."""
    import duckdb

    from tidal.core import LazyTable

    connection = duckdb.connect()
    try:
        if isinstance(data, LazyTable):
            relation = data.relation(connection)
        else:
            frame = data if hasattr(data, "columns") else data.to_pandas()
            relation = connection.from_df(frame)
        count = int(relation.aggregate("count(*)").fetchall()[0][0])
        preview = relation.limit(PREVIEW_ROWS)
        columns = [str(name) for name in preview.columns]
        rows = [list(row) for row in preview.fetchall()]
        summary = relation.query("data", "SUMMARIZE data")
        assert summary is not None  # SUMMARIZE always returns rows
        stats_columns = ["column_name", "column_type", "min", "max", "avg", "approx_unique", "null_percentage"]
        present = [name for name in stats_columns if name in summary.columns]
        stats = [list(row) for row in summary.select(*present).fetchall()]
    finally:
        connection.close()
    labels = {"column_name": "column", "column_type": "type", "avg": "mean", "approx_unique": "distinct (approx.)",
              "null_percentage": "null %"}
    return view("table", title, [
        kv("", [("rows", count), ("columns", len(columns))]),
        table(f"First {min(PREVIEW_ROWS, count)} rows", columns, rows),
        table("Columns", [labels.get(name, name) for name in present], [_round_stats(row) for row in stats]),
    ])


def _round_stats(row: list[Any]) -> list[Any]:
    out = []
    for value in row:
        try:
            number = float(value)
            out.append(value if not isinstance(value, str) or len(value) < 14 else f"{number:.6g}")
        except (TypeError, ValueError):
            out.append(value)
    return out
