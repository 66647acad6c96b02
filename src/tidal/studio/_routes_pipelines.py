"""Pipeline files in the workspace: list, open, save, save-as, validate, export to Python."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends

from tidal.core._errors import TidalError, ValidationFailed
from tidal.core._yaml import YamlError, load_yaml, read_yaml_text
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
from tidal.studio._paths import is_inside

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


def _skipped(path: Path, shown: str, reason: str) -> PipelineFile:
    """A listed file that was not read, with the reason (the Open dialog shows it)."""
    try:
        modified = path.lstat().st_mtime
    except OSError:
        modified = 0.0
    return PipelineFile(path=shown, modified=modified, error=f"skipped: {reason}", skipped=True)


def _describe(ctx: StudioContext, path: Path) -> PipelineFile | None:
    """The list entry of one YAML file; None when it is not a Tidal pipeline (nor a file we refused)."""
    shown = path.relative_to(ctx.root).as_posix()
    if not is_inside(path, ctx.root):
        return _skipped(path, shown, "a symbolic link that leads outside the workspace; it is not read")
    try:
        text = read_yaml_text(path, source=shown)
        data = load_yaml(text, source=shown)
    except YamlError as refused:
        if refused.code == "syntax":  # some other tool's YAML (templates...): not ours to report
            return None
        return _skipped(path, shown, str(refused))
    if not isinstance(data, dict) or "tidal" not in data:
        return None
    error = None
    try:
        Pipeline.from_yaml(text, shown)
    except TidalError as problem:
        error = str(problem)
    nodes = data.get("nodes")
    try:
        modified = path.stat().st_mtime
    except OSError:  # removed since it was read
        return None
    return PipelineFile(
        path=shown,
        name=str(data.get("name")) if data.get("name") is not None else None,
        nodes=len(nodes) if isinstance(nodes, list) else None,
        modified=modified,
        error=error,
    )


@router.get("", response_model=list[PipelineFile])
def list_pipelines(ctx: Context) -> list[PipelineFile]:
    """YAML files in the workspace that are Tidal pipelines (``tidal: 1``), newest first.

    Files that cannot be read safely are listed with ``skipped: true`` and the reason in
    ``error``, never read: symbolic links leading outside the workspace, unreadable files,
    and files over the YAML limits (too large, binary, not UTF-8, too deep, alias bombs).
    """
    listed = [entry for entry in (_describe(ctx, path) for path in _candidates(ctx.root)) if entry is not None]
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
    if not file.exists():
        raise TidalError(f"pipeline file {path} does not exist")
    text = read_yaml_text(file, source=path)  # size, binary and encoding checked before parsing
    pipeline = Pipeline.from_yaml(text, path)
    return PipelineDocument(
        path=ctx.relative(file), pipeline=pipeline.to_dict(), yaml=text, issues=issues_out(validate(pipeline)),
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
