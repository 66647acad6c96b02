"""The service spec: what ``tidal deploy SERVICE.yaml`` deploys, on any target.

::

    name: churn                      # a DNS label: lower-case letters, digits, '-'
    target: local                    # local | ray | kubernetes
    models:
      - name: churn
        versions:
          - {source: "models:/churn/1", weight: 90}
          - {source: "models:/churn/2", weight: 10}     # a canary
        batching: {max_batch_size: 64, max_wait_ms: 2}
    resources: {cpu: "1", memory: 1Gi, gpu: 0}
    autoscaling:
      min_replicas: 1
      max_replicas: 4
      target_in_flight: 8            # or target_qps: 200
      scale_up_window_s: 0
      scale_down_window_s: 300
    server: {port: 8080, workers: 1, drain_seconds: 5, admin: false}
    kubernetes: {image: "ghcr.io/you/tidal:0.1", autoscaler: hpa, secret: tidal-store, token_secret: churn-token}

A model's ``trust: true`` lets its payload run code (pickle, custom processors); it is the operator's
switch and covers that model only (the kubernetes target runs ``tidal serve --trust``, which covers
every model of the service). ``server.admin`` switches the repository API on; it then needs the token
(``TIDAL_SERVE_TOKEN``). A model's ``follow: true`` (one version entry, ``models:/NAME`` or
``models:/NAME@ALIAS``) swaps in each new version the registry gets, checked every
``server.follow_interval_s`` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tidal.core._errors import Issue, TidalError, ValidationFailed
from tidal.core._yaml import load_yaml_file
from tidal.serving._batching import BatchingConfig
from tidal.serving._repository import ModelSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionSpec(_Strict):
    source: str = Field(description="models:/NAME@ALIAS, models:/NAME/VERSION, or a package path")
    version: str | None = Field(None, description="label; defaults to the registry version number")
    weight: float = Field(100.0, ge=0, description="share of traffic, relative to the other versions")


class BatchingSpec(_Strict):
    max_batch_size: int = Field(64, ge=1)
    max_wait_ms: float = Field(0.0, ge=0)
    max_queue: int = Field(256, ge=1)
    queue_timeout_s: float = Field(10.0, gt=0)
    threaded: bool = Field(False, description="run the model in a worker thread (for long model calls)")


class ModelEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    versions: list[VersionSpec] = Field(min_length=1)
    batching: BatchingSpec = Field(default_factory=lambda: BatchingSpec.model_validate({}))
    trust: bool = False
    follow: bool = Field(False, description="serve each new version of a models:/NAME or models:/NAME@ALIAS source "
                                            "as the registry gets it (one version: the newest replaces the served one)")

    @model_validator(mode="after")
    def _followable(self) -> ModelEntry:
        if self.follow:
            if len(self.versions) != 1:
                raise ValueError(f"model '{self.name}' follows the registry, so it has one version entry "
                                 f"(got {len(self.versions)}): the newest version replaces the served one")
            source = self.versions[0].source
            if not source.startswith("models:/") or "/" in source[len("models:/"):]:
                raise ValueError(f"model '{self.name}' follows the registry: its source must be models:/NAME or "
                                 f"models:/NAME@ALIAS, not {source}")
        return self


class Resources(_Strict):
    cpu: str = "1"
    memory: str = "1Gi"
    gpu: int = Field(0, ge=0)


class Autoscaling(_Strict):
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(1, ge=1)
    target_in_flight: float | None = Field(None, gt=0, description="in-flight requests per replica")
    target_qps: float | None = Field(None, gt=0, description="requests per second per replica")
    scale_up_window_s: int = Field(0, ge=0)
    scale_down_window_s: int = Field(300, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        if self.target_in_flight is not None and self.target_qps is not None:
            raise ValueError("choose one of target_in_flight and target_qps")
        return self


class ServerSettings(_Strict):
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    drain_seconds: float = Field(5.0, ge=0)
    max_body_mb: float = Field(8.0, gt=0)
    admin: bool = Field(False, description="the repository API (load, unload, traffic); needs the token")
    grpc_port: int | None = Field(None, ge=1, le=65535, description="also serve the protocol over gRPC on this port")
    follow_interval_s: float = Field(5.0, ge=0.05, description="seconds between registry checks of followed models")

    @model_validator(mode="after")
    def _ports(self) -> ServerSettings:
        if self.grpc_port is not None and self.grpc_port == self.port:
            raise ValueError(f"grpc_port {self.grpc_port} is the HTTP port too: give gRPC a port of its own")
        return self


class KubernetesSettings(_Strict):
    image: str = "tidal-ml:latest"
    namespace: str | None = None
    autoscaler: Literal["hpa", "keda"] = "hpa"
    secret: str | None = Field(None, description="a Secret with TIDAL_DB and TIDAL_ARTIFACTS (and S3 keys)")
    token_secret: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                                     description="a Secret whose key 'token' is the server's token (default: NAME-token)")
    prometheus: str = Field("http://prometheus.monitoring:9090", description="KEDA: where Prometheus answers")


class ServiceSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    target: Literal["local", "ray", "kubernetes"] = "local"
    models: list[ModelEntry] = Field(min_length=1)
    resources: Resources = Field(default_factory=lambda: Resources.model_validate({}))
    autoscaling: Autoscaling = Field(default_factory=lambda: Autoscaling.model_validate({}))
    server: ServerSettings = Field(default_factory=lambda: ServerSettings.model_validate({}))
    kubernetes: KubernetesSettings = Field(default_factory=lambda: KubernetesSettings.model_validate({}))

    @model_validator(mode="after")
    def _unique(self) -> ServiceSpec:
        names = [entry.name for entry in self.models]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"model name(s) listed twice: {', '.join(doubled)}; list versions under one entry")
        for entry in self.models:
            if sum(item.weight for item in entry.versions) <= 0:
                raise ValueError(f"model '{entry.name}': the version weights add up to 0")
        return self

    def model_specs(self) -> list[ModelSpec]:
        specs = []
        for entry in self.models:
            for index, item in enumerate(entry.versions, start=1):
                label = item.version or (None if item.source.startswith("models:/") else str(index))
                specs.append(ModelSpec(entry.name, item.source, version=label, weight=item.weight, trust=entry.trust,
                                       batching=BatchingConfig(**entry.batching.model_dump()), follow=entry.follow))
        return specs

    def serve_arguments(self) -> list[str]:
        """The ``tidal serve`` arguments that run this service (used by container targets)."""
        args = []
        for entry in self.models:
            for item in entry.versions:
                args.append(f"{entry.name}={item.source},weight={item.weight:g}")
        batching = self.models[0].batching
        args += ["--host", "0.0.0.0", "--port", str(self.server.port), "--workers", str(self.server.workers),
                 "--drain-seconds", f"{self.server.drain_seconds:g}", "--max-body-mb", f"{self.server.max_body_mb:g}",
                 "--max-batch-size", str(batching.max_batch_size), "--max-wait-ms", f"{batching.max_wait_ms:g}",
                 "--max-queue", str(batching.max_queue), "--queue-timeout", f"{batching.queue_timeout_s:g}"]
        if batching.threaded:
            args.append("--threaded")
        if self.server.grpc_port is not None:
            args += ["--grpc-port", str(self.server.grpc_port)]
        if self.server.admin:
            args.append("--admin")
        if any(entry.trust for entry in self.models):
            args.append("--trust")
        if any(entry.follow for entry in self.models):
            # one flag for the whole server: every models:/NAME or @ALIAS source follows, so the others must be pinned
            loose = [entry.name for entry in self.models if not entry.follow and any(
                item.source.startswith("models:/") and "/" not in item.source[len("models:/"):] for item in entry.versions)]
            if loose:
                raise TidalError(f"`tidal serve --follow` follows every models:/NAME and models:/NAME@ALIAS source; model(s) "
                                 f"{', '.join(loose)} would follow too: set follow: true on them, or pin their versions "
                                 "(models:/NAME/VERSION)")
            args += ["--follow", "--follow-interval", f"{self.server.follow_interval_s:g}"]
        return args


def parse_service(data: Any, source: str = "service spec") -> ServiceSpec:
    try:
        return ServiceSpec.model_validate(data)
    except ValidationError as error:
        issues = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            issues.append(Issue(f"{where}: {item['msg']}" if where else item["msg"], code="invalid_service"))
        raise ValidationFailed(issues, subject=source) from None


def load_service(path: str | Path) -> ServiceSpec:
    file = Path(path)
    if not file.exists():
        raise TidalError(f"no service spec at {file}")
    data = load_yaml_file(file)  # limits on size, depth and aliases: a service spec may come from anyone
    return parse_service(data, source=str(file))
