"""Starting the Studio server: loopback without a login, any other address with a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidal.core._hosts import LOOPBACK_NAMES, is_loopback
from tidal.studio._auth import new_token

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def studio_url(host: str, port: int, token: str | None = None) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    workspace: Any = None,
    token: str | None = None,
    workers: int | None = None,
    allow_code: bool = False,
    allow_install: bool = False,
    executor: str = "local",
    address: str | None = None,
    announce: Any = print,
    static_dir: Path | None = None,
) -> None:
    """Run the Studio until interrupted. Off loopback a token is required (generated when not given).

    ``allow_code`` lets runs started from the Studio include components that run code written in
    the pipeline (``tools.python_script``); without it such runs are refused (403). ``executor``
    and ``address`` (e.g. ``"ray"``, ``"10.0.0.5:6379"``) are where runs go by default.
    """
    import uvicorn

    from tidal.studio._app import create_app

    loopback = is_loopback(host)
    if not loopback and not token:
        token = new_token()
    allowed = {*LOOPBACK_NAMES, host} if loopback else None
    app = create_app(workspace, token=token, allowed_hosts=allowed, workers=workers, static_dir=static_dir, allow_code=allow_code,
                     allow_install=allow_install, executor=executor, address=address, loopback=loopback)
    announce(f"Tidal Studio on {studio_url(host, port, token)}")
    announce(f"  workspace {app.state.studio.workspace.root}")
    if executor != "local":
        announce(f"  runs go to the {executor} executor" + (f" at {address}" if address else "")
                 + "; a run may still choose local worker processes")
    if allow_code:
        announce("  --allow-code: pipelines may run Python code (tools.python_script) as this user; "
                 "anyone who can use this Studio can run code on this machine (pipelines, and PyTorch module imports "
                 "in the network editor)")
    if allow_install:
        announce("  --allow-install: the Studio may install plug-in packages from the market index; "
                 "their code runs as this user")
    if token:
        announce("  open the URL above once (it holds the access token); API clients send 'Authorization: Bearer TOKEN'")
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
