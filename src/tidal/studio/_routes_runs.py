"""Runs: start (whole, from a node, up to a node), watch live, cancel, logs, history, compare."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from tidal.core._errors import NotFound, TidalError
from tidal.pipeline import Pipeline, check
from tidal.runtime import RunResult, effective_status
from tidal.store._metadata import RunRecord
from tidal.studio._context import StudioContext, context, pipeline_from_body
from tidal.studio._models import (
    Cancelled,
    ColumnOut,
    Columns,
    CompareRow,
    Comparison,
    ErrorBody,
    NodeLog,
    NodeRunOut,
    OutputOut,
    RunDetail,
    RunRequest,
    RunStarted,
    RunSummary,
)

router = APIRouter(prefix="/api", tags=["runs"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}}


def _summary(result: RunResult) -> dict[str, Any]:
    run = result.run
    return {
        "id": run.id,
        "pipeline": run.pipeline_name,
        "pipeline_path": run.pipeline_path,
        "status": result.status,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
    }


def _params_of(run: RunRecord) -> dict[str, dict[str, Any]]:
    try:
        pipeline = Pipeline.from_yaml(run.pipeline_yaml)
    except TidalError:
        return {}
    return {node_id: dict(node.params) for node_id, node in pipeline.nodes.items()}


@router.post("/runs", response_model=RunStarted, status_code=202, responses={**ERRORS, 422: {"model": ErrorBody}})
def start_run(body: RunRequest, ctx: Context) -> RunStarted:
    """Validate, then run in the background; answers at once with the run id (watch ``/events``)."""
    source = ctx.file(body.path) if body.path else None
    pipeline = pipeline_from_body(body.pipeline, source)
    for target in (body.until, body.from_node):
        if target is not None and target not in pipeline.nodes:
            raise NotFound(f"there is no node '{target}' (nodes: {', '.join(pipeline.nodes)})")
    check(pipeline)
    active = ctx.runs.start(pipeline, until=body.until, from_node=body.from_node, cache=body.cache, executor=body.executor)
    return RunStarted(run_id=active.id, nodes=active.nodes)


@router.get("/runs", response_model=list[RunSummary])
def list_runs(ctx: Context, limit: Annotated[int, Query(ge=1, le=500)] = 50, pipeline: str | None = None) -> list[RunSummary]:
    """Run history, newest first."""
    records = ctx.workspace.metadata.list_runs(limit=limit, pipeline=pipeline)
    return [RunSummary(**_summary(RunResult(ctx.workspace, record, {}, {}))) for record in records]


@router.get("/runs/compare", response_model=Comparison, responses=ERRORS)
def compare_runs(a: str, b: str, ctx: Context) -> Comparison:
    """Two runs' parameters and metrics side by side (``node.param`` and ``node.metric`` rows)."""
    first, second = RunResult.load(ctx.workspace, a), RunResult.load(ctx.workspace, b)

    def flatten(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {f"{node}.{key}": value for node, items in values.items() for key, value in items.items()}

    def rows(left: dict[str, Any], right: dict[str, Any]) -> list[CompareRow]:
        keys = sorted(set(left) | set(right))
        return [CompareRow(key=key, a=left.get(key), b=right.get(key), different=left.get(key) != right.get(key)) for key in keys]

    metrics_a = {node: first.metrics(node) for node in first.nodes}
    metrics_b = {node: second.metrics(node) for node in second.nodes}
    return Comparison(
        a=RunSummary(**_summary(first)),
        b=RunSummary(**_summary(second)),
        params=rows(flatten(_params_of(first.run)), flatten(_params_of(second.run))),
        metrics=rows(flatten(metrics_a), flatten(metrics_b)),
    )


@router.get("/runs/{run_id}", response_model=RunDetail, responses=ERRORS)
def show_run(run_id: str, ctx: Context) -> RunDetail:
    """A run's status, each node's status, timings, metrics and outputs."""
    result = RunResult.load(ctx.workspace, run_id)
    nodes = {}
    for node_id, record in result.nodes.items():
        outputs = {
            port: OutputOut(id=item.id, type=item.type, size_bytes=item.size_bytes, meta=item.meta or {})
            for port, item in result.artifacts.get(node_id, {}).items()
        }
        nodes[node_id] = NodeRunOut(
            component=record.component, status=record.status, cached=bool(record.cached), attempts=record.attempts,
            duration_s=record.duration_s, peak_memory_bytes=record.peak_memory_bytes, input_rows=record.input_rows,
            error=record.error, metrics=result.metrics(node_id), outputs=outputs,
        )
    active = ctx.runs.get(result.id)
    try:
        pipeline: dict[str, Any] | None = Pipeline.from_yaml(result.run.pipeline_yaml).to_dict()
    except TidalError:
        pipeline = None
    return RunDetail(
        **_summary(result), nodes=nodes, params=_params_of(result.run), pipeline_yaml=result.run.pipeline_yaml, pipeline_data=pipeline,
        active=active is not None and not active.done,
    )


@router.post("/runs/{run_id}/cancel", response_model=Cancelled, responses=ERRORS)
def cancel_run(run_id: str, ctx: Context) -> Cancelled:
    """Stop a run this server started (as Ctrl-C does); ``cancelled`` is false when it had ended."""
    if ctx.runs.get(run_id) is not None:
        return Cancelled(run_id=run_id, cancelled=ctx.runs.cancel(run_id))
    run = ctx.workspace.metadata.get_run(run_id)
    return Cancelled(run_id=run.id, cancelled=False)


@router.get("/runs/{run_id}/nodes/{node_id}/log", response_model=NodeLog, responses=ERRORS)
def node_log(run_id: str, node_id: str, ctx: Context) -> NodeLog:
    """What a node printed (stdout, stderr, logging)."""
    record = ctx.workspace.metadata.node_run(ctx.workspace.metadata.get_run(run_id).id, node_id)
    text = ""
    if record.log_uri:
        path = ctx.artifact_path(record.log_uri)
        text = path.read_bytes().decode("utf-8", "replace")
    if record.error and record.error not in text:
        text = f"{text}\n{record.error}".strip()
    return NodeLog(run_id=record.run_id, node_id=node_id, status=record.status, text=text)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"description": "Server-Sent Events: one JSON RunEvent per message, then `event: end`",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **ERRORS},
)
async def run_events(
    run_id: str, ctx: Context, last_event_id: Annotated[str | None, Header()] = None
) -> StreamingResponse:
    """Live node statuses (queued, running, cached, succeeded, failed, ...) as Server-Sent Events."""
    active = ctx.runs.get(run_id)
    if active is None:
        record = ctx.workspace.metadata.get_run(run_id)
        return StreamingResponse(_watch_store(ctx, record.id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    start = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 0

    async def stream() -> AsyncIterator[str]:
        index = start
        idle = 0.0
        while True:
            events = active.since(index)
            for event in events:
                index = event["seq"] + 1
                if event["status"] == "end":
                    yield "event: end\ndata: {}\n\n"
                    return
                yield f"id: {event['seq']}\ndata: {json.dumps(event, default=str)}\n\n"
            if not events:
                await asyncio.sleep(0.1)
                idle += 0.1
                if idle >= 15:
                    idle = 0.0
                    yield ": keep-alive\n\n"
            else:
                idle = 0.0

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _watch_store(ctx: StudioContext, run_id: str) -> AsyncIterator[str]:
    """A run this server did not start (the CLI, a notebook, an earlier server): its node statuses
    from the store, followed while the run is still going, then its final status."""
    store = ctx.workspace.metadata
    seen: dict[str, tuple[str, bool]] = {}
    sequence = 0
    while True:
        record = await asyncio.to_thread(store.get_run, run_id)
        nodes = await asyncio.to_thread(store.node_runs, run_id)
        for node in nodes:
            state = (node.status, bool(node.cached))
            if seen.get(node.node_id) != state:
                seen[node.node_id] = state
                event = {"run_id": run_id, "status": node.status, "node_id": node.node_id, "cached": bool(node.cached),
                         "duration_s": node.duration_s, "error": node.error, "seq": sequence}
                sequence += 1
                yield f"id: {event['seq']}\ndata: {json.dumps(event, default=str)}\n\n"
        status = effective_status(record)
        if status != "running":
            final = {"run_id": run_id, "status": status, "node_id": None, "error": record.error, "seq": sequence}
            yield f"id: {sequence}\ndata: {json.dumps(final, default=str)}\n\n"
            yield "event: end\ndata: {}\n\n"
            return
        await asyncio.sleep(0.5)


@router.get("/columns", response_model=Columns, responses=ERRORS)
def columns(pipeline: str, node: str, ctx: Context, port: str | None = None) -> Columns:
    """The columns of a node's table output in the latest run of that pipeline that produced it."""
    for record in ctx.workspace.metadata.list_runs(limit=200, pipeline=pipeline):
        for artifact in ctx.workspace.metadata.artifacts(record.id, node):
            if artifact.type == "Table" and (port is None or artifact.port == port):
                found = (artifact.meta or {}).get("columns") or []
                return Columns(run_id=record.id, columns=[ColumnOut(name=c["name"], type=c["type"]) for c in found])
    return Columns(run_id=None, columns=[])
