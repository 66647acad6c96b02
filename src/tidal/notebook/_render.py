"""The renderer the core's display seam calls: a view for each kind of object, shown as a widget
when a live front end is there, and as static HTML always (nbconvert, GitHub, no kernel)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tidal.notebook import _html
from tidal.notebook._views import pipeline_view, run_view, table_view
from tidal.notebook._views_more import (
    figure_view,
    metrics_view,
    model_view,
    network_view,
    study_view,
)

#: (module, class, view) for each kind of object; a module not imported yet holds no object to show
VIEWS: list[tuple[str, str, Callable[[Any], dict[str, Any]]]] = [
    ("tidal.pipeline._graph", "Pipeline", pipeline_view),
    ("tidal.runtime._result", "RunResult", run_view),
    ("tidal.core._ports", "Metrics", metrics_view),
    ("tidal.core._ports", "Figure", figure_view),
    ("tidal.core._ports", "LazyTable", table_view),
    ("tidal.models._package", "ModelPackage", model_view),
    ("tidal.automl._study", "Study", study_view),
    ("tidal.nn._spec", "NetworkSpec", network_view),
]


def view_of(obj: Any) -> dict[str, Any]:
    """The view of any object Tidal displays; a TypeError names what can be shown."""
    for module, name, make in VIEWS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(obj, getattr(loaded, name)):
            return make(obj)
    if _is_frame(obj):
        return table_view(obj)
    raise TypeError(f"tidal.notebook cannot show a {type(obj).__name__}: it shows pipelines, runs, tables "
                    "(pandas, pyarrow, LazyTable), Metrics, Figures, model packages, studies and network specs")


def _is_frame(obj: Any) -> bool:
    module = type(obj).__module__
    return (module.startswith("pandas") and hasattr(obj, "columns")) or module.startswith("pyarrow") and hasattr(obj, "schema")


def static_html(obj: Any) -> str:
    return _html.render(view_of(obj))


def widget_for(obj: Any, view: dict[str, Any] | None = None) -> Any:
    from tidal.notebook._widget import PipelineWidget, TidalWidget
    from tidal.pipeline import Pipeline

    if isinstance(obj, Pipeline):
        return PipelineWidget(obj)
    return TidalWidget(view=view if view is not None else view_of(obj))


def live_frontend() -> bool:
    """True in a Jupyter kernel (JupyterLab, Notebook, VS Code, nbclient), where widgets render."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


def mimebundle(obj: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """``text/plain`` and the static ``text/html`` always; the widget view on top in a live kernel.

    A front end that renders widgets shows the widget; nbconvert and GitHub show the HTML.
    """
    view = view_of(obj)
    bundle: dict[str, Any] = {"text/plain": repr(obj), "text/html": _html.render(view)}
    if live_frontend():
        widget = widget_for(obj, view)
        data = widget._repr_mimebundle_()
        data = data[0] if isinstance(data, tuple) else data
        bundle.update({key: value for key, value in data.items() if key != "text/plain"})
    return bundle


class StaticView:
    """The static HTML of a view, for front ends without widgets."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


def display_object(obj: Any) -> Any:
    """For marimo (``_display_``): the widget, or the static HTML when anywidget is missing."""
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return StaticView(static_html(obj))
    return widget_for(obj)


def show(obj: Any) -> Any:
    """A displayable for any object Tidal knows, pandas and pyarrow tables included (``tidal.notebook.show(df)``)."""
    if live_frontend() or _in_marimo():
        return widget_for(obj)
    return StaticView(static_html(obj))


def _in_marimo() -> bool:
    import sys

    if "marimo" not in sys.modules:
        return False
    import marimo

    return bool(marimo.running_in_notebook())
