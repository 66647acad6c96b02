"""Stream jobs (``GET /api/streams``): the workspace's jobs with their state, throughput, lag and model metric.

Read from the job folders as ``tidal stream list`` reads them (:func:`tidal.stream.list_jobs`); the
Studio starts and stops nothing here (a job runs as ``tidal stream run``, a long-lived process).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from tidal.stream import list_jobs
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ErrorBody

router = APIRouter(prefix="/api", tags=["streams"])
Context = Annotated[StudioContext, Depends(context)]


class SnapshotDecision(BaseModel):
    index: int | None = None
    accepted: bool | None = None
    metric: str | None = None
    value: float | None = None
    reason: str | None = None


class StreamModelOut(BaseModel):
    proposed: int = Field(description="snapshots proposed to the quality gate")
    accepted: int = Field(description="snapshots accepted (model packages written)")
    metric: str | None = Field(None, description="the gate's metric: log_loss or auc")
    value: float | None = Field(None, description="the metric of the last accepted snapshot, on its holdout window")
    snapshot: int | None = Field(None, description="the last accepted snapshot's number")
    version: int | None = Field(None, description="its version in the registry, once registered")
    last: SnapshotDecision | None = Field(None, description="the last decision, accepted or not")


class StreamJobOut(BaseModel):
    job: str
    state: str = Field(description="running, stopped, failed, never run, or dead (its process is gone)")
    epoch: int = 0
    rows: int = 0
    outputs: int = 0
    dead_letters: int = 0
    rows_per_second: float | None = None
    lag: int | None = Field(None, description="messages (Kafka) or bytes (files) not read yet, at the last progress report")
    schema_changes: list[str] = Field(default_factory=list)
    updated: float | None = Field(None, description="when the job last wrote its status (seconds since the epoch)")
    registered_model: str | None = Field(None, description="the registered model its accepted snapshots become versions of")
    model: StreamModelOut | None = None


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _job_out(status: dict[str, Any]) -> StreamJobOut:
    model = status.get("model")
    last = model.get("last") if isinstance(model, dict) else None
    return StreamJobOut(
        job=str(status.get("job")), state=str(status.get("state")),
        epoch=int(_number(status.get("epoch")) or 0), rows=int(_number(status.get("rows")) or 0),
        outputs=int(_number(status.get("outputs")) or 0), dead_letters=int(_number(status.get("dead_letters")) or 0),
        rows_per_second=_number(status.get("rows_per_second")), lag=_number(status.get("lag")),
        schema_changes=[str(item) for item in status.get("schema_changes") or [] if isinstance(item, str)][-10:],
        updated=_number(status.get("updated")),
        registered_model=status.get("registered_model") if isinstance(status.get("registered_model"), str) else None,
        model=None if not isinstance(model, dict) else StreamModelOut(
            proposed=int(model.get("proposed", 0)), accepted=int(model.get("accepted", 0)),
            metric=model.get("metric") if isinstance(model.get("metric"), str) else None,
            value=_number(model.get("value")), snapshot=_number(model.get("snapshot")), version=_number(model.get("version")),
            last=SnapshotDecision(**{key: value for key, value in last.items() if value is not None}) if isinstance(last, dict) else None),
    )


@router.get("/streams", response_model=list[StreamJobOut], responses={401: {"model": ErrorBody}})
def streams(studio: Context) -> list[StreamJobOut]:
    """The workspace's stream jobs (``.tidal/streams/``) with their status, as ``tidal stream list`` shows them."""
    return [_job_out(status) for status in list_jobs(studio.root)]
