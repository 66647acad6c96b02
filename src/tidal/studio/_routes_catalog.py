"""Workspace information and the component catalogue (palette and docs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

import tidal
from tidal.core import ComponentSpec, registry
from tidal.core._categories import category_title
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ComponentDetail, ComponentSummary, ErrorBody, Info, PortOut

router = APIRouter(prefix="/api", tags=["catalogue"])
Context = Annotated[StudioContext, Depends(context)]


def _summary_fields(spec: ComponentSpec) -> dict[str, object]:
    return {
        "id": spec.id,
        "title": spec.title,
        "category": spec.category,
        "category_title": category_title(spec.category),
        "summary": spec.description.split("\n\n", 1)[0].replace("\n", " ").strip(),
        "version": spec.version,
        "inputs": [PortOut(**port.to_dict()) for port in spec.inputs],
        "outputs": [PortOut(**port.to_dict()) for port in spec.outputs],
        "origin": registry.origins.get(spec.id, "tidal"),
    }


@router.get("/info", response_model=Info)
def info(ctx: Context) -> Info:
    described = ctx.workspace.describe()
    return Info(
        version=tidal.__version__,
        workspace=described["root"],
        database=ctx.workspace.db_url.split("://", 1)[0],
        artifacts=described["artifacts"],
        auth=ctx.auth,
        components=len(registry),
        allow_code=ctx.runs.allow_code,
        executor=ctx.runs.executor,
        executors=ctx.runs.executors,
        import_code=ctx.import_allowed,
    )


@router.get("/components", response_model=list[ComponentSummary])
def list_components() -> list[ComponentSummary]:
    """Every registered component (built-in and plug-ins), sorted by id."""
    return [ComponentSummary(**_summary_fields(spec)) for spec in registry.all()]  # type: ignore[arg-type]


@router.get("/components/{component_id}", response_model=ComponentDetail, responses={404: {"model": ErrorBody}})
def show_component(component_id: str) -> ComponentDetail:
    """A component's docs, ports and parameter JSON Schema (the Studio's form)."""
    spec = registry.get(component_id)
    return ComponentDetail(
        **_summary_fields(spec),  # type: ignore[arg-type]
        description=spec.description,
        tags=spec.tags,
        side_effects=spec.side_effects,
        params_schema=spec.params_schema(),
        defaults=spec.default_params(),
    )
