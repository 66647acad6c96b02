"""The anywidget front end's Python side: one widget class that draws a view, and its editable and
live variants (a pipeline whose parameters are edited in place, a run watched while it runs)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from tidal.notebook._layout import graph_section
from tidal.notebook._views import NODE_COLUMNS, params_section, pipeline_view, run_view, table, view
from tidal.pipeline import Pipeline

#: the one ESM bundle, hand-written, no build step; shipped in the package
BUNDLE = Path(__file__).parent / "static" / "widget.js"


class TidalWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Draws a view (see :mod:`tidal.notebook._views`); works wherever anywidget does."""

    _esm = BUNDLE
    view = traitlets.Dict().tag(sync=True)
    #: set by the front end when a parameter is edited: ``{"node", "param", "value", "seq"}``
    edit = traitlets.Dict().tag(sync=True)
    #: the answer to the last edit: ``{"seq", "ok", "message"}``
    edit_result = traitlets.Dict().tag(sync=True)
    editable = traitlets.Bool(False).tag(sync=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus its current view as static HTML for nbconvert, GitHub and kernel-less viewers."""
        from tidal.notebook._html import render

        data = super()._repr_mimebundle_(**kwargs)
        bundle = data[0] if isinstance(data, tuple) else data
        if isinstance(bundle, dict):
            bundle["text/html"] = render(self.view)
        return data


class PipelineWidget(TidalWidget):
    """A pipeline's graph and parameters; an edit in the browser changes the Python ``Pipeline``."""

    def __init__(self, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(view=pipeline_view(pipeline), editable=True, **kwargs)
        self.pipeline = pipeline

    @traitlets.observe("edit")
    def _on_edit(self, change: dict[str, Any]) -> None:
        edit = change["new"] or {}
        seq = edit.get("seq")
        try:
            message = apply_edit(self.pipeline, str(edit.get("node")), str(edit.get("param")), edit.get("value"))
        except EditRejected as error:
            self.edit_result = {"seq": seq, "ok": False, "message": str(error)}
            return
        self.view = {**self.view, "sections": [params_section(self.pipeline) if section.get("type") == "params" else section
                                               for section in self.view["sections"]]}
        self.edit_result = {"seq": seq, "ok": True, "message": message}


class EditRejected(ValueError):
    """An edit the component's parameter model refuses; the message names node, parameter and why."""


def apply_edit(pipeline: Pipeline, node_id: str, name: str, value: Any) -> str:
    """Validate one parameter with the component's own model, then set it on the pipeline."""
    from tidal.core._registry import registry

    node = pipeline.nodes.get(node_id)
    if node is None:
        raise EditRejected(f"there is no node '{node_id}' in pipeline '{pipeline.name}'")
    spec = registry.find(node.component)
    if spec is not None:
        if spec.param(name) is None:
            raise EditRejected(f"{node_id}: {node.component} has no parameter '{name}' "
                               f"(it takes: {', '.join(param.name for param in spec.params) or 'none'})")
        issues = spec.param_issues({**node.params, name: value}, node=node_id)
        if issues:
            raise EditRejected("; ".join(f"{node_id}.{issue.param or name}: {issue.message}" for issue in issues))
    pipeline.set_param(node_id, name, value)
    return f"{node_id}.{name} = {value!r}"


class RunWidget(TidalWidget):
    """A run started from the notebook: node statuses while it runs, then timings, metrics and figures.

    The run goes on in a background thread, so the kernel stays free; the engine's events set the
    widget's state, which the front end redraws as it changes.
    """

    def __init__(self, pipeline: Pipeline, **options: Any) -> None:
        self.pipeline = pipeline
        self.statuses = dict.fromkeys(pipeline.nodes, "queued")
        self.result: Any = None
        self.error: BaseException | None = None
        self.run_id: str | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        super().__init__(view=self._live_view("starting"))
        self._thread = threading.Thread(target=self._work, args=(options,), name="tidal-notebook-run", daemon=True)
        self._thread.start()

    def _live_view(self, status: str) -> dict[str, Any]:
        rows = [[node_id, self.pipeline.nodes[node_id].component, state, None, None, None, None]
                for node_id, state in self.statuses.items()]
        return view("run", f"Run of {self.pipeline.name}", [
            {"type": "kv", "title": "", "items": [["run", self.run_id or ""], ["status", status]]},
            graph_section(self.pipeline, self.statuses),
            table("Nodes", NODE_COLUMNS, rows),
        ])

    def _on_event(self, event: Any) -> None:
        with self._lock:
            self.run_id = event.run_id
            if event.node_id is not None:
                self.statuses[event.node_id] = "cached" if event.cached else event.status
                self.view = self._live_view("running")

    def _work(self, options: dict[str, Any]) -> None:
        from tidal.runtime import run_pipeline

        try:
            self.result = run_pipeline(self.pipeline, on_event=self._on_event, **options)
            self.view = run_view(self.result)
        except BaseException as error:  # shown in the widget; wait() raises it in the caller
            self.error = error
            self.view = self._live_view(f"failed: {type(error).__name__}: {error}")
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the run ends; returns its :class:`~tidal.RunResult` (raises what the run raised)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the run of '{self.pipeline.name}' is still going after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result
