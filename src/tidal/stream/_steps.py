"""The step kinds a stream job may use, by component id: ``stream.select`` ... ``stream.learn_ftrl``.

Each entry builds an operator from a step's parameters. The components of the same ids
(``tidal.components.stream_jobs``) run these operators over a table as a one-batch stream, so a
step behaves in a job as its component does in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tidal.core._errors import DataError
from tidal.stream import _operators as ops
from tidal.stream._join_stream import JoinStream
from tidal.stream._learn_step import LearnFTRL


def _join(where: str, workspace: Path, params: dict[str, Any]) -> ops.Operator:
    from tidal.stream._job_spec import inside

    params = dict(params)
    table = inside(workspace, params.pop("table", None), f"{where}: parameter 'table'")
    return ops.JoinTable.from_file(where, table, **params)


def _tumbling(where: str, workspace: Path, params: dict[str, Any]) -> ops.Operator:
    if "slide" in params:
        raise DataError(f"{where}: a tumbling window has no 'slide'; use stream.window_sliding")
    return ops.Window(where, **params)


def _sliding(where: str, workspace: Path, params: dict[str, Any]) -> ops.Operator:
    if "slide" not in params:
        raise DataError(f"{where}: a sliding window needs 'slide' (how far each window starts after the previous one)")
    return ops.Window(where, **params)


def _learn(where: str, workspace: Path, params: dict[str, Any]) -> ops.Operator:
    params = dict(params)
    reference = params.pop("warm_start", None)
    start = None if reference is None else warm_start_package(where, workspace, reference)
    return LearnFTRL(where, **params, warm_start=start)


def warm_start_package(where: str, workspace: Path, reference: Any) -> Any:
    """The model a learner step starts from: ``models:/NAME/VERSION`` (or ``@ALIAS``) in the workspace's registry,
    or a package folder or archive inside the workspace."""
    from tidal.core._errors import TidalError
    from tidal.models import ModelPackage

    if isinstance(reference, str) and reference.startswith("models:/"):
        from tidal.models import ModelRegistry
        from tidal.store import Workspace

        store = Workspace.open(workspace)
        try:
            return ModelRegistry(store).load(reference)
        except TidalError as error:
            raise DataError(f"{where}: parameter 'warm_start' {reference}: {error}") from None
        finally:
            store.close()
    from tidal.stream._job_spec import inside

    path = inside(workspace, reference, f"{where}: parameter 'warm_start'")
    if not path.exists():
        raise DataError(f"{where}: parameter 'warm_start': no model package at {reference!r}; give models:/NAME/VERSION "
                        "or a package path inside the workspace")
    try:
        return ModelPackage.load(path)
    except TidalError as error:
        raise DataError(f"{where}: parameter 'warm_start' {reference!r}: {error}") from None


STEPS: dict[str, Callable[[str, Path, dict[str, Any]], ops.Operator]] = {
    "stream.select": lambda where, _w, p: ops.select(where, **p),
    "stream.filter": lambda where, _w, p: ops.filter_rows(where, **p),
    "stream.map": lambda where, _w, p: ops.map_columns(where, **p),
    "stream.window_tumbling": _tumbling,
    "stream.window_sliding": _sliding,
    "stream.window_session": lambda where, _w, p: ops.SessionWindow(where, **p),
    "stream.deduplicate": lambda where, _w, p: ops.Deduplicate(where, **p),
    "stream.join_table": _join,
    "stream.join_stream": lambda where, _w, p: JoinStream(where, **p),
    "stream.learn_ftrl": _learn,
}


def build(component: str, params: dict[str, Any], *, where: str, workspace: Path) -> ops.Operator:
    factory = STEPS.get(component)
    if factory is None:
        raise DataError(f"{where}: unknown stream step {component!r}; known: {', '.join(sorted(STEPS))}")
    try:
        return factory(where, workspace, params)
    except TypeError as error:
        raise DataError(f"{where}: bad parameters for {component}: {error}") from None
