"""The Studio's FastAPI application: API routes, error handlers, access control and the built front end."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import tidal
from tidal.core._errors import CodeNotAllowed, NotFound, TidalError, ValidationFailed
from tidal.store import Workspace
from tidal.studio import (
    _routes_artifacts,
    _routes_catalog,
    _routes_models,
    _routes_networks,
    _routes_pipelines,
    _routes_plugins,
    _routes_runs,
    _routes_services,
    _routes_streams,
    _routes_studies,
)
from tidal.studio._auth import AccessMiddleware
from tidal.studio._context import StudioContext
from tidal.studio._limits import BodyLimit
from tidal.studio._networks import ImportBusy
from tidal.studio._paths import PathRefused
from tidal.studio._runs import ExecutorNotEnabled, RunManager
from tidal.studio._services import ServiceAnswer, ServiceConflict, ServiceManager
from tidal.studio._studies import StudyBusy, StudyManager

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def _error(status: int, detail: str, issues: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "issues": issues or []}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ValidationFailed)
    async def invalid(_: Request, error: ValidationFailed) -> JSONResponse:
        return _error(422, str(error), [issue.to_dict() for issue in error.issues])

    @app.exception_handler(PathRefused)
    async def refused(_: Request, error: PathRefused) -> JSONResponse:
        return _error(403, str(error))

    @app.exception_handler(CodeNotAllowed)
    async def code_refused(_: Request, error: CodeNotAllowed) -> JSONResponse:
        return _error(403, str(error))

    @app.exception_handler(ExecutorNotEnabled)
    async def executor_refused(_: Request, error: ExecutorNotEnabled) -> JSONResponse:
        return _error(403, str(error))

    @app.exception_handler(StudyBusy)
    async def busy(_: Request, error: StudyBusy) -> JSONResponse:
        return _error(409, str(error))

    @app.exception_handler(ServiceConflict)
    async def service_conflict(_: Request, error: ServiceConflict) -> JSONResponse:
        return _error(409, str(error))

    @app.exception_handler(ServiceAnswer)
    async def service_answer(_: Request, error: ServiceAnswer) -> JSONResponse:
        return _error(error.status, str(error))
    @app.exception_handler(ImportBusy)
    async def import_busy(_: Request, error: ImportBusy) -> JSONResponse:
        return _error(429, str(error))

    @app.exception_handler(NotFound)
    async def missing(_: Request, error: NotFound) -> JSONResponse:
        return _error(404, str(error))

    @app.exception_handler(TidalError)
    async def user_error(_: Request, error: TidalError) -> JSONResponse:
        return _error(400, str(error))

    @app.exception_handler(FileExistsError)
    async def exists(_: Request, error: FileExistsError) -> JSONResponse:
        return _error(409, str(error))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg')}" for item in error.errors()
        )
        return _error(422, f"the request is not valid: {problems}")

    @app.exception_handler(Exception)
    async def crash(_: Request, error: Exception) -> JSONResponse:
        log.exception("Studio request failed")
        return _error(500, f"internal error: {type(error).__name__}: {error}; see the server's log")


def create_app(
    workspace: Workspace | str | Path | None = None,
    *,
    token: str | None = None,
    allowed_hosts: set[str] | None = None,
    workers: int | None = None,
    static_dir: Path | None = None,
    allow_code: bool = False,
    allow_install: bool = False,
    executor: str = "local",
    address: str | None = None,
    loopback: bool | None = None,
) -> FastAPI:
    """The Studio app over ``workspace`` (default: the one found from the current directory, as git finds a repository).

    ``token`` set: every route needs it (``?token=``, cookie or bearer header). ``allowed_hosts``
    set: requests whose Host header is not in it are refused (DNS-rebinding protection).
    ``allow_code``: runs may include components that run code written in the pipeline
    (``tools.python_script``); off by default, such runs are refused with 403.
    ``executor``/``address``: where runs (and resumed studies) go by default, e.g. ``"ray"`` and a cluster
    address; a run request may pick that executor or local worker processes, never another cluster.
    ``allow_install``: ``POST /api/plugins/install`` may install packages from the market index
    (third-party code); off by default, it answers 403.
    ``loopback``: whether the server is bound to a loopback address (default: true when no token is
    set). The network editor imports PyTorch module files (running their code, in a worker process)
    on loopback, and elsewhere only with ``allow_code``.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    manager = RunManager(ws, workers=workers, allow_code=allow_code, executor=executor, address=address)
    studies = StudyManager(ws, manager)
    services = ServiceManager(ws)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        try:
            yield
        finally:
            services.shutdown()  # the model services this Studio started end with it
            studies.shutdown()
            manager.shutdown()

    app = FastAPI(
        title="Tidal Studio",
        version=tidal.__version__,
        description="Build, run and inspect Tidal pipelines. Every route calls Tidal's public Python API.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.studio = StudioContext(ws, manager, studies, services, auth=token is not None, allow_install=allow_install,
                                      loopback=token is None if loopback is None else loopback)
    _add_error_handlers(app)
    for module in (_routes_catalog, _routes_pipelines, _routes_runs, _routes_artifacts, _routes_plugins, _routes_streams,
                   _routes_studies, _routes_models, _routes_services, _routes_networks):
        app.include_router(module.router)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown_route(rest: str) -> JSONResponse:
        return _error(404, f"no API route /api/{rest}; see /api/docs")

    folder = static_dir or STATIC
    index = folder / "index.html"
    if (folder / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=folder / "assets"), name="assets")

    @app.get("/", include_in_schema=False, response_model=None)
    async def front_end() -> FileResponse | JSONResponse:
        if not index.exists():
            return _error(503, "the Studio's front end is not built: run `npm ci && npm run build` in web/")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_middleware(BodyLimit, prefixes=("/api/models", "/api/services"))
    app.add_middleware(AccessMiddleware, token=token, allowed_hosts=allowed_hosts)  # outermost: the token first
    return app
