"""``tidal studio [FOLDER]``: the drag-and-drop web app over a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console
from tidal.cli._runs import AddressOption, ExecutorOption


@app.command()
def studio(
    folder: Annotated[Path | None, typer.Argument(help="the project folder: its workspace is the nearest folder holding "
                                                       ".tidal/ at or above it, else a new one there "
                                                       "(default: found from the current folder)")] = None,
    host: Annotated[str, typer.Option("--host", help="address to bind; any non-loopback address requires a token")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8765,
    token: Annotated[str | None, typer.Option("--token", envvar="TIDAL_STUDIO_TOKEN",
                                              help="access token (generated when binding beyond loopback)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="worker processes per run")] = None,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="let pipelines run Python code written in them (tools.python_script): "
                                                                   "anyone who can reach the Studio can then run code as you")] = False,
    allow_install: Annotated[bool, typer.Option("--allow-install", help="let the Studio install plug-in packages from the market index "
                                                                         "(TIDAL_MARKET_INDEX): their code then runs as you")] = False,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Open the Studio: build pipelines by drag and drop, run them, inspect outputs (in FOLDER's workspace)."""
    import socket

    from tidal.core._errors import TidalError
    from tidal.runtime._run import check_executor_choice
    from tidal.studio import serve

    check_executor_choice(executor or "local", workers, address)  # before the port is taken

    if folder is not None and not folder.is_dir():
        raise TidalError(f"{folder} is not a folder; give the project folder to open (or nothing, for the current one)")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise TidalError(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port or --host") from None
    # serve() announces the workspace itself, with the URL
    serve(host, port, workspace=settings.workspace(folder, chosen=workspace, announce=False), token=token, workers=workers,
          allow_code=allow_code, allow_install=allow_install, executor=executor or "local", address=address, announce=lambda text: console.print(text, highlight=False, soft_wrap=True))
