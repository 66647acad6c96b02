"""Prometheus metrics for one model server (its own registry, so several servers can share a process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter("tidal_requests", "Inference requests by route and status (HTTP status; on route grpc the gRPC code)",
                                (*labels, "route", "status"), registry=self.registry)
        self.latency = Histogram("tidal_request_latency_seconds", "Inference request latency, end to end in the server",
                                 (*labels, "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("tidal_batch_rows", "Rows per model call after batching", labels,
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_requests = Histogram("tidal_batch_requests", "Requests merged into one model call", labels,
                                        buckets=BATCH_BUCKETS, registry=self.registry)
        self.model_seconds = Histogram("tidal_model_call_seconds", "Time inside the model per batch", labels,
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("tidal_queue_depth", "Requests waiting for the model", labels, registry=self.registry)
        self.load_seconds = Gauge("tidal_model_load_seconds", "How long loading the model version took", labels,
                                  registry=self.registry)
        self.loaded = Gauge("tidal_model_loaded", "1 when the version is loaded and serving", labels, registry=self.registry)
        self.in_flight = Gauge("tidal_in_flight_requests", "Requests being served now", registry=self.registry)
        # following a registered model (--follow): what the registry points at, swaps done, versions that failed to load
        self.follow_target = Gauge("tidal_follow_registry_version", "The version the followed registry URI points at",
                                   ("model",), registry=self.registry)
        self.follow_swaps = Counter("tidal_follow_swaps", "Versions swapped in by following the registry", ("model",),
                                    registry=self.registry)
        self.follow_failures = Counter("tidal_follow_failures", "Registered versions that failed to load (the old one kept serving)",
                                       ("model",), registry=self.registry)
        self.follow_errors = Counter("tidal_follow_poll_errors", "Registry polls that failed (the served version kept serving)",
                                     ("model",), registry=self.registry)

        # labelled children looked up once per label set: ``labels()`` takes a lock and builds a key on every call,
        # a measurable share of a request; the label values are bounded (served names, versions, routes, statuses)
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def observe_batch(self, model: str, version: str, rows: int, requests: int, seconds: float) -> None:
        self._child(self.batch_size, model, version).observe(rows)
        self._child(self.batch_requests, model, version).observe(requests)
        self._child(self.model_seconds, model, version).observe(seconds)

    def observe_request(self, model: str, version: str, route: str, status: str, seconds: float) -> None:
        self._child(self.requests, model, version, route, status).inc()
        self._child(self.latency, model, version, route).observe(seconds)

    def set_queue_depth(self, model: str, version: str, depth: int) -> None:
        self._child(self.queue_depth, model, version).set(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)
