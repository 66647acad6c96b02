"""The network editor's routes: layer kinds, check a spec, generated code, import a PyTorch module, network files.

Network files are the ``tidal-nn: 1`` YAML files ``nn.train`` and ``tidal nn`` read; paths are
confined to the workspace like pipeline files. Importing a module runs its code, in a worker process
(:mod:`tidal.studio._networks`), and only on a loopback Studio or one started with ``--allow-code``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from tidal.core._errors import CodeNotAllowed, TidalError
from tidal.core._yaml import YamlError, load_yaml, read_yaml_text
from tidal.nn import NetworkError, infer_shapes, load_network, to_source
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ErrorBody
from tidal.studio._networks import (
    check_spec,
    import_in_worker,
    import_timeout,
    kind_catalogue,
    spec_from_body,
)
from tidal.studio._paths import is_inside
from tidal.studio._routes_pipelines import _candidates

router = APIRouter(prefix="/api/networks", tags=["networks"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody},
}
NETWORK = Field(description="a network in the file's structure (tidal-nn: 1, name, inputs, layers, outputs, modules, layout)")
PATH = Field(None, max_length=1000, description="the workspace file it came from: kind: module layers' file params "
                                               "resolve in its folder")


class LayerKindOut(BaseModel):
    name: str
    category: str
    category_title: str
    summary: str
    inputs: list[dict[str, Any]] = Field(description="ports in order: name, optional, variadic (any number, name0, name1...)")
    outputs: list[str] = Field(description="output ports; empty when numbered_outputs (split, chunk: .0, .1, ...)")
    numbered_outputs: bool
    nested: bool = Field(description="kind: module, a block under modules: or a network file")
    torch: str | None = None
    params_schema: dict[str, Any]
    required: list[str]
    inferred: list[str] = Field(description="params shape inference fills when left out")


class NetworkBody(BaseModel):
    network: dict[str, Any] = NETWORK
    path: str | None = PATH


class NetworkCheck(BaseModel):
    ok: bool
    issues: list[dict[str, Any]] = Field(description="every problem: layer (block/layer inside a block), port, param, "
                                                     "message, hint, expected and actual shapes")
    shapes: dict[str, Any] | None = Field(description="inputs, layers (outputs, inputs, resolved params, module), outputs; "
                                                      "shapes as text such as [batch, 16]; null when the spec is malformed")


class NetworkCode(BaseModel):
    code: str
    class_name: str = Field(description="the network's class, last in the code")


class ExampleInput(BaseModel):
    shape: list[Annotated[int, Field(ge=1, le=65_536)]] = Field(min_length=1, max_length=8,
                                                               description="sizes, batch first, e.g. [2, 64]")
    dtype: Literal["float32", "int64"] = "float32"


class ImportBody(BaseModel):
    source: str = Field(min_length=1, max_length=1_000_000, description="the text of a Python file defining the module")
    class_name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100, description="built with no arguments")
    inputs: list[ExampleInput] = Field(min_length=1, max_length=16, description="one example input per forward argument")
    name: str | None = Field(None, min_length=1, max_length=200, description="the network's name (default: from the class)")
    output_names: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]] | None = Field(
        None, max_length=64, description="names for forward's results, in order (default: output, or output_0...)")
    via: Literal["auto", "fx", "export"] = "auto"
    timeout_s: float | None = Field(None, gt=0, le=600, description="stop the worker after this long (never beyond the "
                                                                    "server's limit, TIDAL_STUDIO_IMPORT_TIMEOUT, 120 s)")


class NetworkDocument(BaseModel):
    path: str | None = None
    network: dict[str, Any]
    yaml: str
    issues: list[dict[str, Any]]


class SaveNetwork(BaseModel):
    network: dict[str, Any] = NETWORK
    overwrite: bool = Field(False, description="replace an existing file")


class NetworkFile(BaseModel):
    path: str
    name: str | None = None
    layers: int | None = None
    modified: float
    error: str | None = None


def _base_dir(ctx: StudioContext, path: str | None) -> Path | None:
    return ctx.file(path).parent if path else None


def _issues(spec: Any) -> list[dict[str, Any]]:
    return [item.to_dict() for item in infer_shapes(spec, check=False).issues]


@router.get("/kinds", response_model=list[LayerKindOut])
def list_kinds() -> list[dict[str, Any]]:
    """Every layer kind, grouped by category in palette order, with its ports and its parameter JSON Schema."""
    return kind_catalogue()


@router.post("/check", response_model=NetworkCheck, responses=ERRORS)
def check(body: NetworkBody, ctx: Context) -> dict[str, Any]:
    """Shape inference over the editor's spec: every edge's shape and every problem, each on its layer. Nothing runs."""
    return check_spec(body.network, _base_dir(ctx, body.path))


@router.post("/code", response_model=NetworkCode, responses=ERRORS)
def code(body: NetworkBody, ctx: Context) -> NetworkCode:
    """The network as a readable PyTorch ``nn.Module`` file (``tidal nn code``); 422 with every problem when shapes fail."""
    spec = spec_from_body(body.network, _base_dir(ctx, body.path))
    text = to_source(spec)
    classes = re.findall(r"^class ([A-Za-z_][A-Za-z0-9_]*)\(nn\.Module\):", text, flags=re.MULTILINE)
    return NetworkCode(code=text, class_name=classes[-1])


@router.post("/import", response_model=NetworkDocument, responses={**ERRORS, 429: {"model": ErrorBody}})
def import_module(body: ImportBody, ctx: Context) -> NetworkDocument:
    """A PyTorch module's source -> a network, through torch.fx (or torch.export): the editor's "code -> canvas".

    The source runs in a worker process with a time limit, never in the Studio. Allowed on a loopback
    Studio; on any other address only when it was started with ``--allow-code`` (else 403).
    """
    if not ctx.import_allowed:
        raise CodeNotAllowed("importing a PyTorch module runs its code, and this Studio is reachable from other machines: "
                             "restart it with `tidal studio --allow-code` to allow that, or import on your own machine "
                             "with `tidal nn import FILE CLASS --trust` and open the YAML here")
    spec = import_in_worker(body.source, body.class_name, [item.model_dump() for item in body.inputs], name=body.name,
                            output_names=body.output_names, via=body.via, timeout=import_timeout(body.timeout_s))
    return NetworkDocument(network=spec.to_dict(), yaml=spec.to_yaml(), issues=_issues(spec))


def _describe(ctx: StudioContext, path: Path) -> NetworkFile | None:
    shown = path.relative_to(ctx.root).as_posix()
    if not is_inside(path, ctx.root):
        return None
    try:
        data = load_yaml(read_yaml_text(path, source=shown), source=shown)
        modified = path.stat().st_mtime
    except (YamlError, OSError):
        return None
    if not isinstance(data, dict) or "tidal-nn" not in data:
        return None
    error = None
    try:
        load_network(path)
    except TidalError as problem:
        error = str(problem)
    layers = data.get("layers")
    return NetworkFile(path=shown, name=str(data["name"]) if data.get("name") is not None else None,
                       layers=len(layers) if isinstance(layers, list) else None, modified=modified, error=error)


@router.get("", response_model=list[NetworkFile])
def list_networks(ctx: Context) -> list[NetworkFile]:
    """Network files (``tidal-nn: 1``) in the workspace, newest first; a file with problems lists them in ``error``."""
    listed = [entry for entry in (_describe(ctx, path) for path in _candidates(ctx.root)) if entry is not None]
    return sorted(listed, key=lambda item: (-item.modified, item.path))


@router.get("/{path:path}", response_model=NetworkDocument, responses=ERRORS)
def open_network(path: str, ctx: Context) -> NetworkDocument:
    """Open a network file (path relative to the workspace), with its shape problems."""
    file = ctx.file(path)
    if not file.is_file():
        raise TidalError(f"network file {path} does not exist; see GET /api/networks for the workspace's networks")
    text = read_yaml_text(file, source=path)
    spec = load_network(file)
    return NetworkDocument(path=ctx.relative(file), network=spec.to_dict(), yaml=text, issues=_issues(spec))


@router.put("/{path:path}", response_model=NetworkDocument, responses={**ERRORS, 409: {"model": ErrorBody}})
def save_network(path: str, body: SaveNetwork, ctx: Context) -> NetworkDocument:
    """Save a network file: the YAML ``nn.train`` (``path``) and ``tidal nn`` read. A spec whose shapes do not
    fit yet is saved with its problems listed; a malformed one is refused (422, every problem named)."""
    file = ctx.file(path)
    if not file.name.endswith((".yaml", ".yml")):
        raise TidalError(f"'{path}': a network file name ends in .yaml or .yml")
    if file.is_dir():
        raise TidalError(f"'{path}' is a folder; give a file name")
    if file.exists() and not body.overwrite:
        raise FileExistsError(f"'{path}' already exists; choose another name or overwrite it")
    spec = spec_from_body(body.network)
    text = spec.to_yaml()
    file.parent.mkdir(parents=True, exist_ok=True)
    scratch = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, file)  # whole or not at all
    try:
        issues = _issues(load_network(file))
    except NetworkError as error:  # sub-network files that are missing or wrong
        issues = [item.to_dict() for item in error.issues]
    return NetworkDocument(path=ctx.relative(file), network=spec.to_dict(), yaml=text, issues=issues)
