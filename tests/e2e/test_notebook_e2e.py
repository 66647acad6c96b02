"""The example notebook in a real JupyterLab and a real marimo, driven by headless Chromium.

Each server starts once per module on loopback (a free port, a token, a temporary root folder);
the notebook is examples/notebook_demo.ipynb (marimo: examples/notebook_demo_marimo.py), as
`tidal export` wrote them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port

pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")

REPO = Path(__file__).resolve().parents[2]
TOKEN = "notebook-e2e-0123456789abcdef"
#: the widget's views, in the order the example notebook shows them
KINDS = ["pipeline", "run", "run", "table", "model", "metrics"]



def _environment(folder: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TIDAL_WORKSPACE": str(folder), "PYTHONUNBUFFERED": "1"}


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"no answer from {url}:\n{log.read_text()}")


def _start(command: list[str], folder: Path, url: str, name: str) -> subprocess.Popen[bytes]:
    log = folder / f"{name}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT, env=_environment(folder))
    try:
        _wait_http(url, process, log)
    except BaseException:
        process.kill()
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO / "examples" / "notebook_demo.ipynb", folder)
    port = free_port()
    from tidal.cli._notebook import jupyter_command

    command = [*jupyter_command(folder, port=port, token=TOKEN, browser=False),
               "--LabApp.expose_app_in_browser=True"]  # jupyter_command lets root (CI containers) start it
    process = _start(command, folder, f"http://127.0.0.1:{port}/api/status?token={TOKEN}", "jupyterlab")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


#: records every run graph's node statuses each time the page changes (the live progress)
WATCH_RUNS = """() => {
  window.__runSnapshots = [];
  const record = () => {
    for (const graph of document.querySelectorAll('[data-tidal-kind="run"] svg[data-section="graph"]')) {
      const statuses = [...graph.querySelectorAll('[data-node]')].map((node) => node.getAttribute('data-status'));
      const text = statuses.join(',');
      if (window.__runSnapshots[window.__runSnapshots.length - 1] !== text) window.__runSnapshots.push(text);
    }
  };
  new MutationObserver(record).observe(document.body, { childList: true, subtree: true });
}"""

#: runs code in the notebook's kernel and returns what it printed
IN_KERNEL = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let printed = '';
  const future = kernel.requestExecute({ code });
  future.onIOPub = (message) => { if (message.header.msg_type === 'stream') printed += message.content.text; };
  await future.done;
  return printed;
}"""


def test_jupyterlab_renders_the_widgets_shows_live_progress_and_edits_reach_the_kernel(jupyterlab, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(90_000)
    page.goto(f"{jupyterlab}/lab/tree/notebook_demo.ipynb?token={TOKEN}")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")
    page.evaluate(WATCH_RUNS)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"document.querySelectorAll('.tidal-widget').length >= {len(KINDS)}", timeout=180_000)
    page.wait_for_function("[...document.querySelectorAll('.tidal-widget')].every((w) => w.dataset.tidalKind)")
    kinds = page.eval_on_selector_all(".tidal-widget", "(nodes) => nodes.map((node) => node.dataset.tidalKind)")
    assert kinds == KINDS
    # the live run ends with every node done, and was seen part way: some nodes done, others not yet
    page.wait_for_function("""[...document.querySelectorAll('.tidal-widget')][1]
        .querySelectorAll('[data-node][data-status="succeeded"]').length === 5""")
    snapshots = [snapshot.split(",") for snapshot in page.evaluate("window.__runSnapshots")]
    partial = [s for s in snapshots if "succeeded" in s and any(status in ("queued", "running") for status in s)]
    assert partial, snapshots
    assert ["succeeded"] * 5 in snapshots
    metrics = page.locator('.tidal-widget[data-tidal-kind="metrics"]')
    assert metrics.locator("text=auc").count() >= 1 and metrics.locator('svg[data-section="chart"]').count() >= 2
    page.screenshot(path=str(artifacts_dir / "notebook-jupyterlab.png"))
    for index, kind in enumerate(KINDS):
        page.locator(".tidal-widget").nth(index).screenshot(path=str(artifacts_dir / f"notebook-jupyterlab-{index}-{kind}.png"))

    # an edit in the pipeline widget reaches the Python object in the kernel
    editor = page.locator('.tidal-widget[data-tidal-kind="pipeline"] input[name="train.C"]')
    editor.fill("0.25")
    editor.press("Tab")  # leaving the field commits it, as for a person
    page.locator(".tidal-widget .tidal-ok", has_text="train.C = 0.25").wait_for()
    assert page.evaluate(IN_KERNEL, "print(pipeline.nodes['train'].params['C'])").strip() == "0.25"
    # a value the component refuses is reported in the widget and not applied
    editor.fill("-1")
    editor.press("Tab")  # leaving the field commits it, as for a person
    page.locator(".tidal-widget .tidal-error", has_text="train.C").wait_for()
    assert page.evaluate(IN_KERNEL, "print(pipeline.nodes['train'].params['C'])").strip() == "0.25"
    page.locator('.tidal-widget[data-tidal-kind="pipeline"]').screenshot(path=str(artifacts_dir / "notebook-jupyterlab-edit.png"))


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory) -> Iterator[str]:
    pytest.importorskip("marimo")
    folder = tmp_path_factory.mktemp("marimo")
    shutil.copy(REPO / "examples" / "notebook_demo_marimo.py", folder)
    port = free_port()
    command = [sys.executable, "-m", "marimo", "run", "notebook_demo_marimo.py", "--headless", "--host", "127.0.0.1",
               "--port", str(port), "--no-token"]
    process = _start(command, folder, f"http://127.0.0.1:{port}/health", "marimo")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def test_marimo_renders_the_widgets(marimo_app, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(180_000)
    page.goto(marimo_app)
    page.locator(".tidal-widget").nth(len(KINDS) - 1).wait_for()
    kinds = [page.locator(".tidal-widget").nth(index).get_attribute("data-tidal-kind") for index in range(len(KINDS))]
    assert kinds == KINDS
    result = page.locator(".tidal-widget").nth(2)
    assert result.locator('[data-node][data-status="succeeded"]').count() == 5
    assert page.locator('.tidal-widget[data-tidal-kind="metrics"] svg[data-section="chart"]').count() >= 2
    page.screenshot(path=str(artifacts_dir / "notebook-marimo.png"), full_page=True)
    assert json.dumps(kinds)
