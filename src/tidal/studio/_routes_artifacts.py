"""Outputs of runs: table pages with column statistics, metrics with their charts, figures, model summaries."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tidal.core._errors import TidalError
from tidal.runtime._values import preview
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ArtifactPreview, ColumnOut, ColumnStats, ErrorBody, TableStats
from tidal.studio._stats import column_stats

router = APIRouter(prefix="/api/artifacts", tags=["artifacts"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.get("/{artifact_id}", response_model=ArtifactPreview, responses=ERRORS)
def show_artifact(
    artifact_id: int,
    ctx: Context,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ArtifactPreview:
    """One output: a page of a table, metrics and their Vega-Lite figures, a figure, or a model summary."""
    record = ctx.workspace.metadata.artifact(artifact_id)
    path = ctx.artifact_path(record.uri)
    view: dict[str, Any] = preview(path, record.type, rows=limit, offset=offset)
    base: dict[str, Any] = {"id": artifact_id, "run_id": record.run_id, "node_id": record.node_id, "port": record.port, "type": record.type}
    if record.type == "Table":
        return ArtifactPreview(**base, rows=view["rows"], offset=offset, limit=limit,
                               columns=[ColumnOut(**column) for column in view["columns"]], data=view["data"])
    if record.type == "Metrics":
        return ArtifactPreview(**base, metrics=view.get("metrics") or {}, figures=view.get("figures") or {},
                               tables=view.get("tables") or {})
    if record.type == "Figure":
        return ArtifactPreview(**base, spec=view["spec"])
    if record.type == "Model":
        return ArtifactPreview(**base, summary=json.loads(json.dumps(view["summary"], default=str)))
    raise TidalError(f"artifact {artifact_id} has an unknown type {record.type}")


@router.get("/{artifact_id}/stats", response_model=TableStats, responses=ERRORS)
def table_stats(artifact_id: int, ctx: Context) -> TableStats:
    """Per-column count, nulls, distinct, min, max and mean of a table output (DuckDB over its Parquet file)."""
    record = ctx.workspace.metadata.artifact(artifact_id)
    if record.type != "Table":
        raise TidalError(f"artifact {artifact_id} is a {record.type}; statistics are for tables")
    rows, found = column_stats(ctx.artifact_path(record.uri))
    return TableStats(id=artifact_id, rows=rows, columns=[ColumnStats(**item) for item in found])
