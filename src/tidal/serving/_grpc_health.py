"""The standard gRPC health service (``grpc.health.v1.Health``) on the model server's gRPC face.

Kubernetes' ``grpc`` probes, Envoy and grpc-health-probe ask this service, not the v2 protocol's
``ServerReady``. The answer is computed at each call from the same state as ``/v2/health/ready``:

* service ``""`` (the whole server) and ``inference.GRPCInferenceService``: ``SERVING`` when every
  served model has a version loaded and the server is not draining, else ``NOT_SERVING``;
* a served model's name: ``SERVING`` when that model is ready (a probe can watch one model);
* anything else: ``Check`` answers ``NOT_FOUND``; ``Watch`` sends ``SERVICE_UNKNOWN`` and keeps
  watching (a model loaded later through the repository API turns ``SERVING``), as the health
  protocol says.

``Watch`` sends the status, then each change (looked at every second); when the server starts to
drain it sends ``NOT_SERVING`` and ends the stream, so a watcher never holds the shutdown up. Both
RPCs are open without the token, like ``/v2/health/*``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2

HEALTH_SERVICE = "grpc.health.v1.Health"
WATCH_INTERVAL_S = 1.0
Status = health_pb2.HealthCheckResponse.ServingStatus


class HealthService:
    """``Check`` and ``Watch`` over ``server`` (a :class:`~tidal.serving._server.ModelServer`)."""

    def __init__(self, server: Any, inference_service: str) -> None:
        self.server, self.inference_service = server, inference_service
        self.stopping = asyncio.Event()

    def status(self, service: str) -> int:
        server = self.server
        models = server.repository.models
        if service in ("", self.inference_service):
            ready = bool(models) and not server.draining and all(model.ready for model in models.values())
        elif service in models:
            ready = models[service].ready and not server.draining
        else:
            return int(Status.SERVICE_UNKNOWN)
        return int(Status.SERVING if ready else Status.NOT_SERVING)

    @staticmethod
    async def _request(data: bytes, context: Any) -> Any:
        """Decoded here, so that a malformed message is the caller's INVALID_ARGUMENT, not an internal error."""
        try:
            return health_pb2.HealthCheckRequest.FromString(data)
        except DecodeError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the request is not a valid grpc.health.v1.HealthCheckRequest message: {error}")

    async def check(self, data: bytes, context: Any) -> Any:
        request = await self._request(data, context)
        status = self.status(request.service)
        if status == Status.SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"no service {request.service[:200]!r} here; ask '' (the server), "
                                f"'{self.inference_service}' or a served model's name")
        return health_pb2.HealthCheckResponse(status=status)

    async def watch(self, data: bytes, context: Any) -> AsyncIterator[Any]:
        request = await self._request(data, context)
        last = None
        while True:
            status = self.status(request.service)
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)
                last = status
            if self.server.draining or self.stopping.is_set():
                if last != Status.NOT_SERVING and status != Status.SERVICE_UNKNOWN:
                    yield health_pb2.HealthCheckResponse(status=Status.NOT_SERVING)
                return
            try:
                await asyncio.wait_for(self.stopping.wait(), WATCH_INTERVAL_S)
            except TimeoutError:
                pass

    def handler(self) -> Any:
        response = health_pb2.HealthCheckResponse
        return grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
            "Check": grpc.unary_unary_rpc_method_handler(self.check, response_serializer=response.SerializeToString),
            "Watch": grpc.unary_stream_rpc_method_handler(self.watch, response_serializer=response.SerializeToString),
        })
