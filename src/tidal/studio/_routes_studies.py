"""AutoML studies: list, one study's trials and charts, start from a pipeline's ``automl.tune`` node, stop, resume.

Read through :mod:`tidal.automl` (``list_studies``, ``load_study``, ``Study.report``), as ``tidal
studies list|show`` reads them; started, stopped and resumed by :mod:`tidal.studio._studies`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from tidal.automl import Study, StudyStore, load_study
from tidal.core._errors import TidalError
from tidal.pipeline import check
from tidal.studio._context import StudioContext, context, pipeline_from_body
from tidal.studio._models import ErrorBody, PipelineBody
from tidal.studio._studies import summary_of

router = APIRouter(prefix="/api", tags=["studies"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
}
#: a study is named by its id, a unique prefix of it, or its name (at most 200 characters, as stored)
NAME_LIMIT = 200
#: reports computed for a study's trials as they were (parameter importance fits a forest): kept per study
_REPORTS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}


class StudySummary(BaseModel):
    id: str
    name: str
    status: str = Field(
        description="created, running, succeeded, failed, cancelled, or interrupted (its controller is gone)"
    )
    strategy: str
    metric: str
    direction: str
    budget: int
    trainer: str | None = None
    label: str | None = None
    trials: int = Field(description="trials recorded so far")
    counts: dict[str, int] = Field(description="trials by status")
    best_value: float | None = None
    best_trial: int | None = None
    created_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    run_id: str | None = Field(
        None, description="the pipeline run whose automl.tune node started (or continued) it"
    )
    node_id: str | None = Field(None, description="that automl.tune node")
    controlled: bool = Field(description="this server runs it now and can stop it")


class TrialOut(BaseModel):
    number: int
    status: str = Field(
        description="running, succeeded, failed, pruned, timeout, crashed or cancelled"
    )
    value: float | None = None
    params: dict[str, Any]
    metrics: dict[str, Any]
    meta: dict[str, Any] = Field(
        description="strategy bookkeeping: round, generation, member, parent, exploited, pruned_at, intermediate"
    )
    error: str | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None


class StudyDetail(StudySummary):
    search_space: dict[str, Any]
    options: dict[str, Any]
    best_model_uri: str | None = None
    trial_list: list[TrialOut]
    report: dict[str, Any] = Field(description="best value, counts by status, metric and direction")
    figures: dict[str, dict[str, Any]] = Field(
        description="Vega-Lite charts: best_so_far, parallel_coordinates, "
        "parameter_importance; intermediate_values (pruning) and lineage (PBT) when they apply"
    )


class StartStudy(PipelineBody):
    path: str | None = Field(
        None, description="the pipeline file this came from, recorded with the run"
    )
    node: str | None = Field(
        None, description="the automl.tune node to run; default: the pipeline's only one"
    )


class StudyStarted(BaseModel):
    run_id: str = Field(
        description="the pipeline run (up to the tune node) that holds the study; its study lists this run_id"
    )
    node: str
    nodes: list[str]


class StudyAction(BaseModel):
    id: str
    status: str
    detail: str


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null (a failed trial's value, a diverged metric)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _study(ctx: StudioContext, name: str) -> Study:
    if len(name) > NAME_LIMIT or any(ord(character) < 32 for character in name):
        shown = name[:60].encode("unicode_escape").decode() + ("..." if len(name) > 60 else "")
        raise TidalError(
            f"'{shown}' is not a study name: a study is named by its id, a unique prefix of it or its name "
            f"(at most {NAME_LIMIT} characters, no control characters); see GET /api/studies"
        )
    return load_study(name, ctx.workspace)


def _summary(ctx: StudioContext, study: Study, counts: dict[str, int]) -> dict[str, Any]:
    return _finite(summary_of(study, counts, ctx.studies.controlled(study)))  # type: ignore[no-any-return]


@router.get("/studies", response_model=list[StudySummary])
def list_studies(
    ctx: Context, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[StudySummary]:
    """The workspace's studies, newest first, as ``tidal studies list`` shows them."""
    store = StudyStore(ctx.workspace.metadata.engine)
    records = store.list_studies(limit)
    counts = store.trial_counts([record.id for record in records])
    return [
        StudySummary(**_summary(ctx, Study(ctx.workspace, record), counts[record.id]))
        for record in records
    ]


@router.get("/studies/{study}", response_model=StudyDetail, responses=ERRORS)
def show_study(study: str, ctx: Context) -> StudyDetail:
    """One study: every trial (parameters, value, status, duration, lineage) and its Vega-Lite charts."""
    found = _study(ctx, study)
    trials = found.trials()
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    key = tuple((trial.number, trial.status, trial.value) for trial in trials)
    cached = _REPORTS.get(found.id)
    if cached is None or cached[0] != key:
        metrics = found.report()
        cached = (key, {"values": dict(metrics), "figures": dict(metrics.figures)})
        if len(_REPORTS) > 64:
            _REPORTS.clear()
        _REPORTS[found.id] = cached
    record = found.record
    return StudyDetail(
        **_summary(ctx, found, counts),
        search_space=record.config.get("space") or {},
        options=record.config.get("options") or {},
        best_model_uri=record.best_model_uri,
        trial_list=[
            TrialOut(
                **_finite(
                    {
                        key: value
                        for key, value in trial.to_dict().items()
                        if key not in ("error_kind", "model_uri", "log_uri")
                    }
                )
            )
            for trial in trials
        ],
        report=_finite(cached[1]["values"]),
        figures=_finite(cached[1]["figures"]),
    )


@router.post(
    "/studies",
    response_model=StudyStarted,
    status_code=202,
    responses={**ERRORS, 422: {"model": ErrorBody}},
)
def start_study(body: StartStudy, ctx: Context) -> StudyStarted:
    """Run the pipeline up to its ``automl.tune`` node; answers at once. The study appears in ``GET /api/studies``
    (with this ``run_id``) once the node starts; the run's events are at ``/api/runs/{run_id}/events``."""
    source = ctx.file(body.path) if body.path else None
    pipeline = pipeline_from_body(body.pipeline, source)
    check(pipeline)
    active, node = ctx.studies.start(pipeline, body.node)
    return StudyStarted(run_id=active.id, node=node, nodes=active.nodes)


@router.post("/studies/{study}/stop", response_model=StudyAction, responses=ERRORS)
def stop_study(study: str, ctx: Context) -> StudyAction:
    """Stop a study this server runs: it ends as ``cancelled``, its running trials too (a resume runs them again).
    409 when the study is not running, or runs in another process (``tidal tune``)."""
    found = ctx.studies.stop(_study(ctx, study).id)
    return StudyAction(
        id=found.id, status="stopping", detail=f"study {found.id} is stopping; it ends as cancelled"
    )


@router.post(
    "/studies/{study}/resume", response_model=StudyAction, status_code=202, responses=ERRORS
)
def resume_study(study: str, ctx: Context) -> StudyAction:
    """Continue an interrupted, cancelled or failed study in this server, as ``tidal studies resume`` does;
    finished trials are kept. 400 for a study that succeeded, 409 for one running now."""
    found = ctx.studies.resume(_study(ctx, study).id)
    return StudyAction(
        id=found.id, status="running", detail=f"study {found.id} resumed; finished trials are kept"
    )
