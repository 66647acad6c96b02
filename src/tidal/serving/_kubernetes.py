"""Kubernetes manifests for a service: Deployment, Service, and a HorizontalPodAutoscaler or KEDA ScaledObject.

The pods run ``tidal serve`` with the service's models; liveness and readiness probes use the v2
health routes, and the termination grace period covers the server's drain. The pods listen on
0.0.0.0, so every route but health and metrics needs the token: ``TIDAL_SERVE_TOKEN`` comes from the
Secret ``kubernetes.token_secret`` (default ``NAME-token``, key ``token``), which the operator creates;
a pod without it does not start. Autoscaling on
in-flight requests or QPS reads the server's Prometheus metrics: through the custom-metrics API
(prometheus-adapter) for an HPA, or through Prometheus directly for KEDA. Without a target, the
HPA scales on CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tidal.serving._service import ServiceSpec

IN_FLIGHT_METRIC = "tidal_in_flight_requests"
QPS_METRIC = "tidal_requests_per_second"  # prometheus-adapter: rate(tidal_requests_total[1m]) per pod


def token_secret_name(service: ServiceSpec) -> str:
    return service.kubernetes.token_secret or f"{service.name}-token"


def render_kubernetes(service: ServiceSpec) -> list[dict[str, Any]]:
    """The manifests as dictionaries, in apply order."""
    labels = {"app.kubernetes.io/name": service.name, "app.kubernetes.io/part-of": "tidal",
              "app.kubernetes.io/component": "model-server"}
    meta: dict[str, Any] = {"name": service.name, "labels": labels}
    if service.kubernetes.namespace:
        meta["namespace"] = service.kubernetes.namespace
    port = service.server.port
    resources: dict[str, Any] = {"requests": {"cpu": service.resources.cpu, "memory": service.resources.memory},
                                 "limits": {"memory": service.resources.memory}}
    if service.resources.gpu:
        resources["limits"]["nvidia.com/gpu"] = str(service.resources.gpu)
    container: dict[str, Any] = {
        "name": "server",
        "image": service.kubernetes.image,
        "args": ["serve", *service.serve_arguments()],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        + ([{"name": "grpc", "containerPort": service.server.grpc_port, "protocol": "TCP"}]
           if service.server.grpc_port is not None else []),
        "env": [{"name": "TIDAL_SERVE_TOKEN",
                 "valueFrom": {"secretKeyRef": {"name": token_secret_name(service), "key": "token"}}}],
        "resources": resources,
        "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": "http"}, "periodSeconds": 10,
                          "failureThreshold": 3, "timeoutSeconds": 2},
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}, "periodSeconds": 2,
                           "failureThreshold": 1, "timeoutSeconds": 2},
        "startupProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}, "periodSeconds": 2,
                         "failureThreshold": 150},
    }
    if service.kubernetes.secret:
        container["envFrom"] = [{"secretRef": {"name": service.kubernetes.secret}}]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": max(service.autoscaling.min_replicas, 1),
            "selector": {"matchLabels": {"app.kubernetes.io/name": service.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"prometheus.io/scrape": "true",
                                                                "prometheus.io/port": str(port),
                                                                "prometheus.io/path": "/metrics"}},
                "spec": {
                    "containers": [container],
                    "terminationGracePeriodSeconds": int(service.server.drain_seconds) + 60,
                },
            },
        },
    }
    kube_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": {"app.kubernetes.io/name": service.name},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
                 # gRPC clients (and meshes) tell the protocol by the appProtocol; the pods answer grpc.health.v1 too
                 + ([{"name": "grpc", "port": service.server.grpc_port, "targetPort": "grpc", "protocol": "TCP",
                      "appProtocol": "grpc"}] if service.server.grpc_port is not None else [])},
    }
    scaler = _keda(service, meta) if service.kubernetes.autoscaler == "keda" else _hpa(service, meta)
    return [deployment, kube_service, scaler]


def _behavior(service: ServiceSpec) -> dict[str, Any]:
    scaling = service.autoscaling
    return {"scaleUp": {"stabilizationWindowSeconds": scaling.scale_up_window_s},
            "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_window_s}}


def _hpa(service: ServiceSpec, meta: dict[str, Any]) -> dict[str, Any]:
    scaling = service.autoscaling
    if scaling.target_in_flight is not None:
        metric = {"type": "Pods", "pods": {"metric": {"name": IN_FLIGHT_METRIC},
                                           "target": {"type": "AverageValue", "averageValue": _quantity(scaling.target_in_flight)}}}
    elif scaling.target_qps is not None:
        metric = {"type": "Pods", "pods": {"metric": {"name": QPS_METRIC},
                                           "target": {"type": "AverageValue", "averageValue": _quantity(scaling.target_qps)}}}
    else:
        metric = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name},
            "minReplicas": max(scaling.min_replicas, 1),
            "maxReplicas": scaling.max_replicas,
            "metrics": [metric],
            "behavior": _behavior(service),
        },
    }


def _keda(service: ServiceSpec, meta: dict[str, Any]) -> dict[str, Any]:
    scaling = service.autoscaling
    selector = f'app_kubernetes_io_name="{service.name}"'
    if scaling.target_qps is not None:
        query, threshold = f"sum(rate(tidal_requests_total{{{selector}}}[1m]))", scaling.target_qps
    else:
        query, threshold = f"sum({IN_FLIGHT_METRIC}{{{selector}}})", scaling.target_in_flight or 8
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"name": service.name},
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(service)}},
            "triggers": [{"type": "prometheus", "metadata": {"serverAddress": service.kubernetes.prometheus,
                                                              "query": query, "threshold": f"{threshold:g}"}}],
        },
    }


def _quantity(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{int(value * 1000)}m"


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values out in full: manifests carry no YAML anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def manifest_files(service: ServiceSpec) -> dict[str, str]:
    """File name -> YAML text of every manifest, without writing anything."""
    return {f"{manifest['kind'].lower()}.yaml": yaml.dump(manifest, Dumper=_PlainDumper, sort_keys=False)
            for manifest in render_kubernetes(service)}


def write_manifests(service: ServiceSpec, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in manifest_files(service).items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written
