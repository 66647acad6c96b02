"""``tidal studio``: the drag-and-drop web app over the current workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from tidal.cli._app import app, settings
from tidal.cli._render import console


@app.command()
def studio(
    host: Annotated[str, typer.Option("--host", help="address to bind; any non-loopback address requires a token")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8765,
    token: Annotated[str | None, typer.Option("--token", envvar="TIDAL_STUDIO_TOKEN",
                                              help="access token (generated when binding beyond loopback)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="worker processes per run")] = None,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="let pipelines run Python code written in them (tools.python_script): "
                                                                   "anyone who can reach the Studio can then run code as you")] = False,
) -> None:
    """Open the Studio: build pipelines by drag and drop, run them, inspect outputs (the workspace is the current directory)."""
    import socket

    from tidal.core._errors import TidalError
    from tidal.studio import serve

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise TidalError(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port or --host") from None
    serve(host, port, workspace=settings.workspace(), token=token, workers=workers, allow_code=allow_code,
          announce=lambda text: console.print(text, highlight=False, soft_wrap=True))
