"""Pydantic models of the Studio API's requests and responses (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str
    issues: list[IssueOut] = Field(default_factory=list)


class IssueOut(BaseModel):
    code: str
    message: str
    node: str | None = None
    port: str | None = None
    param: str | None = None
    hint: str | None = None


class Info(BaseModel):
    version: str
    workspace: str
    database: str
    artifacts: str
    auth: bool
    components: int
    allow_code: bool = Field(default=False, description="runs may include components that run code from the pipeline (tidal studio --allow-code)")
    executor: str = Field(default="local", description="where runs go unless a run request picks another (tidal studio --executor)")
    executors: list[str] = Field(default_factory=lambda: ["local"], description="the executors a run request may pick")
    import_code: bool = Field(default=False, description="the network editor may import PyTorch module files, running their "
                                                         "code in a worker (on loopback, or with --allow-code)")


class PortOut(BaseModel):
    name: str
    type: str
    optional: bool = False
    help: str | None = None


class ComponentSummary(BaseModel):
    id: str
    title: str
    category: str
    category_title: str  # for people: "IO", "AutoML" (tidal.core._categories)
    summary: str
    version: str
    inputs: list[PortOut]
    outputs: list[PortOut]
    origin: str = "tidal"


class ComponentDetail(ComponentSummary):
    description: str
    tags: dict[str, Any]
    side_effects: bool
    params_schema: dict[str, Any]
    defaults: dict[str, Any]


class PipelineFile(BaseModel):
    path: str
    name: str | None = None
    nodes: int | None = None
    modified: float
    error: str | None = None
    skipped: bool = Field(default=False, description="not read (outside the workspace, unreadable or over the YAML limits); 'error' says why")


class PipelineDocument(BaseModel):
    path: str
    pipeline: dict[str, Any] = Field(description="the file as tidal.pipeline's to_dict() gives it")
    yaml: str
    issues: list[IssueOut]


class PipelineBody(BaseModel):
    pipeline: dict[str, Any] = Field(description="a pipeline in the YAML file's structure (tidal: 1, name, nodes, layout)")


class SaveBody(PipelineBody):
    overwrite: bool = Field(True, description="false for save-as: refuse to replace an existing file")


class Saved(BaseModel):
    path: str
    yaml: str
    issues: list[IssueOut]


class Validation(BaseModel):
    issues: list[IssueOut]


class PythonCode(BaseModel):
    code: str


class RunRequest(PipelineBody):
    path: str | None = Field(None, description="the pipeline file this came from, recorded with the run")
    until: str | None = Field(None, description="run only this node and what it needs")
    from_node: str | None = Field(None, description="recompute this node and everything downstream")
    cache: bool = True
    executor: Literal["local", "ray"] | None = Field(
        None, description="run on local worker processes or on the Ray cluster the Studio was started with "
                          "(one of /api/info's executors; default: its executor)")


class RunStarted(BaseModel):
    run_id: str
    nodes: list[str]


class RunSummary(BaseModel):
    id: str
    pipeline: str
    pipeline_path: str | None = None
    status: str
    created_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


class OutputOut(BaseModel):
    id: int | None
    type: str
    size_bytes: int
    meta: dict[str, Any] = Field(default_factory=dict)


class NodeRunOut(BaseModel):
    component: str
    status: str
    cached: bool
    attempts: int
    duration_s: float | None = None
    peak_memory_bytes: int | None = None
    input_rows: int | None = None
    error: str | None = None
    metrics: dict[str, Any]
    outputs: dict[str, OutputOut]


class RunDetail(RunSummary):
    nodes: dict[str, NodeRunOut]
    params: dict[str, dict[str, Any]] = Field(description="each node's parameters as the run used them")
    pipeline_yaml: str
    pipeline_data: dict[str, Any] | None = Field(None, description="the pipeline as the run used it (to_dict())")
    active: bool = Field(description="this server is running it now")


class Cancelled(BaseModel):
    run_id: str
    cancelled: bool


class NodeLog(BaseModel):
    run_id: str
    node_id: str
    status: str
    text: str


class CompareRow(BaseModel):
    key: str
    a: Any = None
    b: Any = None
    different: bool


class Comparison(BaseModel):
    a: RunSummary
    b: RunSummary
    params: list[CompareRow]
    metrics: list[CompareRow]


class ColumnOut(BaseModel):
    name: str
    type: str


class Columns(BaseModel):
    run_id: str | None
    columns: list[ColumnOut]


class ArtifactPreview(BaseModel):
    id: int
    run_id: str
    node_id: str
    port: str
    type: str
    rows: int | None = None
    offset: int = 0
    limit: int = 0
    columns: list[ColumnOut] = Field(default_factory=list)
    data: list[dict[str, Any]] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    spec: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None


class ColumnStats(BaseModel):
    name: str
    type: str
    count: int
    nulls: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None


class TableStats(BaseModel):
    id: int
    rows: int
    columns: list[ColumnStats]


ErrorBody.model_rebuild()
