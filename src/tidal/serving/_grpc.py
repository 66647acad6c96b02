"""The model server's gRPC face: the Open Inference Protocol (KServe v2) over gRPC, beside the HTTP one.

``inference.GRPCInferenceService`` with ServerLive, ServerReady, ModelReady, ServerMetadata,
ModelMetadata and ModelInfer, plus the standard ``grpc.health.v1.Health`` (``_grpc_health.py``), on ``grpc.aio`` in the HTTP server's process and event loop. It shares
everything with the HTTP face: the model repository and its batchers, the signature checks, the
metrics (route ``grpc``, status the gRPC code's name) and the access rules: where the HTTP server
needs the token (bound beyond loopback), every RPC but ServerLive and ServerReady needs it, sent as
``authorization: Bearer TOKEN`` metadata. The repository RPCs are not offered: the HTTP
``/v2/repository`` routes (``--admin``) change what both faces serve.

Errors carry a status code and a message for people, never a traceback: ``INVALID_ARGUMENT`` for a
request that does not fit the model (every problem listed, naming the input), ``NOT_FOUND`` for an
unknown model or version, ``UNAVAILABLE`` (with ``retry-after`` trailing metadata) when the model
is too busy, ``UNAUTHENTICATED`` without the token, ``INTERNAL`` when the model itself fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tidal.core._errors import NotFound, TidalError
from tidal.core._hosts import is_loopback
from tidal.serving._access import bearer_ok
from tidal.serving._batching import Overloaded, Stopped
from tidal.serving._server import IGNORED_HEADER, ModelServer, ignored_header
from tidal.serving._signature import RequestInvalid, output_parameters
from tidal.serving._v2 import columns_from_tensors

MISSING = ("the gRPC endpoint needs the grpcio and protobuf libraries: pip install 'tidal-ml[grpc]' "
           "(or serve over HTTP only, without --grpc-port)")
try:
    import grpc
    from google.protobuf.message import DecodeError

    from tidal.serving import grpc_predict_v2_pb2 as messages
    from tidal.serving._grpc_health import HealthService
    from tidal.serving._grpc_tensors import encode_infer_response, parse_infer_request
except ImportError as missing:  # the grpc extra is not installed
    raise TidalError(f"{MISSING} ({missing})") from None
except Exception as mismatch:  # protobuf older than the generated messages need (its VersionError)
    raise TidalError(f"the gRPC endpoint's messages need protobuf >= 5.29 ({mismatch}); "
                     "pip install 'tidal-ml[grpc]' brings a recent one") from None

SERVICE = "inference.GRPCInferenceService"
OPEN_METHODS = {"ServerLive", "ServerReady"}  # like /v2/health/*: probes need no token
MAX_MESSAGE = 2000  # characters of a status message: it travels in a trailer, which clients cap (8 KiB)
STOP_GRACE_S = 30.0
log = logging.getLogger("tidal.serving")


class Refused(Exception):
    """An RPC answered with a non-OK status."""

    def __init__(self, code: grpc.StatusCode, message: str, trailers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.trailers = code, message, trailers


def status_message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def violations_message(violations: list[str]) -> str:
    """Every problem of a request, as many as fit in a status message, then how many more there are."""
    shown: list[str] = []
    used = 0
    for violation in violations:
        violation = violation if len(violation) <= 300 else violation[:297] + "..."
        if shown and used + len(violation) > MAX_MESSAGE - 200:
            break
        shown.append(violation)
        used += len(violation) + 2
    count = len(violations)
    more = f"; and {count - len(shown)} more" if count > len(shown) else ""
    return status_message(f"the request has {count} problem{'s' if count != 1 else ''}: {'; '.join(shown)}{more}")


def refusal(error: Exception, retry_after_s: int) -> Refused:
    """The status for an error of an inference request, as the HTTP face maps the same error to 4xx/5xx."""
    if isinstance(error, Refused):
        return error
    if isinstance(error, RequestInvalid):
        return Refused(grpc.StatusCode.INVALID_ARGUMENT, violations_message(error.violations))
    if isinstance(error, NotFound):
        return Refused(grpc.StatusCode.NOT_FOUND, status_message(str(error)))
    if isinstance(error, (Overloaded, Stopped)):
        retry = getattr(error, "retry_after_s", retry_after_s)
        return Refused(grpc.StatusCode.UNAVAILABLE, status_message(str(error)), (("retry-after", str(retry)),))
    if isinstance(error, TidalError):
        return Refused(grpc.StatusCode.INVALID_ARGUMENT, status_message(str(error)))
    if isinstance(error, (ValueError, TypeError)):  # valid by the signature, but the model refuses these values
        return Refused(grpc.StatusCode.INVALID_ARGUMENT,
                       status_message(f"the model cannot score this input: {type(error).__name__}: {error}"))
    return Refused(grpc.StatusCode.INTERNAL,
                   status_message(f"the model failed on this request: {type(error).__name__}: {error}"))


class GrpcEndpoint:
    """``server``'s models over gRPC on ``host:port``; :meth:`start` and :meth:`stop` in the server's event loop."""

    def __init__(self, server: ModelServer, host: str, port: int, *, reuse_port: bool = False) -> None:
        self.model_server = server
        self.host, self.port = host, port
        # several worker processes of one `tidal serve --workers N` share the port (SO_REUSEPORT: the kernel
        # spreads connections over them); otherwise a taken port is an error, never a silent share
        self.reuse_port = reuse_port
        self.needs_token = not is_loopback(server.options.host)  # the HTTP rule for every route but the repository's
        self.grpc_server: Any = None
        self.bound_port: int | None = None
        self.health = HealthService(server, SERVICE)
        server.before_stop.append(self.stop)  # stop taking RPCs (and finish those in flight) before the models stop

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> int:
        """Listen and serve; returns the port. The port is never shared with another process."""
        options = [("grpc.max_receive_message_length", self.model_server.options.max_body_bytes),
                   ("grpc.max_send_message_length", -1), ("grpc.so_reuseport", 1 if self.reuse_port else 0)]
        server = grpc.aio.server(options=options)
        handlers = {name: grpc.unary_unary_rpc_method_handler(self._behaviour(name, request, call))
                    for name, (request, call) in self._methods().items()}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers), self.health.handler()))
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as error:
            bound, reason = 0, str(error)
        else:
            reason = "no port was bound"
        if not bound:
            raise TidalError(f"cannot listen for gRPC on {address} ({reason}): is the port taken? "
                             "Choose another with --grpc-port")
        await server.start()
        self.grpc_server, self.bound_port = server, bound
        return int(bound)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Refuse new RPCs, let those in flight finish (up to ``grace_s``), then close. Safe to call twice."""
        server, self.grpc_server = self.grpc_server, None
        self.health.stopping.set()  # health watchers get NOT_SERVING and their streams end
        if server is not None:
            await server.stop(grace_s)

    # -- plumbing ---------------------------------------------------------------------------------
    def _methods(self) -> dict[str, tuple[Any, Callable[[Any, Any], Awaitable[Any]]]]:
        return {
            "ServerLive": (messages.ServerLiveRequest, self.server_live),
            "ServerReady": (messages.ServerReadyRequest, self.server_ready),
            "ModelReady": (messages.ModelReadyRequest, self.model_ready),
            "ServerMetadata": (messages.ServerMetadataRequest, self.server_metadata),
            "ModelMetadata": (messages.ModelMetadataRequest, self.model_metadata),
            "ModelInfer": (messages.ModelInferRequest, self.model_infer),
        }

    def _behaviour(self, method: str, request_type: Any,
                   call: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[bytes, Any], Awaitable[bytes]]:
        """One RPC: access check, decoding (ours, so a malformed message is the caller's error), the call, and
        every failure turned into a status with a message."""

        async def behaviour(data: bytes, context: Any) -> bytes:
            try:
                self._check_access(method, context)
                try:
                    request = request_type.FromString(data)
                except DecodeError as error:
                    raise Refused(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"the request is not a valid {request_type.DESCRIPTOR.full_name} message: {error}") from None
                response = await call(request, context)
                return bytes(response.SerializeToString())
            except Refused as refused:
                failure = refused
            except Exception as error:  # a bug of ours: the details go to the log, not to the caller
                log.error("internal error in gRPC %s", method, exc_info=error)
                failure = Refused(grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__}) in {method}; "
                                                            "the server log has the details")
            # abort raises: the RPC ends here with that status
            return await context.abort(failure.code, failure.message, failure.trailers)

        return behaviour

    def _check_access(self, method: str, context: Any) -> None:
        if method in OPEN_METHODS or not self.needs_token:
            return
        authorization = next((value for key, value in context.invocation_metadata() or () if key == "authorization"), None)
        if not bearer_ok(authorization if isinstance(authorization, str) else None, self.model_server.options.token):
            said = "the token is wrong" if authorization is not None else f"{method} needs the server's token"
            raise Refused(grpc.StatusCode.UNAUTHENTICATED,
                          f"{said}: send the metadata 'authorization: Bearer TOKEN' (the operator sets the token with "
                          "--admin-token or TIDAL_SERVE_TOKEN, or reads the one printed at start)")

    # -- health and metadata ----------------------------------------------------------------------
    async def server_live(self, request: Any, context: Any) -> Any:
        return messages.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Any) -> Any:
        server = self.model_server
        models = server.repository.models
        return messages.ServerReadyResponse(ready=bool(models) and not server.draining
                                            and all(model.ready for model in models.values()))

    async def model_ready(self, request: Any, context: Any) -> Any:
        # as Triton answers: an unknown model or version is "not ready", not an error
        model = self.model_server.repository.models.get(request.name)
        if model is None or self.model_server.draining:
            return messages.ModelReadyResponse(ready=False)
        ready = request.version in model.versions if request.version else model.ready
        return messages.ModelReadyResponse(ready=ready)

    async def server_metadata(self, request: Any, context: Any) -> Any:
        import tidal

        # the repository extension lives on the HTTP face only
        return messages.ServerMetadataResponse(name="tidal", version=tidal.__version__, extensions=["binary_tensor_data"])

    async def model_metadata(self, request: Any, context: Any) -> Any:
        repository = self.model_server.repository
        try:
            model = repository.get(request.name)
            loaded = repository.pick(request.name, request.version or model.default_version())
        except TidalError as error:
            raise refusal(error, self.model_server.options.retry_after_s) from None
        signature = loaded.processor.signature
        response = messages.ModelMetadataResponse(name=request.name, versions=sorted(model.versions),
                                                  platform=loaded.processor.platform)
        for target, specs in ((response.inputs, signature.inputs), (response.outputs, signature.outputs)):
            for spec in specs:
                target.add(name=spec.name, datatype=spec.datatype, shape=list(spec.shape))
        return response

    # -- inference --------------------------------------------------------------------------------
    async def model_infer(self, request: Any, context: Any) -> Any:
        server = self.model_server
        name = request.model_name
        started = time.perf_counter()
        server.in_flight += 1
        server.metrics.in_flight.inc()
        loaded = None
        status = "OK"
        try:
            if not name:
                raise RequestInvalid(["'model_name' is empty; name a served model (see ModelMetadata)"])
            loaded = server.repository.pick(name, request.model_version or None)
            parsed, raw_inputs = parse_infer_request(request)
            ignored: list[str] | None = [] if server.options.unknown_columns == "ignore" else None

            def read(version_now: Any) -> tuple[Any, int]:
                if ignored:
                    ignored.clear()
                return columns_from_tensors(parsed, version_now.processor.signature, ignored)

            loaded, outputs = await server.repository.submit(loaded, request.model_version or None, read)
            response = encode_infer_response(name, loaded.version, parsed, raw_inputs, outputs,
                                             output_parameters(loaded.processor.signature))
            if ignored:
                await context.send_initial_metadata(((IGNORED_HEADER, ignored_header(ignored)),))
            return response
        except asyncio.CancelledError:  # the caller went away
            status = "CANCELLED"
            raise
        except Exception as error:  # every failure becomes a status with a message
            refused = refusal(error, server.options.retry_after_s)
            status = refused.code.name
            raise refused from None
        finally:
            server.in_flight -= 1
            server.metrics.in_flight.dec()
            # labels only from what is served, as on HTTP: names from requests would grow the metrics without bound
            label_name = name if name in server.repository.models else "(unknown)"
            label_version = loaded.version if loaded is not None else ""
            server.metrics.observe_request(label_name, label_version, "grpc", status, time.perf_counter() - started)
