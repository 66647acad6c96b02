"""Model services: deploy a registered model locally (``tidal deploy SPEC --target local`` on loopback), watch its
health and metrics, send it a test request, stop it. See :mod:`tidal.studio._services`.

The Studio sends requests only to the services it started, by name, at their loopback address.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tidal.core._errors import TidalError
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ErrorBody
from tidal.studio._routes_models import checked_alias, checked_name
from tidal.studio._services import StudioService

router = APIRouter(prefix="/api", tags=["services"])
Context = Annotated[StudioContext, Depends(context)]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody},
                                              409: {"model": ErrorBody}, 413: {"model": ErrorBody},
                                              422: {"model": ErrorBody}, 502: {"model": ErrorBody}}
Scalar = float | int | bool | str | None


class StartService(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(max_length=200)] = Field(description="the registered model to serve")
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="a pinned version")
    alias: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="an alias to follow: moving it swaps the served version (neither: follow the newest version)")
    name: Annotated[str, StringConstraints(max_length=63)] | None = Field(
        None, description="the service's name, a DNS label; default MODEL-ALIAS, MODEL-vN or MODEL-latest")


class ServiceOut(BaseModel):
    name: str
    model: str
    source: str = Field(description="what it serves: models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME")
    follows: bool = Field(description="it follows the registry (an alias or the newest version)")
    url: str = Field(description="its loopback address, on the Studio's machine")
    port: int
    pid: int
    state: str = Field(description="starting, ready, not ready, exited or stopped")
    ready: bool
    reason: str | None = None
    returncode: int | None = None
    started_at: str
    spec_path: str = Field(description="the service YAML, relative to the workspace: `tidal deploy` runs it by hand")
    spec_yaml: str
    served_versions: list[str] = Field(default_factory=list, description="the versions loaded now, when ready")
    log_tail: str | None = Field(None, description="the end of the server's output, when it is not running")


class V2Tensor(BaseModel):
    name: Annotated[str, StringConstraints(max_length=200)]
    datatype: Annotated[str, StringConstraints(max_length=16)]
    shape: list[int] = Field(max_length=8)
    data: list[Any] = Field(max_length=100_000)
    parameters: dict[str, Scalar] | None = None


class V2Request(BaseModel):
    id: Annotated[str, StringConstraints(max_length=200)] | None = None
    inputs: list[V2Tensor] = Field(min_length=1, max_length=2000)
    parameters: dict[str, Scalar] | None = None
    outputs: list[dict[str, Any]] | None = Field(None, max_length=100)


class InferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")  # nothing here names where the request goes but the service's name

    model: Annotated[str, StringConstraints(max_length=200)] | None = Field(None, description="default: the service's model")
    version: Annotated[str, StringConstraints(max_length=128)] | None = Field(None, description="a served version label")
    row: dict[Annotated[str, StringConstraints(max_length=200)], Scalar] | None = Field(
        None, max_length=10_000, description="one value per model input; made into a v2 request from its signature")
    request: V2Request | None = Field(None, description="a v2 inference request, sent as it is")


class InferOut(BaseModel):
    service: str
    model: str
    version: str | None = Field(description="the version that answered")
    status: int
    request: dict[str, Any] = Field(description="the v2 request sent")
    response: Any = Field(description="the service's v2 answer")
    latency_ms: float = Field(description="round trip from the Studio")


class VersionTraffic(BaseModel):
    model: str
    version: str
    requests: int
    errors: int
    loaded: bool


class ServiceMetrics(BaseModel):
    requests: int = Field(description="requests since the service started")
    errors: int = Field(description="of them, answers that were not 2xx")
    statuses: dict[str, int]
    latency_ms: dict[str, float | None] = Field(description="p50, p95, p99 over every request so far")
    in_flight: int
    versions: list[VersionTraffic] = Field(description="requests by model version: traffic moves when an alias moves")
    follow_target: dict[str, int] = Field(description="the version a followed alias points at, by model")
    requests_per_s: float | None = Field(description="over window_s; null at the first read")
    errors_per_s: float | None = None
    window_s: float | None = Field(description="seconds between the oldest metrics read in the last 30 s and now")
    rates: dict[str, float] = Field(description="requests per second by MODEL/VERSION over window_s")


def service_out(ctx: StudioContext, item: StudioService, log: bool = False) -> ServiceOut:
    service = item.service
    health = service.health()
    served: list[str] = []
    if health["ready"]:
        try:
            answer = service.request("GET", f"/v2/models/{quote(item.model, safe='')}", timeout=2.0)
            served = [str(version) for version in (answer.json() or {}).get("versions", [])] if answer.status == 200 else []
        except (TidalError, ValueError):  # the list still answers when one service does not
            served = []
    return ServiceOut(
        name=item.name, model=item.model, source=item.source, follows=service.spec.models[0].follow,
        url=service.url, port=service.port, pid=service.pid, state=health["state"], ready=health["ready"],
        reason=health["reason"], returncode=health["returncode"],
        started_at=dt.datetime.fromtimestamp(service.started_at, dt.UTC).isoformat(timespec="seconds"),
        spec_path=ctx.relative(service.spec_path), spec_yaml=service.spec_path.read_text(), served_versions=served,
        log_tail=service.log_tail() if log or health["state"] in ("exited", "stopped") else None,
    )


@router.get("/services", response_model=list[ServiceOut])
def list_services(ctx: Context) -> list[ServiceOut]:
    """The services this Studio started, with their health (running or not)."""
    return [service_out(ctx, item) for item in ctx.services.all_services()]


@router.post("/services", response_model=ServiceOut, status_code=202, responses=ERRORS)
def start_service(body: StartService, ctx: Context) -> ServiceOut:
    """Deploy a registered model locally: writes the service YAML to ``.tidal/services/NAME.yaml`` and runs
    ``tidal deploy`` on it (loopback, a free port); answers at once, ``state`` turns ``ready`` once its model loaded.
    404 for an unknown model, version or alias; 409 when the name is running already."""
    started = ctx.services.start(checked_name(body.model), version=body.version,
                                 alias=checked_alias(body.alias) if body.alias else None, name=body.name)
    return service_out(ctx, started)


@router.get("/services/{name}", response_model=ServiceOut, responses=ERRORS)
def show_service(name: str, ctx: Context) -> ServiceOut:
    """One service, with the end of its server's output."""
    return service_out(ctx, ctx.services.get(name), log=True)


@router.post("/services/{name}/stop", response_model=ServiceOut, responses=ERRORS)
def stop_service(name: str, ctx: Context) -> ServiceOut:
    """Stop a service (SIGTERM: it finishes the requests in flight). 409 when it is not running."""
    return service_out(ctx, ctx.services.stop(name))


@router.get("/services/{name}/metrics", response_model=ServiceMetrics, responses=ERRORS)
def service_metrics(name: str, ctx: Context) -> ServiceMetrics:
    """Its ``/metrics`` in a few numbers: requests, errors, latency p50/p95/p99, requests per second overall and by
    version (measured between this read and the oldest read in the last 30 s)."""
    return ServiceMetrics(**ctx.services.metrics(name))


@router.post("/services/{name}/infer", response_model=InferOut, responses=ERRORS)
def infer(name: str, body: InferBody, ctx: Context) -> InferOut:
    """Send one test request to the service's v2 ``infer`` route: ``row`` (one value per input; the request is
    built from the served model's signature) or ``request`` (a v2 request). The service's refusals come back with
    its status (its 5xx as 502) and its reason."""
    request = body.request.model_dump(exclude_none=True) if body.request is not None else None
    return InferOut(**ctx.services.infer(name, model=body.model, version=body.version, row=body.row, request=request))
