"""Sub-network files: ``kind: module`` layers with ``params: {file: blocks/res.yaml}``.

A referenced file must lie inside the folder of the top spec (after resolving links; no
absolute path, no ``..``), be a regular file, and be a ``tidal-nn: 1`` network itself. Files
are read through the safe YAML loader; a file that refers back to itself (directly or through
others) is refused, and so are trees deeper than :data:`MAX_DEPTH` or larger than
:data:`MAX_FILES` files. Every problem found is reported at once, naming the layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidal.core._errors import TidalError
from tidal.core._yaml import load_yaml_file
from tidal.nn._issues import LayerIssue, NetworkError, issue
from tidal.nn._params import ParamDef

if TYPE_CHECKING:
    from tidal.nn._spec import NetworkSpec

MAX_DEPTH = 16
MAX_FILES = 256
_PATH_PARAM = ParamDef("file", "path")


def resolve_files(spec: NetworkSpec, folder: Path) -> None:
    """Load every sub-network file ``spec`` refers to (recursively) into ``spec.files``."""
    root = folder.resolve()
    cache: dict[Path, NetworkSpec] = {}
    problems: list[LayerIssue] = []
    top = (spec.source.resolve(),) if spec.source is not None else ()
    _resolve(spec, folder.resolve(), root, top, cache, problems, "")
    if problems:
        raise NetworkError(problems, subject=f"network '{spec.name}'")


def _resolve(spec: NetworkSpec, folder: Path, root: Path, stack: tuple[Path, ...],
             cache: dict[Path, NetworkSpec], problems: list[LayerIssue], prefix: str) -> None:
    from tidal.nn._spec import NetworkSpec

    graphs: list[tuple[str, Any]] = [("", spec), *spec.modules.items()]
    for module_name, network in graphs:
        for layer in network.layers:
            written = layer.params.get("file") if layer.kind == "module" else None
            if written is None or written in spec.files:
                continue
            where = f"{prefix}{module_name + '/' if module_name else ''}{layer.id}"
            refused = _PATH_PARAM.check(written)
            if refused is not None:
                problems.append(issue(f"file {refused}", layer=where, param="file", code="file"))
                continue
            target = (folder / written).resolve()
            if not target.is_relative_to(root):
                problems.append(issue(f"file '{written}' lies outside the spec's folder", layer=where, param="file",
                                      hint="sub-network files must be inside the folder of the top network file", code="file"))
                continue
            if target in stack:
                chain = " -> ".join(path.name for path in (*stack, target))
                problems.append(issue(f"file '{written}' refers back to itself ({chain})", layer=where, param="file", code="cycle"))
                continue
            if len(stack) >= MAX_DEPTH:
                problems.append(issue(f"sub-network files nest more than {MAX_DEPTH} deep", layer=where, param="file", code="file"))
                continue
            if target in cache:
                spec.files[written] = cache[target]
                continue
            if len(cache) >= MAX_FILES:
                problems.append(issue(f"more than {MAX_FILES} sub-network files", layer=where, param="file", code="file"))
                continue
            if not target.is_file():
                what = "is not a regular file" if target.exists() else "does not exist in the spec's folder"
                problems.append(issue(f"file '{written}' {what}", layer=where, param="file", code="file"))
                continue
            shown = target.relative_to(root).as_posix()
            try:
                sub = NetworkSpec.from_dict(load_yaml_file(target, source=shown), source=target)
            except NetworkError as error:
                problems.extend(issue(f"in file '{written}': {item}", layer=where, param="file", code="file") for item in error.issues)
                continue
            except TidalError as error:
                problems.append(issue(str(error), layer=where, param="file", code="file"))
                continue
            cache[target] = sub
            spec.files[written] = sub
            _resolve(sub, target.parent, root, (*stack, target), cache, problems, f"{where}/")
