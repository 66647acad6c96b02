"""The model server's HTTP face: Open Inference Protocol v2, a simple JSON route, metrics, admin.

Routes::

    GET  /v2                                        server metadata
    GET  /v2/health/live | /v2/health/ready         liveness; readiness (false while draining)
    GET  /v2/models/{name}[/versions/{v}]           model metadata (tensors from the signature)
    GET  /v2/models/{name}[/versions/{v}]/ready     model readiness
    POST /v2/models/{name}[/versions/{v}]/infer     inference with named tensors
    POST /api/predict/{name}                        [{"age": 31, ...}, ...] -> predictions
    GET  /metrics                                   Prometheus
    POST /v2/repository/index                       every version with its state
    POST /v2/repository/models/{name}/load          {"source": ..., "version": ..., "weight": ..., "swap": true}
    POST /v2/repository/models/{name}/unload        {"version": ...}
    POST /v2/repository/models/{name}/traffic       {"weights": {"1": 90, "2": 10}}

The repository routes (``/v2/repository/...``) exist only on a server started with ``admin`` and
always need the token; a server bound beyond loopback needs the token on every route but health
and metrics. Trust (payloads that run code) is the operator's: it comes from the server's start
options, never from a request. See :mod:`tidal.serving._access` for the rules.

Every error answers with a JSON body ``{"error": "..."}`` (and ``violations`` for invalid input).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tidal
from tidal.core._errors import NotFound, TidalError
from tidal.core._hosts import is_loopback
from tidal.serving._access import AccessMiddleware, resolve_token
from tidal.serving._batching import Overloaded, Stopped
from tidal.serving._follow import RegistryFollower, check_followed
from tidal.serving._metrics import ServerMetrics
from tidal.serving._repository import LoadedVersion, LoadFailed, ModelRepository, ModelSpec
from tidal.serving._signature import RequestInvalid, columns_from_records, output_parameters
from tidal.serving._v2 import (
    HEADER_LENGTH,
    binary_output,
    columns_from_tensors,
    dumps,
    encode_response,
    loads,
    parse_request,
)

JSON = "application/json"
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # model names and version labels
LOAD_FIELDS = ("source", "version", "weight", "swap", "parameters")
UNKNOWN_COLUMNS = ("ignore", "refuse")
IGNORED_HEADER = "x-tidal-ignored-columns"
log = logging.getLogger("tidal.serving")


class BodyTooLarge(TidalError):
    pass


@dataclass
class ServerOptions:
    """How the operator starts a server. Nothing here can be changed by a request."""

    max_body_bytes: int = 8 * 1024 * 1024
    admin: bool = False  # the repository API (load, unload, traffic, index); it needs the token
    token: str | None = None  # the bearer token; None: $TIDAL_SERVE_TOKEN, or generated when one is needed
    host: str = "127.0.0.1"  # the bind address: beyond loopback every route but health and metrics needs the token
    trust: bool = False  # loads through the repository API may run code (pickle, custom processors)
    retry_after_s: int = 1
    unknown_columns: str = "ignore"  # columns / tensors the model does not take: "ignore" (listed in a header) or "refuse"
    follow_interval_s: float = 5.0  # how often followed models (ModelSpec.follow) ask the registry for a newer version

    def __post_init__(self) -> None:
        if self.unknown_columns not in UNKNOWN_COLUMNS:
            raise TidalError(f"unknown_columns must be one of {', '.join(UNKNOWN_COLUMNS)}, got {self.unknown_columns!r}")
        if not (isinstance(self.follow_interval_s, int | float) and math.isfinite(self.follow_interval_s) and self.follow_interval_s > 0):
            raise TidalError(f"the follow interval must be a number of seconds above 0, got {self.follow_interval_s!r}")

    @property
    def needs_token(self) -> bool:
        return self.admin or not is_loopback(self.host)


def with_token(options: ServerOptions) -> tuple[ServerOptions, bool]:
    """``options`` with its token filled in where one is needed; True when the token was generated here."""
    token, generated = resolve_token(options.token, options.needs_token)
    return replace(options, token=token), generated


#: which version answered, on every answer from a picked model (traffic splits, canaries)
VERSION_HEADER = "x-tidal-model-version"


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status_code=status, media_type=JSON, headers=headers)


#: the two v2 inference routes, as the router would match them (a name or version has no "/")
INFER_PATH = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$")


class InferFastPath:
    """``POST /v2/models/NAME[/versions/V]/infer`` straight to its handler, after the access checks.

    The router's pattern checks and Starlette's per-route wrappers cost about a tenth of the server's
    time on a 64-row request; the handler answers every failure itself, so nothing is lost by going
    around them. Every other request goes on to the router unchanged.
    """

    def __init__(self, app: Any, server: ModelServer) -> None:
        self.app, self.server = app, server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            match = INFER_PATH.match(path)
            if match is not None:
                response = await self.server._serve(Request(scope, receive), match[1], match[2], "v2")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ModelServer:
    """A repository of loaded models behind a Starlette app. ``server.app`` is the ASGI app."""

    def __init__(self, specs: list[ModelSpec] | None = None, *, options: ServerOptions | None = None,
                 workspace: Any = None) -> None:
        self.options, self.token_generated = with_token(options or ServerOptions())
        # the YAML's per-model trust covers the models it names at start, for later loads of them too
        self.trusted_names = {spec.name for spec in specs or [] if spec.trust}
        self.metrics = ServerMetrics()
        self.repository = ModelRepository(self.metrics, workspace)
        self.draining = False
        self.in_flight = 0
        self.before_stop: list[Callable[[], Awaitable[None]]] = []  # at shutdown, before the models stop (other faces)
        check_followed(specs or [])
        followed = [spec for spec in specs or [] if spec.follow]
        self.follower = RegistryFollower(self.repository, followed, self.options.follow_interval_s) if followed else None
        for spec in specs or []:
            try:
                self.repository.load_sync(spec)
            except LoadFailed as error:
                if not spec.follow:
                    raise
                # a followed model may have no version yet (a stream job registers its first snapshot later): wait for it
                log.warning("%s; %s is not ready until the registry has a version that loads", error, spec.name)
        self.app = self._build_app()

    # -- plumbing --------------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        routes = [
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2/models/{name}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/ready", self.model_ready, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}/ready", self.model_ready, methods=["GET"]),
            Route("/v2/models/{name}/infer", self.infer, methods=["POST"]),
            Route("/v2/models/{name}/versions/{version}/infer", self.infer, methods=["POST"]),
            Route("/api/predict/{name}", self.predict_json, methods=["POST"]),
            Route("/api/predict/{name}/versions/{version}", self.predict_json, methods=["POST"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/v2/repository/index", self.repository_index, methods=["POST", "GET"]),
            Route("/v2/repository/models/{name}/load", self.load_model, methods=["POST"]),
            Route("/v2/repository/models/{name}/unload", self.unload_model, methods=["POST"]),
            Route("/v2/repository/models/{name}/traffic", self.set_traffic, methods=["POST"]),
        ]
        handlers = {Exception: self._on_error, HTTPException: self._on_http_error}
        access = Middleware(AccessMiddleware, admin=self.options.admin, token=self.options.token,  # type: ignore[arg-type]
                            loopback=is_loopback(self.options.host))
        fast = Middleware(InferFastPath, server=self)  # type: ignore[arg-type]
        return Starlette(routes=routes, exception_handlers=handlers, lifespan=self._lifespan,  # type: ignore[arg-type]
                         middleware=[access, fast])

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.follower is not None:
            self.follower.start()
        yield
        if self.follower is not None:
            await self.follower.stop()
        for stop in self.before_stop:
            await stop()
        await self.repository.stop()

    async def _on_http_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        message = {404: f"no route {request.method} {request.url.path}; see GET /v2 and the docs for the routes",
                   405: f"method {request.method} is not allowed on {request.url.path}"}.get(error.status_code, str(error.detail))
        return json_response({"error": message}, error.status_code)

    async def _on_error(self, request: Request, error: Exception) -> Response:
        # a bug of ours, not the caller's: the details (paths, values) go to the log, not to the caller
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=error)
        return json_response({"error": f"internal error ({type(error).__name__}) on {request.method} "
                                       f"{request.url.path}; the server log has the details"}, 500)

    def _error(self, error: Exception) -> Response:
        if isinstance(error, RequestInvalid):
            return json_response({"error": str(error), "violations": error.violations}, 400)
        if isinstance(error, BodyTooLarge):
            return json_response({"error": str(error)}, 413)
        if isinstance(error, NotFound):
            return json_response({"error": str(error)}, 404)
        if isinstance(error, (Overloaded, Stopped)):
            retry = getattr(error, "retry_after_s", self.options.retry_after_s)
            return json_response({"error": str(error)}, 503, {"Retry-After": str(retry)})
        if isinstance(error, TidalError):
            return json_response({"error": str(error)}, 400)
        if isinstance(error, (ValueError, TypeError)):  # valid by the signature, but the model refuses these values
            return json_response({"error": f"the model cannot score this input: {type(error).__name__}: {error}"}, 422)
        return json_response({"error": f"the model failed on this request: {type(error).__name__}: {error}"}, 500)

    async def _body(self, request: Request) -> bytes:
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"the body has {declared} bytes; this server accepts at most {limit} "
                               "(split the rows over several requests)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the body is larger than {limit} bytes; split the rows over several requests")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- health and metadata ------------------------------------------------------------------------
    async def server_metadata(self, request: Request) -> Response:
        extensions = ["binary_tensor_data"] + (["model_repository", "tidal_traffic_split"] if self.options.admin else [])
        return json_response({"name": "tidal", "version": tidal.__version__, "extensions": extensions})

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        # v2 health: 200 is true, 4xx is false (Triton answers 400 too); Kubernetes probes and load balancers
        # take any status from 400 up as "not ready"
        if self.draining:
            return json_response({"ready": False, "reason": "draining: the server is shutting down"}, 400)
        waiting = [name for name, model in self.repository.models.items() if not model.ready]
        if not self.repository.models or waiting:
            return json_response({"ready": False, "reason": f"models not ready: {', '.join(waiting) or 'none loaded'}"}, 400)
        return json_response({"ready": True})

    async def model_ready(self, request: Request) -> Response:
        # The v2 health APIs: "a 200 status code indicates true and a 4xx status code indicates false".
        # A model that is not ready answers 400 with {"name", "ready": false, "error"}; an unknown one 404.
        name, version = request.path_params["name"], request.path_params.get("version")
        model = self.repository.models.get(name)
        if model is None:
            return json_response({"error": f"no model '{name}' is served here"}, 404)
        if version is None:
            ready = model.ready and not self.draining
            if ready:
                return json_response({"name": name, "ready": True})
            reason = "draining: the server is shutting down" if self.draining else "no version is loaded"
            return json_response({"name": name, "ready": False, "error": reason}, 400)
        if version in model.versions and not self.draining:
            return json_response({"name": name, "version": version, "ready": True})
        if version in model.failures:
            return json_response({"name": name, "version": version, "ready": False,
                                  "error": f"version {version} failed to load: {model.failures[version]}"}, 400)
        if version not in model.versions:
            return json_response({"error": f"model '{name}' has no version '{version}'"}, 404)
        return json_response({"name": name, "version": version, "ready": False,
                              "error": "draining: the server is shutting down"}, 400)

    async def model_metadata(self, request: Request) -> Response:
        try:
            name, version = request.path_params["name"], request.path_params.get("version")
            model = self.repository.get(name)
            loaded = self.repository.pick(name, version or model.default_version())
        except TidalError as error:
            return self._error(error)
        signature = loaded.processor.signature
        document = {
            "name": name,
            "versions": sorted(model.versions),
            "platform": loaded.processor.platform,
            "inputs": [spec.metadata() for spec in signature.inputs],
            "outputs": [spec.metadata() for spec in signature.outputs],
        }
        if signature.tensor is not None:  # the inputs also come as one tensor of this shape (images)
            document["parameters"] = {"tensor_input": signature.tensor.name,
                                      "tensor_shape": json.dumps(list(signature.tensor.shape))}
            if signature.images is not None:  # ... or as BYTES, one base64 image each, decoded this way
                document["parameters"]["tensor_images"] = json.dumps(signature.images)
        return json_response(document)

    # -- inference ---------------------------------------------------------------------------------
    async def infer(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params.get("version")
        return await self._serve(request, name, version, "v2")

    async def predict_json(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params.get("version")
        return await self._serve(request, name, version, "json")

    async def _serve(self, request: Request, name: str, version: str | None, route: str) -> Response:
        started = time.perf_counter()
        self.in_flight += 1
        self.metrics.in_flight.inc()
        loaded: LoadedVersion | None = None
        try:
            loaded = self.repository.pick(name, version)
            body = await self._body(request)
            ignored: list[str] | None = [] if self.options.unknown_columns == "ignore" else None
            if route == "v2":
                parsed = parse_request(body, request.headers.get(HEADER_LENGTH))
            else:
                try:
                    records = loads(body)
                except ValueError as error:
                    raise RequestInvalid([f"the body is not valid JSON: {error}"]) from None

            def read(version_now: LoadedVersion) -> tuple[Any, int]:
                if ignored:
                    ignored.clear()
                if route == "v2":
                    return columns_from_tensors(parsed, version_now.processor.signature, ignored)
                return columns_from_records(records, version_now.processor.signature, ignored)

            loaded, outputs = await self.repository.submit(loaded, version, read)
            if route == "v2":
                content, headers = encode_response(name, loaded.version, parsed.id, outputs, parsed.outputs,
                                                   binary_default=binary_output(parsed.parameters),
                                                   parameters=output_parameters(loaded.processor.signature))
                response = Response(content, media_type=JSON, headers={**headers, VERSION_HEADER: loaded.version})
            else:
                response = Response(dumps(_json_predictions(loaded, outputs)), media_type=JSON,
                                    headers={VERSION_HEADER: loaded.version})
            if ignored:
                response.headers[IGNORED_HEADER] = ignored_header(ignored)
        except Exception as error:  # every failure becomes a JSON answer with the right status
            response = self._error(error)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
        # labels only from what is served: names and versions from the URL would let callers grow the metrics without bound
        label_name = name if name in self.repository.models else "(unknown)"
        label_version = loaded.version if loaded is not None else ""
        self.metrics.observe_request(label_name, label_version, route, str(response.status_code), time.perf_counter() - started)
        if loaded is not None and VERSION_HEADER not in response.headers:  # an error after the model was picked
            response.headers[VERSION_HEADER] = label_version
        return response

    async def prometheus(self, request: Request) -> Response:
        for model in self.repository.models.values():
            for item in model.versions.values():
                self.metrics.set_queue_depth(item.name, item.version, item.batcher.depth)
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    # -- repository administration -------------------------------------------------------------------
    async def _admin_body(self, request: Request) -> dict[str, Any]:
        if not self.options.admin:  # the access middleware answers first; this guards the routes themselves
            raise NotFound("the repository API is off on this server; the operator switches it on with `tidal serve --admin`")
        body = await self._body(request)
        if not body:
            return {}
        try:
            value = loads(body)
        except ValueError as error:
            raise RequestInvalid([f"the body is not valid JSON: {error}"]) from None
        if not isinstance(value, dict):
            raise RequestInvalid(["the body must be a JSON object"])
        return value

    async def repository_index(self, request: Request) -> Response:
        if not self.options.admin:
            return self._error(NotFound("the repository API is off on this server; the operator switches it on with `tidal serve --admin`"))
        return json_response(self.repository.index())

    def _load_spec(self, name: str, body: dict[str, Any]) -> tuple[ModelSpec, bool]:
        """The spec a load request asks for, and whether it swaps; every problem of the body at once."""
        if "trust" in body:
            state = "on" if self.options.trust or name in self.trusted_names else "off"
            raise RequestInvalid([f"'trust' cannot be set by a request: trust is an operator switch, given when the "
                                  f"server starts (`tidal serve --trust`); loads of '{name}' on this server run with "
                                  f"trust {state}. Remove the field"])
        problems = [f"unknown field '{key}'; a load takes: {', '.join(LOAD_FIELDS)}" for key in body if key not in LOAD_FIELDS]
        if not LABEL.match(name):
            problems.append(f"model name '{name[:100]}' must be letters, digits, '_', '.', '-' (starting with a letter or digit)")
        if body.get("parameters") not in (None, {}):  # the v2 repository extension's load parameters (Triton's config, files)
            problems.append("'parameters' of a load are not supported here; give 'source' (a package path or "
                            "models:/NAME@ALIAS), or nothing to load the registered model NAME's latest version")
        source, version, weight, swap = body.get("source"), body.get("version"), body.get("weight", 100.0), body.get("swap", True)
        if source is None and not problems and LABEL.match(name):
            source = self._registered_source(name)
        if not isinstance(source, str) or not source:
            problems.append("'source' is required: a package path or models:/NAME@ALIAS"
                            + ("" if source is None else f"; got {type(source).__name__}")
                            + ("" if self.repository.workspace is not None else
                               " (this server has no workspace, so a load by model name alone has no registry to look in)"))
        if version is not None and not (isinstance(version, str) and LABEL.match(version)):
            problems.append("'version' must be a label of letters, digits, '_', '.', '-', e.g. \"2\"")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            problems.append("'weight' must be a number >= 0 (a share of traffic)")
        if not isinstance(swap, bool):
            problems.append("'swap' must be true or false")
        if problems:
            raise RequestInvalid(problems)
        spec = ModelSpec(name, str(source), version=version, weight=float(weight),
                         trust=self.options.trust or name in self.trusted_names)
        current = self.repository.models.get(name)
        if current and current.versions:
            spec.batching = next(iter(current.versions.values())).batcher.config
        return spec, bool(swap)

    def _registered_source(self, name: str) -> str | None:
        """``models:/NAME`` (its latest version) when NAME is registered in the server's workspace, else None."""
        if self.repository.workspace is None:
            return None
        from tidal.models._registry import ModelRegistry

        try:
            ModelRegistry(self.repository.workspace).resolve(f"models:/{name}")
        except TidalError:  # not registered, or no version yet: the caller must name a source
            return None
        return f"models:/{name}"

    async def load_model(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            spec, swap = self._load_spec(name, await self._admin_body(request))
            loaded = await self.repository.load(spec, exclusive=swap)
        except Exception as error:
            return self._error(error)
        return json_response({"name": name, "version": loaded.version, "load_seconds": round(loaded.load_seconds, 4)})

    async def unload_model(self, request: Request) -> Response:
        try:
            body = await self._admin_body(request)
            unknown = [f"unknown field '{key}'; an unload takes: version" for key in body if key != "version"]
            if body.get("version") is not None and not isinstance(body["version"], str):
                unknown.append("'version' must be a version label (a string), or absent to unload every version")
            if unknown:
                raise RequestInvalid(unknown)
            await self.repository.unload(request.path_params["name"], body.get("version"))
        except Exception as error:
            return self._error(error)
        return json_response({"unloaded": request.path_params["name"], "version": body.get("version")})

    async def set_traffic(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await self._admin_body(request)
            weights = body.get("weights")
            if not isinstance(weights, dict) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in weights.values()):
                raise RequestInvalid(["'weights' must map version labels to numbers, e.g. {\"1\": 90, \"2\": 10}"])
            self.repository.set_traffic(name, {str(key): float(value) for key, value in weights.items()})
        except Exception as error:
            return self._error(error)
        return json_response({"name": name, "weights": self.repository.get(name).weights})


def ignored_header(names: list[str]) -> str:
    """The ignored column names for a header: each percent-encoded (UTF-8), comma-separated, at most 4 KiB."""
    text = ",".join(quote(name, safe="") for name in names)
    if len(text) <= 4096:
        return text
    return text[:4096].rsplit(",", 1)[0] + ",..."


def _json_predictions(loaded: LoadedVersion, outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The simple route's answer: predictions in order, and class probabilities for classifiers."""
    result: dict[str, Any] = {"model": loaded.name, "version": loaded.version}
    prediction = outputs.get("prediction")
    if prediction is not None:
        result["predictions"] = prediction.tolist()
    probabilities = outputs.get("probabilities")
    classes = getattr(loaded.processor, "classes", None)
    if probabilities is not None and classes is not None:
        labels = [str(value) for value in np.asarray(classes).tolist()]
        result["probabilities"] = [dict(zip(labels, row, strict=True)) for row in probabilities.tolist()]
    for name, array in outputs.items():
        if name not in ("prediction", "probabilities"):
            result[name] = array.tolist()
    return result
