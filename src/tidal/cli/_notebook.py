"""``tidal notebook [FOLDER]``: JupyterLab in the workspace, with Tidal ready in its kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console
from tidal.core._errors import TidalError


def jupyter_command(root: Path, *, port: int | None, token: str | None, browser: bool) -> list[str]:
    """The JupyterLab command line: this Python (so its kernel imports this Tidal), rooted in the workspace."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1"]
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if not browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root unless told; whoever runs `tidal notebook` as root (a container, say) chose to
        command.append("--ServerApp.allow_root=True")
    return command


@app.command()
def notebook(
    folder: Annotated[Path | None, typer.Argument(help="the project folder: its workspace is the nearest folder "
                                                       "holding .tidal/ at or above it, else a new one there")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="port (default: JupyterLab's, 8888 or the next free)")] = None,
    token: Annotated[str | None, typer.Option("--token", envvar="TIDAL_NOTEBOOK_TOKEN",
                                              help="access token (default: JupyterLab makes one and prints the URL)")] = None,
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="open a browser tab")] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Open JupyterLab in the workspace: its kernels run this Python, with TIDAL_WORKSPACE set, so
    `tidal.run` and the notebook views (`import tidal.notebook`) work at once."""
    if folder is not None and not folder.is_dir():
        raise TidalError(f"{folder} is not a folder; give the project folder to open (or nothing, for the current one)")
    try:
        import anywidget  # noqa: F401
        import jupyterlab  # noqa: F401
    except ImportError as missing:
        raise TidalError(f"tidal notebook needs JupyterLab and anywidget ({missing.name} is missing): "
                         "pip install 'tidal-ml[notebook]' jupyterlab") from None
    ws = settings.workspace(folder, chosen=workspace)
    root = Path(ws.root)
    console.print(f"JupyterLab in {root} (Ctrl-C to stop); new notebooks can `import tidal.notebook as tnb`", highlight=False)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        console.print("[yellow]note:[/] running as root: JupyterLab's kernels get root's rights too", highlight=False)
    environment = {**os.environ, "TIDAL_WORKSPACE": str(root)}
    try:
        completed = subprocess.run(jupyter_command(root, port=port, token=token, browser=browser), cwd=root, env=environment)
    except KeyboardInterrupt:
        return
    if completed.returncode not in (0, 130):
        raise typer.Exit(completed.returncode)
