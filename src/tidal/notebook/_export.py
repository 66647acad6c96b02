"""Pipelines as runnable notebooks: Jupyter (``.ipynb``) and marimo apps.

The code that builds the pipeline is the same as ``tidal export --to python`` writes
(:func:`tidal.pipeline._export.build_code`); the notebook adds cells that show the pipeline, run it
with live progress, and show what its Metrics and Model outputs hold.
"""

from __future__ import annotations

import json
from typing import Any

from tidal.core._errors import TidalError
from tidal.pipeline import Pipeline
from tidal.pipeline._export import build_code

#: output types worth a cell of their own after the run
SHOWN_TYPES = ("Metrics", "Model")


def _inspect_lines(pipeline: Pipeline) -> list[str]:
    """``result.output(...)`` for the outputs a reader looks at: the last table made, then every
    Metrics and Model output."""
    from tidal.core._registry import registry

    lines, last_table = [], None
    for node_id in pipeline.topological_order():
        spec = registry.find(pipeline.nodes[node_id].component)
        if spec is None:
            continue
        for port in spec.outputs:
            reference = f"{node_id!r}" if len(spec.outputs) == 1 else f"{node_id!r}, {port.name!r}"
            if port.type in SHOWN_TYPES:
                lines.append(f"result.output({reference})")
            elif port.type == "Table":
                last_table = f"result.output({reference})"
    return ([last_table] if last_table else []) + lines


def _intro(pipeline: Pipeline, kind: str) -> str:
    text = [f"# Pipeline `{pipeline.name}`", ""]
    if pipeline.description:
        text += [pipeline.description, ""]
    text += [f"Made by `tidal export --to {kind}`. The first cell builds the pipeline (the same graph as its YAML "
             "file, so the same cache); displayed, it draws the graph and lets you edit parameters in place. "
             "`tnb.run` runs it in the workspace with live progress; the cells after it show the results."]
    return "\n".join(text)


def _cells(pipeline: Pipeline) -> tuple[str, str, list[str]]:
    imports, block = build_code(pipeline)
    setup = "\n".join(["import tidal", "import tidal.notebook as tnb", *imports])
    build = "\n".join([*block, "pipeline"])
    return setup, build, _inspect_lines(pipeline)


def to_notebook(pipeline: Pipeline) -> str:
    """A Jupyter notebook (nbformat 4) that builds, shows, runs and inspects ``pipeline``."""
    try:
        import nbformat
        from nbformat import v4
    except ImportError:
        raise TidalError("writing a notebook needs nbformat: pip install 'tidal-ml[notebook]'") from None
    setup, build, inspect = _cells(pipeline)
    cells: list[Any] = [
        v4.new_markdown_cell(_intro(pipeline, "notebook")),
        v4.new_code_cell(setup),
        v4.new_code_cell(build),
        v4.new_code_cell("live = tnb.run(pipeline)\nlive"),
        v4.new_code_cell("result = live.wait()\nresult"),
        *[v4.new_code_cell(line) for line in inspect],
    ]
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return str(nbformat.writes(notebook))


def _marimo_cell(code: str, defines: list[str], uses: list[str]) -> str:
    body = "\n".join(f"    {line}" if line else "" for line in code.splitlines())
    returns = f"    return ({', '.join(defines)},)" if defines else "    return"
    return f"@app.cell\ndef _({', '.join(uses)}):\n{body}\n{returns}\n"


def to_marimo(pipeline: Pipeline) -> str:
    """A marimo app (a Python file, ``marimo edit`` / ``marimo run``) with the same cells as the notebook."""
    setup, build, inspect = _cells(pipeline)
    imports, _ = build_code(pipeline)
    aliases = [line.rsplit(" as ", 1)[-1] if " as " in line else line.split(" = ", 1)[0] for line in imports]
    intro = json.dumps(_intro(pipeline, "marimo"))
    parts = [
        'import marimo\n\napp = marimo.App(width="medium")\n',
        _marimo_cell("import marimo as mo", ["mo"], []),
        _marimo_cell(f"mo.md({intro})", [], ["mo"]),
        _marimo_cell(setup, ["tidal", "tnb", *aliases], []),
        _marimo_cell(build, ["pipeline"], ["tidal", *aliases]),
        _marimo_cell("live = tnb.run(pipeline)\nlive", ["live"], ["pipeline", "tnb"]),
        _marimo_cell("result = live.wait()\nresult", ["result"], ["live"]),
        *[_marimo_cell(line, [], ["result"]) for line in inspect],
        'if __name__ == "__main__":\n    app.run()\n',
    ]
    return "\n\n".join(parts)
