"""Pipeline files in the workspace: list, open, save, save-as, validate, export to Python."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import APIRouter, Depends

from tidal.core._errors import TidalError, ValidationFailed
from tidal.pipeline import Pipeline, save_pipeline, to_python, validate
from tidal.studio._context import StudioContext, context, issues_out, pipeline_from_body
from tidal.studio._models import (
    ErrorBody,
    PipelineBody,
    PipelineDocument,
    PipelineFile,
    PythonCode,
    SaveBody,
    Saved,
    Validation,
)

router = APIRouter(prefix="/api/pipelines", tags=["pipelines"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}
}
SKIPPED_FOLDERS = {".tidal", ".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages"}
MAX_FILES = 500


def _candidates(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS and not name.startswith("."))
        if len(Path(folder).relative_to(root).parts) >= 4:
            folders[:] = []
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                found.append(Path(folder) / name)
                if len(found) >= MAX_FILES:
                    return found
    return found


@router.get("", response_model=list[PipelineFile])
def list_pipelines(ctx: Context) -> list[PipelineFile]:
    """YAML files in the workspace that are Tidal pipelines (``tidal: 1``), newest first."""
    listed = []
    for path in _candidates(ctx.root):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(data, dict) or "tidal" not in data:
            continue
        error = None
        try:
            Pipeline.load(path)
        except TidalError as problem:
            error = str(problem)
        nodes = data.get("nodes")
        listed.append(
            PipelineFile(
                path=ctx.relative(path),
                name=str(data.get("name")) if data.get("name") is not None else None,
                nodes=len(nodes) if isinstance(nodes, list) else None,
                modified=path.stat().st_mtime,
                error=error,
            )
        )
    return sorted(listed, key=lambda item: (-item.modified, item.path))


@router.post("/validate", response_model=Validation, responses=ERRORS)
def validate_pipeline(body: PipelineBody) -> Validation:
    """Every problem, each with its node, port or parameter; nothing runs."""
    try:
        pipeline = pipeline_from_body(body.pipeline)
    except ValidationFailed as failed:
        return Validation(issues=issues_out(failed.issues))
    return Validation(issues=issues_out(validate(pipeline)))


@router.post("/python", response_model=PythonCode, responses=ERRORS)
def export_python(body: PipelineBody) -> PythonCode:
    """The pipeline as a runnable Python script (``tidal export --to python``)."""
    return PythonCode(code=to_python(pipeline_from_body(body.pipeline)))


@router.get("/{path:path}", response_model=PipelineDocument, responses=ERRORS)
def open_pipeline(path: str, ctx: Context) -> PipelineDocument:
    """Open a pipeline file (path relative to the workspace)."""
    file = ctx.file(path)
    pipeline = Pipeline.load(file)
    return PipelineDocument(
        path=ctx.relative(file), pipeline=pipeline.to_dict(), yaml=file.read_text(encoding="utf-8"),
        issues=issues_out(validate(pipeline)),
    )


@router.put("/{path:path}", response_model=Saved, responses={**ERRORS, 409: {"model": ErrorBody}})
def save(path: str, body: SaveBody, ctx: Context) -> Saved:
    """Save (or save-as with ``overwrite: false``) a pipeline file; the same YAML ``tidal run`` reads."""
    file = ctx.file(path)
    if not file.name.endswith((".yaml", ".yml")):
        raise TidalError(f"'{path}': a pipeline file name ends in .yaml or .yml")
    if file.is_dir():
        raise TidalError(f"'{path}' is a folder; give a file name")
    if file.exists() and not body.overwrite:
        raise FileExistsError(f"'{path}' already exists; choose another name or overwrite it")
    pipeline = pipeline_from_body(body.pipeline, file)
    save_pipeline(pipeline, file)
    return Saved(path=ctx.relative(file), yaml=file.read_text(encoding="utf-8"), issues=issues_out(validate(pipeline)))
