"""The example notebook executed by a real kernel (nbclient), then converted by nbconvert."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """examples/notebook_demo.ipynb run top to bottom in a fresh workspace, as a user would."""
    folder = tmp_path_factory.mktemp("notebook")
    shutil.copy(EXAMPLES / "notebook_demo.ipynb", folder)
    notebook = nbformat.read(folder / "notebook_demo.ipynb", as_version=4)
    source = str(Path(__file__).resolve().parents[2] / "src")
    env_path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's tidal
    try:
        # saved as JupyterLab saves by default: outputs, no widget state (a viewer without the
        # widget's kernel then falls back to each output's text/html)
        client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3", store_widget_state=False,
                                         resources={"metadata": {"path": str(folder)}})
        client.execute(env={**os.environ, "TIDAL_WORKSPACE": str(folder)})
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
    return notebook, folder


def _outputs(notebook, code: str):
    cell = next(cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip().endswith(code))
    return [output for output in cell.outputs if output.output_type in ("execute_result", "display_data")]


def test_every_cell_shows_a_widget_and_its_static_fallback(executed):
    notebook, folder = executed
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, errors
    kinds = {}
    for code in ("pipeline", "live", "result", "result.output('score')", "result.output('train')", "result.output('eval')"):
        (output,) = _outputs(notebook, code)
        assert WIDGET_VIEW in output.data, code
        html = output.data["text/html"]
        kinds[code] = html.split('data-tidal-kind="', 1)[1].split('"', 1)[0]
        assert "<script" not in html
    assert kinds == {"pipeline": "pipeline", "live": "run", "result": "run", "result.output('score')": "table",
                     "result.output('train')": "model", "result.output('eval')": "metrics"}
    (run_output,) = _outputs(notebook, "result")
    assert "succeeded" in run_output.data["text/html"] and "auc" in run_output.data["text/html"]
    assert (folder / ".tidal" / "tidal.db").exists()  # the run went to the notebook's workspace


def test_nbconvert_html_shows_the_static_views(executed):
    notebook, _ = executed
    body, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    for kind in ("pipeline", "run", "table", "model", "metrics"):
        assert f'data-tidal-kind="{kind}"' in body, kind
    assert "<svg" in body and "ROC" in body  # the graph and the evaluation's charts, drawn inline
    assert "application/vnd.jupyter.widget-state+json" not in body
