"""Tidal in notebooks (JupyterLab, Jupyter Notebook, VS Code, marimo): rich views of every object.

Pipelines, runs, tables, metrics and figures, model packages, AutoML studies and network specs
display themselves: as an anywidget widget where a front end renders widgets, with static HTML
(inline SVG, no script) for nbconvert, GitHub and viewers without a kernel::

    import tidal, tidal.notebook as tnb

    pipeline = tidal.load_pipeline("pipelines/demo.yaml")
    pipeline                      # the graph, drawn; edit parameters in place
    live = tnb.run(pipeline)      # statuses while it runs, then timings, metrics and figures
    result = live.wait()
    tnb.show(result.output("score").to_pandas())   # a table preview with column statistics

``tidal notebook`` opens JupyterLab in the workspace; ``tidal export FILE --to notebook`` (or
``--to marimo``) writes a runnable notebook. Widgets need the ``notebook`` extra (anywidget).
"""

from __future__ import annotations

from typing import Any

from tidal.notebook._export import to_marimo, to_notebook
from tidal.notebook._render import mimebundle, show, static_html, view_of
from tidal.pipeline import Pipeline


def run(pipeline: Pipeline | str, **options: Any) -> Any:
    """Start a run in the background and return its widget at once (``.wait()`` gives the RunResult).

    ``options`` are :func:`tidal.run`'s (``workspace``, ``workers``, ``cache``, ``until``...).
    """
    from tidal.notebook._widget import RunWidget

    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline.load(pipeline)
    return RunWidget(pipeline, **options)


__all__ = ["mimebundle", "run", "show", "static_html", "to_marimo", "to_notebook", "view_of"]
