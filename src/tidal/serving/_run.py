"""Running the server: uvicorn on one or several worker processes, with a graceful drain.

On SIGTERM (or Ctrl-C) the server first reports not ready (``/v2/health/ready`` answers 400) and
keeps serving for ``drain_seconds`` so load balancers stop sending traffic; then it stops
accepting connections and finishes every request in flight before it exits.

With ``grpc_port`` the gRPC endpoint (:mod:`tidal.serving._grpc`) runs in the same process and
event loop: it listens before the HTTP port opens, drains with it, and stops (finishing its RPCs
in flight) before the models do. With several workers each worker process runs its own endpoint
on the same port (``SO_REUSEPORT``; the kernel spreads connections over them), after the
supervisor has checked that no other process listens there.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
from dataclasses import asdict
from types import FrameType
from typing import Any

import uvicorn

from tidal.core._errors import TidalError
from tidal.serving._follow import log_to_stderr
from tidal.serving._repository import ModelSpec
from tidal.serving._server import ModelServer, ServerOptions, with_token

CONFIG_VARIABLE = "TIDAL_SERVE_CONFIG"
DRAIN_VARIABLE = "TIDAL_SERVE_DRAIN_SECONDS"
#: the gRPC port every worker process of ``--workers N`` listens on too (set by the supervisor)
GRPC_PORT_VARIABLE = "TIDAL_SERVE_GRPC_PORT"


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first stop signal turns readiness off before shutting down.

    ``companion`` (the gRPC endpoint) starts in the server's event loop before the HTTP port opens
    and is stopped when the server has stopped (the app's shutdown normally stops it first).
    """

    def __init__(self, config: uvicorn.Config, drain_seconds: float, companion: Any = None,
                 grpc_port: int | None = None) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.companion = companion
        self.grpc_port = grpc_port  # a worker of several: its gRPC endpoint is made once its app is loaded
        self._draining = False

    async def serve(self, sockets: Any = None) -> None:
        if self.companion is None and self.grpc_port is not None:
            from tidal.serving._grpc import GrpcEndpoint

            if not self.config.loaded:
                self.config.load()
            model_server = _model_server_of(self.config)
            if model_server is None:
                raise TidalError("the worker's app has no model server to serve over gRPC")
            self.companion = GrpcEndpoint(model_server, self.config.host, self.grpc_port, reuse_port=True)
        if self.companion is None:
            await super().serve(sockets)
            return
        await self.companion.start()
        try:
            await super().serve(sockets)
        finally:
            await self.companion.stop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining:  # a second signal: stop now
            super().handle_exit(sig, frame)
            return
        self._draining = True
        model_server = _model_server_of(self.config)
        if model_server is not None:
            model_server.draining = True
        timer = threading.Timer(self.drain_seconds, self._stop_after_drain, (sig, frame))
        timer.daemon = True
        timer.start()

    def _stop_after_drain(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()  # a drained shutdown is a clean exit (status 0)


def _draining_process_class() -> type:
    from uvicorn.supervisors.multiprocess import Process

    class DrainingProcess(Process):
        """A uvicorn worker process whose server drains like :class:`DrainingServer`."""

        @property
        def server(self) -> uvicorn.Server:
            if self._server is None:
                grpc_port = os.environ.get(GRPC_PORT_VARIABLE)
                self._server = DrainingServer(self.config, float(os.environ.get(DRAIN_VARIABLE, "5")),
                                              grpc_port=int(grpc_port) if grpc_port else None)
            return self._server

    DrainingProcess.__qualname__ = DrainingProcess.__name__ = "_DrainingProcess"
    return DrainingProcess


_DrainingProcess = _draining_process_class()


def _model_server_of(config: uvicorn.Config) -> ModelServer | None:
    app = getattr(config, "loaded_app", None)
    while app is not None:
        server = getattr(app, "tidal_server", None)
        if server is not None:
            return server  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
    return None


def _pinned(spec: ModelSpec, checked: ModelServer) -> ModelSpec:
    """``models:/NAME@ALIAS`` → the version loaded here, so every worker serves the same one even if the alias moves."""
    if not spec.source.startswith("models:/") or spec.follow:  # a followed model moves in every worker on its own
        return spec
    from dataclasses import replace

    from tidal.models._registry import parse_model_uri

    reference = parse_model_uri(spec.source)
    if reference.version is not None:
        return spec
    loaded = [item for item in checked.repository.get(spec.name).versions.values() if item.source == spec.source]
    return replace(spec, source=f"models:/{reference.name}/{loaded[0].version}", version=loaded[0].version)


def app_from_environment() -> Any:
    """The factory each worker process calls: builds its server from ``TIDAL_SERVE_CONFIG``."""
    config = json.loads(os.environ[CONFIG_VARIABLE])
    options = ServerOptions(**config["options"])
    workspace = None
    if config.get("workspace"):
        from tidal.store import Workspace

        workspace = Workspace.open(config["workspace"]["root"], db=config["workspace"]["db"],
                                   artifacts=config["workspace"]["artifacts"])
    specs = [ModelSpec.from_dict(item) for item in config["models"]]
    if any(spec.follow for spec in specs):
        log_to_stderr()
    server = ModelServer(specs, options=options, workspace=workspace)
    server.app.tidal_server = server  # type: ignore[attr-defined]
    freeze_heap()
    return server.app


def freeze_heap() -> None:
    """Move everything loaded so far (libraries, models) out of the garbage collector's sight.

    Full collections then scan only objects made while serving, instead of the whole heap of
    pandas, scikit-learn and the models: no multi-millisecond pauses in the latency tail.
    """
    gc.collect()
    gc.freeze()


def serve(
    specs: list[ModelSpec],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    options: ServerOptions | None = None,
    drain_seconds: float = 5.0,
    workspace: Any = None,
    log_level: str = "warning",
    ready_message: bool = True,
    grpc_port: int | None = None,
) -> None:
    """Serve ``specs`` until SIGTERM or Ctrl-C. Models load (and are checked) before the port opens.

    ``host`` is the bind address and decides, with ``options.admin``, whether the server needs a token;
    a token that had to be generated is printed, since nobody else knows it. ``grpc_port`` also serves
    the models over gRPC (the ``grpc`` extra), on the same host, in the same process.
    """
    from dataclasses import replace

    if grpc_port is not None and grpc_port == port:
        raise TidalError(f"--grpc-port {grpc_port} is the HTTP port too: give gRPC a port of its own, e.g. {port + 1}")
    if grpc_port is not None:
        from tidal.serving import _grpc  # noqa: F401 - says which extra to install before any model loads
    options, generated = with_token(replace(options or ServerOptions(), host=host))
    if any(spec.follow for spec in specs):
        log_to_stderr()
    if generated:
        print(f"tidal: this server's token (send 'Authorization: Bearer TOKEN'; set your own with --admin-token or "
              f"TIDAL_SERVE_TOKEN): {options.token}", flush=True)
    if workers <= 1:
        server = ModelServer(specs, options=options, workspace=workspace)
        server.app.tidal_server = server  # type: ignore[attr-defined]
        config = uvicorn.Config(server.app, host=host, port=port, log_level=log_level, access_log=False,
                                timeout_graceful_shutdown=60, lifespan="on")
        companion = None
        if grpc_port is not None:
            from tidal.serving._grpc import GrpcEndpoint

            companion = GrpcEndpoint(server, host, grpc_port)
        runner = DrainingServer(config, drain_seconds, companion)
        freeze_heap()
        if ready_message:
            also = f" and grpc://{host}:{grpc_port}" if grpc_port is not None else ""
            print(f"tidal: serving {', '.join(sorted({spec.name for spec in specs}))} on http://{host}:{port}{also}", flush=True)
            for spec in specs:
                if spec.follow:
                    print(f"tidal: {spec.name} follows {spec.source} (the registry is read every "
                          f"{options.follow_interval_s:g}s; each new version is swapped in once loaded)", flush=True)
        runner.run()
        return
    # several workers: check every model once here, then each worker process loads its own copy
    checked = ModelServer(specs, options=options, workspace=workspace)
    specs = [_pinned(spec, checked) for spec in specs]
    os.environ[CONFIG_VARIABLE] = json.dumps({
        "models": [spec.to_dict() for spec in specs],
        "options": asdict(options),
        "workspace": workspace.describe() if workspace is not None else None,
    })
    from uvicorn.supervisors import Multiprocess, multiprocess

    os.environ[DRAIN_VARIABLE] = str(drain_seconds)
    os.environ.pop(GRPC_PORT_VARIABLE, None)
    if grpc_port is not None:  # every worker listens on it (SO_REUSEPORT); first make sure nobody else does
        _check_port_free(host, grpc_port)
        os.environ[GRPC_PORT_VARIABLE] = str(grpc_port)
    setattr(multiprocess, "Process", _DrainingProcess)  # noqa: B010 - every worker process runs a DrainingServer
    config = uvicorn.Config("tidal.serving._run:app_from_environment", factory=True, host=host, port=port,
                            workers=workers, log_level=log_level, access_log=False, timeout_graceful_shutdown=60)
    sock = config.bind_socket()
    if ready_message:
        also = f" and grpc://{host}:{grpc_port}" if grpc_port is not None else ""
        print(f"tidal: serving {', '.join(sorted({spec.name for spec in specs}))} on http://{host}:{port}{also} "
              f"with {workers} workers", flush=True)
    Multiprocess(config, sockets=[sock]).run()


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on: the workers' shared listening must not join a stranger's."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise TidalError(f"cannot listen for gRPC on {host}:{port} ({error.strerror}): is the port taken? "
                             "Choose another with --grpc-port") from None


__all__ = ["DrainingServer", "serve", "signal"]
