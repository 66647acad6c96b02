"""Running a pipeline: the front door, light to import.

:func:`run_pipeline` applies overrides, finds the workspace and, when the plan memo proves every
node cached (``runtime._plan_memo``), records the run without importing the engine, the
components or their libraries. Anything else goes to the engine (``runtime._engine``).
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidal.core._errors import TidalError
from tidal.pipeline._graph import Pipeline
from tidal.runtime._events import EventHandler, new_run_id
from tidal.runtime._plan_memo import try_cached_run
from tidal.runtime._preflight import parse_override
from tidal.runtime._result import RunResult
from tidal.store._workspace import Workspace

if TYPE_CHECKING:
    from tidal.runtime._executor import Executor
    from tidal.store._metadata import RunRecord


#: the executors ``run_pipeline`` knows by name
EXECUTORS = ("local", "ray", "inline")


def check_executor_choice(kind: str, workers: int | None = None, address: str | None = None) -> None:
    """Raise :class:`TidalError` for an unknown executor or options that do not go with it (before any work)."""
    if kind not in EXECUTORS:
        raise TidalError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTORS)} "
                         "(e.g. `tidal run FILE --executor ray --address HOST:6379`)")
    if address is not None and kind != "ray":
        raise TidalError(f"--address names a Ray cluster; it goes with --executor ray, not with the {kind} executor")
    if kind == "ray" and workers == 0:
        raise TidalError("--workers 0 runs nodes in this process; with --executor ray give how many nodes may be "
                         "in flight (1 or more), or leave it out for the cluster's CPU count")


def resolve_workspace(workspace: Workspace | str | Path | None, near: Path | None = None) -> Workspace:
    """The given workspace, or the one found for the pipeline file ``near`` (``store.find_workspace``)."""
    if isinstance(workspace, Workspace):
        return workspace
    return Workspace.open(workspace, near=near)


def stored_path(source: Path | None, root: Path) -> str | None:
    """The pipeline file as the run records it: relative to the workspace when inside it, so a moved workspace keeps it."""
    if source is None:
        return None
    path = source.expanduser().resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def run_options(workers: int | None, cache: bool, until: str | None, from_node: str | None, kind: str) -> dict[str, Any]:
    """What every run records of how it was asked to run (the engine adds estimates, address and models)."""
    return {"workers": workers, "cache": cache, "until": until, "from_node": from_node, "pid": os.getpid(), "executor": kind}


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def run_pipeline(
    pipeline: Pipeline | str | Path,
    *,
    workspace: Workspace | str | Path | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    address: str | None = None,
    cache: bool = True,
    overrides: list[str] | None = None,
    until: str | None = None,
    from_node: str | None = None,
    trust: bool = False,
    allow_code: bool = False,
    on_event: EventHandler | None = None,
    cancel: threading.Event | None = None,
    run_id: str | None = None,
    _resume: RunRecord | None = None,
) -> RunResult:
    """Run a pipeline; returns a :class:`RunResult` (check ``.status``; failures do not raise).

    ``until`` runs only a node and what it needs; ``from_node`` recomputes a node and everything
    downstream of it even when cached. Invalid pipelines raise :class:`ValidationFailed`.
    Setting ``cancel`` (from another thread) stops the run as Ctrl-C does; ``run_id`` chooses the
    new run's id (a server can then hand it out before the run starts).

    ``executor`` is ``"local"`` (``workers`` processes here), ``"inline"``, ``"ray"`` (Ray tasks on the
    cluster at ``address``, or ``RAY_ADDRESS``, or a Ray started here; ``workers`` then caps the nodes
    in flight) or an :class:`Executor`. Nodes' resource requests are checked against it before
    anything runs or is recorded.

    Without ``workspace``, the run goes to the workspace found for the pipeline's file, as git
    finds a repository (``tidal.store.find_workspace``). Relative file paths in parameters are read
    from the workspace's root, wherever the caller stands.

    A node whose component is tagged ``runs_user_code`` (``tools.python_script``) runs arbitrary
    code from the pipeline: the run is refused with :class:`CodeNotAllowed`, before anything runs
    or is recorded, unless ``allow_code=True``.

    A run of a pipeline whose every node is cached, with nothing changed since the run that wrote
    its plan memo, is recorded without starting a worker or importing a component (``TIDAL_PLAN_MEMO=0``
    turns that off); its record's options say ``plan_memo: true``.
    """
    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline.load(pipeline)
    ws = resolve_workspace(workspace, pipeline.source)
    if overrides:
        pipeline = copy.deepcopy(pipeline)  # the caller's pipeline object stays as it was
    for text in overrides or []:
        node, param, value = parse_override(text)
        pipeline.set_param(node, param, value)
    for target in (until, from_node):
        if target is not None and target not in pipeline.nodes:
            raise TidalError(f"there is no node '{target}' (nodes: {', '.join(pipeline.nodes)})")
    kind = executor if isinstance(executor, str) else type(executor).__name__
    if workers is None and kind != "ray":
        workers = default_workers()
    if cache and _resume is None and until is None and from_node is None and kind in ("local", "inline"):
        found = try_cached_run(pipeline, ws, allow_code=allow_code, options=run_options(workers, cache, None, None, kind), run_id=run_id or new_run_id(),
                               pipeline_path=stored_path(pipeline.source, ws.root), on_event=on_event)
        if found is not None:
            return found
    from tidal.runtime._engine import run_prepared

    return run_prepared(pipeline, ws, workers=workers, executor=executor, address=address, cache=cache, until=until,
                        from_node=from_node, trust=trust, allow_code=allow_code, on_event=on_event, cancel=cancel,
                        run_id=run_id, _resume=_resume)


def resume_run(run_id: str, *, workspace: Workspace | str | Path | None = None, **options: Any) -> RunResult:
    """Finish an interrupted, failed or cancelled run without recomputing its finished nodes."""
    ws = resolve_workspace(workspace)
    run = ws.metadata.get_run(run_id)
    if run.status == "succeeded":
        raise TidalError(f"run {run.id} already succeeded; there is nothing to resume")
    pipeline = Pipeline.from_yaml(run.pipeline_yaml, run.pipeline_path)
    saved = run.options or {}
    options.setdefault("workers", saved.get("workers"))
    options.setdefault("cache", saved.get("cache", True))
    if saved.get("executor") in ("local", "ray", "inline"):  # the executor it ran on, unless told otherwise
        options.setdefault("executor", saved["executor"])
        if options["executor"] == saved["executor"] and saved.get("address"):
            options.setdefault("address", saved["address"])
    return run_pipeline(pipeline, workspace=ws, _resume=run, **options)
