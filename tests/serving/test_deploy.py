"""Service specs and their targets: Kubernetes manifests validated against the Kubernetes schemas
(offline, strict), and the local target running real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from servers import free_port

from tidal.core import ValidationFailed
from tidal.serving import render_kubernetes
from tidal.serving._service import parse_service

kubernetes_validate = pytest.importorskip("kubernetes_validate")
KUBERNETES_VERSION = "1.30"


def spec(**overrides):
    data = {
        "name": "churn",
        "models": [{"name": "churn", "versions": [{"source": "models:/churn/1", "weight": 90},
                                                  {"source": "models:/churn/2", "weight": 10}]}],
        "autoscaling": {"min_replicas": 2, "max_replicas": 6, "target_in_flight": 8, "scale_up_window_s": 15,
                        "scale_down_window_s": 120},
        "resources": {"cpu": "2", "memory": "2Gi"},
        "server": {"port": 9000, "workers": 2, "drain_seconds": 10},
        "kubernetes": {"image": "registry.example/tidal:0.1", "secret": "tidal-store", "namespace": "ml"},
    }
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return parse_service(data)


def test_a_grpc_port_is_served_exposed_and_valid_kubernetes():
    manifests = render_kubernetes(spec(server={"grpc_port": 9001}))
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    deployment, service, _ = manifests
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][container["args"].index("--grpc-port") + 1] == "9001"
    assert {"name": "grpc", "containerPort": 9001, "protocol": "TCP"} in container["ports"]
    assert {"name": "grpc", "port": 9001, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"} in service["spec"]["ports"]
    plain = render_kubernetes(spec())
    assert "--grpc-port" not in plain[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [port["name"] for port in plain[1]["spec"]["ports"]] == ["http"]
    with pytest.raises(ValidationFailed, match="give gRPC a port of its own"):
        spec(server={"grpc_port": 9000})


@pytest.mark.parametrize("target", [{"target_in_flight": 8}, {"target_in_flight": None, "target_qps": 150.5},
                                    {"target_in_flight": None}])
def test_hpa_manifests_are_valid_kubernetes(target):
    manifests = render_kubernetes(spec(autoscaling=target))
    assert [item["kind"] for item in manifests] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    deployment, service, hpa = manifests
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["args"][:3] == ["serve", "churn=models:/churn/1,weight=90", "churn=models:/churn/2,weight=10"]
    assert "--workers" in container["args"] and container["envFrom"] == [{"secretRef": {"name": "tidal-store"}}]
    # the pods listen on 0.0.0.0: the token comes from a Secret, and the repository API stays off
    assert container["args"][container["args"].index("--host") + 1] == "0.0.0.0" and "--admin" not in container["args"]
    assert container["env"] == [{"name": "TIDAL_SERVE_TOKEN",
                                 "valueFrom": {"secretKeyRef": {"name": "churn-token", "key": "token"}}}]
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 10
    assert deployment["metadata"]["namespace"] == "ml" and service["spec"]["ports"][0]["targetPort"] == "http"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    metric = hpa["spec"]["metrics"][0]
    if target.get("target_in_flight"):
        assert metric["pods"]["metric"]["name"] == "tidal_in_flight_requests" and metric["pods"]["target"]["averageValue"] == "8"
    elif target.get("target_qps"):
        assert metric["pods"]["target"]["averageValue"] == "150500m"
    else:
        assert metric["resource"]["name"] == "cpu"


def test_the_validator_catches_a_broken_manifest():
    deployment = render_kubernetes(spec())[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_keda_scaled_object_and_gpu_resources():
    manifests = render_kubernetes(spec(kubernetes={"autoscaler": "keda", "token_secret": "serving-token"},
                                       resources={"gpu": 1}, server={"admin": True}))
    deployment, service, scaled = manifests
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--admin" in container["args"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "serving-token", "key": "token"}
    for manifest in (deployment, service):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # KEDA is a CRD: its schema is not among the Kubernetes schemas, so check its required shape here
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["kind"] == "ScaledObject"
    assert scaled["spec"]["scaleTargetRef"] == {"name": "churn"}
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 6)
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and "tidal_in_flight_requests" in trigger["metadata"]["query"]
    assert trigger["metadata"]["threshold"] == "8"


def test_bad_specs_list_every_problem():
    with pytest.raises(ValidationFailed) as caught:
        parse_service({"name": "Bad_Name", "models": [{"name": "m", "versions": [{"source": "x", "weight": -1}]}],
                       "autoscaling": {"min_replicas": 3, "max_replicas": 2}, "surprise": 1})
    text = str(caught.value)
    assert "4 problems" in text and "name: String should match pattern" in text and "models.0.versions.0.weight" in text
    assert "min_replicas (3) is above max_replicas (2)" in text and "surprise: Extra inputs are not permitted" in text
    with pytest.raises(ValidationFailed, match="listed twice"):
        parse_service({"name": "a", "models": [{"name": "m", "versions": [{"source": "x"}]},
                                               {"name": "m", "versions": [{"source": "y"}]}]})


def test_tidal_deploy_kubernetes_writes_valid_manifests(tmp_path):
    (tmp_path / "service.yaml").write_text(yaml.safe_dump({
        "name": "cancer", "target": "kubernetes",
        "models": [{"name": "cancer", "versions": [{"source": "models:/cancer@production"}]}],
        "autoscaling": {"min_replicas": 1, "max_replicas": 3, "target_qps": 100}}))
    done = subprocess.run([sys.executable, "-m", "tidal.cli", "deploy", "service.yaml", "-o", "k8s"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kubectl create secret generic cancer-token" in " ".join(done.stdout.split())
    files = sorted(path.name for path in (tmp_path / "k8s").iterdir())
    assert files == ["deployment.yaml", "horizontalpodautoscaler.yaml", "service.yaml"]
    for path in (tmp_path / "k8s").iterdir():
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES_VERSION, strict=True)
    bad = subprocess.run([sys.executable, "-m", "tidal.cli", "deploy", "missing.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no service spec at missing.yaml" in bad.stderr


def test_local_target_serves_with_several_worker_processes(tmp_path, regression_archives):
    import psutil

    times2, times3 = regression_archives
    port = free_port()
    (tmp_path / "service.yaml").write_text(yaml.safe_dump({
        "name": "linear", "target": "local",
        "models": [{"name": "linear", "versions": [{"source": str(times2), "weight": 50}, {"source": str(times3), "weight": 50}]}],
        "server": {"port": port, "workers": 2, "drain_seconds": 0}}))
    process = subprocess.Popen([sys.executable, "-m", "tidal.cli", "deploy", "service.yaml"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        deadline = time.time() + 180  # two server processes starting on a loaded machine
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "the service did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [client.post("/api/predict/linear", json=[{"x": 1.0}]).json() for _ in range(200)]
        assert {item["version"] for item in answers} == {"1", "2"}
        assert all(item["predictions"][0] == pytest.approx(2.0 if item["version"] == "1" else 3.0) for item in answers)
        workers = [child for child in psutil.Process(process.pid).children(recursive=True) if "python" in child.name()]
        assert len(workers) >= 2
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_example_service_spec_renders_valid_manifests():
    from pathlib import Path

    from tidal.serving import load_service

    service = load_service(Path(__file__).parents[2] / "deploy" / "serving" / "service.example.yaml")
    assert [spec.weight for spec in service.model_specs()] == [90.0, 10.0]
    for manifest in render_kubernetes(service):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_worker_processes_get_the_alias_pinned_to_the_version_checked_at_start(tmp_path, regression_archives):
    from tidal.models import ModelRegistry
    from tidal.serving import ModelServer, ModelSpec
    from tidal.serving._run import _pinned
    from tidal.store import Workspace

    workspace = Workspace.open(tmp_path)
    registry = ModelRegistry(workspace)
    registry.register(regression_archives[0], "linear", alias="production")
    registry.register(regression_archives[1], "linear")
    spec = ModelSpec("linear", "models:/linear@production")
    checked = ModelServer([spec], workspace=workspace)
    registry.set_alias("linear", "production", 2)  # the alias moves after the check
    pinned = _pinned(spec, checked)
    assert (pinned.source, pinned.version) == ("models:/linear/1", "1")
    assert _pinned(ModelSpec("x", "model.zip"), checked).source == "model.zip"
    workspace.close()
