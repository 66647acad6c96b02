"""The model registry: models with their versions (lineage, signature, metrics), register a run's model, aliases, tags.

Read and written through :class:`tidal.models.ModelRegistry`, as ``tidal models list|show|register|alias|tag`` do.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tidal.core._errors import TidalError
from tidal.models import ModelRegistry
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ErrorBody
from tidal.studio._models_page import (
    check_run_and_node,
    finite,
    model_candidates,
    model_detail,
    version_detail,
)

router = APIRouter(prefix="/api", tags=["models"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                                              409: {"model": ErrorBody}, 413: {"model": ErrorBody},
                                              422: {"model": ErrorBody}}
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
TagValue = Annotated[str, StringConstraints(max_length=1000)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=50)]


class ModelSummary(BaseModel):
    name: str
    description: str | None = None
    tags: dict[str, str]
    latest_version: int | None = None
    aliases: dict[str, int] = Field(description="alias -> the version it points at")
    created_at: str
    updated_at: str


class Signature(BaseModel):
    inputs: list[dict[str, Any]] = Field(description="the model's input columns: name and dtype")
    outputs: list[dict[str, Any]] = Field(description="prediction, and probabilities with their classes for classifiers")


class VersionOut(BaseModel):
    name: str
    version: int
    model_uri: str = Field(description="models:/NAME/VERSION")
    uri: str
    content_hash: str
    flavor: str
    task: str
    run_id: str | None = Field(None, description="the run that made this version (its lineage)")
    node_id: str | None = Field(None, description="the node of that run whose Model output this is")
    description: str | None = None
    tags: dict[str, str]
    aliases: list[str]
    created_at: str | None = None
    signature: Signature
    label: str | None = None
    classes: list[Any] | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    package_error: str | None = Field(None, description="why the package's manifest could not be read, if so")
    run_status: str | None = Field(None, description="the producing run's status; 'missing' when it was deleted")
    pipeline: str | None = None
    component: str | None = Field(None, description="the component of the producing node")
    metrics: dict[str, dict[str, Any]] = Field(description="scalar metrics of the producing run, by node")


class ModelDetail(ModelSummary):
    versions: list[VersionOut] = Field(description="newest first")


class ModelOutput(BaseModel):
    run_id: str
    pipeline: str | None = None
    node_id: str
    port: str
    component: str | None = None
    created_at: str | None = None


class RegisterModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: Annotated[str, StringConstraints(max_length=64)] = Field(description="the run (an id or a prefix of 4+)")
    node_id: Annotated[str, StringConstraints(max_length=200)] = Field(description="the node whose Model output to register")
    port: Annotated[str, StringConstraints(max_length=200)] | None = Field(None, description="its output port, when it has several Model outputs")
    name: Annotated[str, StringConstraints(max_length=200)] = Field(description="the registered model's name")
    alias: Annotated[str, StringConstraints(max_length=100)] | None = Field(None, description="point this alias at the new version")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    tags: Tags = Field(default_factory=dict)


class SetAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1, description="the version the alias points at from now on")


class AliasOut(BaseModel):
    name: str
    alias: str
    version: int | None = Field(description="the version it points at now; null once removed")
    previous: int | None = Field(description="the version it pointed at before, if any")


class TagModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: Tags = Field(default_factory=dict)
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="tag this version instead of the model")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


def checked_name(name: str) -> str:
    if not MODEL_NAME.match(name):
        shown = name[:60].encode("unicode_escape").decode() + ("..." if len(name) > 60 else "")
        raise TidalError(f"'{shown}' is not a model name: letters, digits, '_', '-' or '.', starting with a letter "
                         "or digit, at most 200; see GET /api/models")
    return name


def checked_alias(alias: str) -> str:
    if not ALIAS.match(alias) or alias.isdigit():
        shown = alias[:60].encode("unicode_escape").decode() + ("..." if len(alias) > 60 else "")
        raise TidalError(f"'{shown}' is not an alias: letters, digits, '_' or '-', starting with a letter, at most 100")
    return alias


@router.get("/models", response_model=list[ModelSummary])
def list_models(ctx: Context) -> list[ModelSummary]:
    """Registered models with their newest version and aliases, as ``tidal models list`` shows them."""
    return [ModelSummary(**model.to_dict()) for model in ModelRegistry(ctx.workspace).list_models()]


@router.get("/model-outputs", response_model=list[ModelOutput])
def list_model_outputs(ctx: Context, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[ModelOutput]:
    """The Model outputs of the newest ``limit`` runs: what ``POST /api/models`` can register."""
    return [ModelOutput(**item) for item in model_candidates(ctx.workspace, limit)]


@router.get("/models/{name}", response_model=ModelDetail, responses=ERRORS)
def show_model(name: str, ctx: Context) -> ModelDetail:
    """One model and its versions, newest first: lineage (run and node), aliases, tags, signature, the run's metrics."""
    return ModelDetail(**model_detail(ModelRegistry(ctx.workspace), checked_name(name)))


@router.post("/models", response_model=VersionOut, status_code=201, responses=ERRORS)
def register_model(body: RegisterModel, ctx: Context) -> VersionOut:
    """Register a run's node Model output as the next version of ``name`` (``tidal models register RUN NODE --name``).
    The very same package registered again under the same name gives back its existing version."""
    check_run_and_node(body.run_id, body.node_id)
    registry = ModelRegistry(ctx.workspace)
    version = registry.register_from_run(body.run_id, body.node_id, checked_name(body.name), port=body.port,
                                         alias=checked_alias(body.alias) if body.alias else None,
                                         description=body.description, tags=body.tags)
    return VersionOut(**version_detail(ctx.workspace, version))


@router.put("/models/{name}/aliases/{alias}", response_model=AliasOut, responses=ERRORS)
def set_alias(name: str, alias: str, body: SetAlias, ctx: Context) -> AliasOut:
    """Point ``alias`` at a version, moving it if it pointed elsewhere (``tidal models alias NAME ALIAS VERSION``).
    A service that serves ``models:/NAME@ALIAS`` follows: it swaps to the new version within a second."""
    registry = ModelRegistry(ctx.workspace)
    previous = registry.get_model(checked_name(name)).aliases.get(checked_alias(alias))
    registry.set_alias(name, alias, body.version)
    return AliasOut(name=name, alias=alias, version=body.version, previous=previous)


@router.delete("/models/{name}/aliases/{alias}", response_model=AliasOut, responses=ERRORS)
def delete_alias(name: str, alias: str, ctx: Context) -> AliasOut:
    """Remove an alias (``tidal models alias NAME ALIAS --delete``)."""
    registry = ModelRegistry(ctx.workspace)
    previous = registry.get_model(checked_name(name)).aliases.get(checked_alias(alias))
    registry.delete_alias(name, alias)
    return AliasOut(name=name, alias=alias, version=None, previous=previous)


@router.post("/models/{name}/tags", response_model=ModelSummary, responses=ERRORS)
def tag_model(name: str, body: TagModel, ctx: Context) -> ModelSummary:
    """Add tags (and a description) to a model or one of its versions (``tidal models tag``)."""
    registry = ModelRegistry(ctx.workspace)
    checked_name(name)
    if body.version is None:
        registry.update_model(name, description=body.description, tags=body.tags)
    else:
        registry.update_version(name, body.version, description=body.description, tags=body.tags)
    return ModelSummary(**finite(registry.get_model(name).to_dict()))
