"""Tidal's Helm chart (deploy/helm/tidal), rendered offline for each sized preset: lint has no
warnings or errors, every object validates (Kubernetes kinds against the Kubernetes schemas, strict;
RayCluster and ScaledObject against crds-schemas/), the parts are wired to each other, and the model
servers are the ones `tidal deploy --target kubernetes` writes."""

from __future__ import annotations

import pytest
from helm_charts import (
    CHART,
    MODELS,
    NAMESPACE,
    RELEASE,
    SIZES,
    container_environment,
    find,
    notes,
    pod_templates,
    render,
    secret_data,
    size_values,
    validation_errors,
)

helm = pytest.importorskip("helm_python")
pytest.importorskip("kubernetes_validate")

FULLNAME = f"{RELEASE}-tidal"


@pytest.fixture(scope="module", params=SIZES)
def rendered(request):
    return request.param, render(size_values(request.param))


def test_lint_reports_no_warning_or_error(rendered):
    size, _ = rendered
    report = helm.lint(CHART, size_values(size), strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert report["errors"] == [] and problems == [], problems


def test_every_rendered_object_validates(rendered):
    size, objects = rendered
    errors = [error for manifest in objects for error in validation_errors(manifest)]
    assert errors == []
    kinds = {item["kind"] for item in objects}
    assert {"Deployment", "Service", "StatefulSet", "Secret", "ServiceAccount", "Ingress", "Job",
            "PersistentVolumeClaim"} <= kinds
    assert ("RayCluster" in kinds) == (size != "small") and ("NetworkPolicy" in kinds) == (size != "small")
    assert ("ScaledObject" in kinds) == (size == "large") and ("HorizontalPodAutoscaler" in kinds) == (size != "large")
    assert {item["metadata"]["labels"]["tidal.dev/size"] for item in objects} == {size}


def test_the_parts_are_wired_to_each_other(rendered):
    """Every reference inside the release resolves: Secret keys, claims, Service selectors, scale targets."""
    _, objects = rendered
    templates = pod_templates(objects)
    for owner, template in templates:
        for container in template["spec"]["containers"]:
            environment = container_environment(objects, container)  # raises on a missing Secret or key
            assert all("$(" not in value for value in environment.values()), (owner, environment)
        for volume in template["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                find(objects, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    for service in (item for item in objects if item["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        chosen = [owner for owner, template in templates if selector <= template["metadata"]["labels"].items()]
        assert len(chosen) == 1, (service["metadata"]["name"], chosen)
        named_ports = {port["name"] for _, template in templates if selector <= template["metadata"]["labels"].items()
                       for container in template["spec"]["containers"] for port in container.get("ports", [])}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= named_ports
    for scaler in (item for item in objects if item["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")):
        find(objects, "Deployment", scaler["spec"]["scaleTargetRef"]["name"])
    for owner, template in templates:
        if owner.startswith(("Deployment", "Job", "RayCluster")):
            assert template["spec"]["serviceAccountName"] == FULLNAME
            assert template["spec"]["automountServiceAccountToken"] is False
    ingress = next(item for item in objects if item["kind"] == "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{FULLNAME}-studio", "port": {"name": "http"}}


def test_tidal_pods_reach_the_release_stores(rendered):
    from sqlalchemy.engine import make_url

    _, objects = rendered
    studio = find(objects, "Deployment", f"{FULLNAME}-studio")["spec"]["template"]["spec"]["containers"][0]
    assert studio["args"][:6] == ["studio", "/workspace", "--host", "0.0.0.0", "--port", "8765"]
    environment = container_environment(objects, studio)
    url = make_url(environment["TIDAL_DB"])
    password = secret_data(objects, f"{FULLNAME}-postgresql")["password"]
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "postgresql", f"{FULLNAME}-postgresql", 5432, "tidal", "tidal")
    assert url.password == password and len(password) == 32
    postgres = find(objects, "StatefulSet", f"{FULLNAME}-postgresql")["spec"]["template"]["spec"]["containers"][0]
    assert container_environment(objects, postgres)["POSTGRES_PASSWORD"] == password
    assert environment["TIDAL_ARTIFACTS"] == "s3://tidal-artifacts/tidal"
    assert environment["AWS_ENDPOINT_URL"] == f"http://{FULLNAME}-object-storage:9000"
    storage = find(objects, "StatefulSet", f"{FULLNAME}-object-storage")["spec"]["template"]["spec"]["containers"][0]
    storage_environment = container_environment(objects, storage)
    assert (storage_environment["MINIO_ROOT_USER"], storage_environment["MINIO_ROOT_PASSWORD"]) == (
        environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"])
    token = secret_data(objects, f"{FULLNAME}-studio-token")["token"]
    assert environment["TIDAL_STUDIO_TOKEN"] == token and len(token) >= 32
    assert token != secret_data(objects, f"{FULLNAME}-serving-token")["token"]
    for owner, template in pod_templates(objects):  # Ray's pods and the model servers use the same stores
        for container in template["spec"]["containers"]:
            if container["name"] in ("server", "ray-head", "ray-worker", "create-bucket"):
                assert container_environment(objects, container)["TIDAL_DB"] == environment["TIDAL_DB"], owner


def _service_spec(model, values, size):
    """The `tidal deploy` service spec that the chart's entry for ``model`` stands for."""
    from tidal.serving._service import parse_service

    defaults = values["modelDefaults"]
    sections = {section: {**defaults.get(section, {}), **model.get(section, {})}
                for section in ("resources", "autoscaling", "server")}
    entry = {"name": model["name"], "versions": model["versions"], "trust": model.get("trust", False),
             "batching": {**defaults.get("batching", {}), **model.get("batching", {})}}
    return parse_service({"name": model["name"], "target": "kubernetes", "models": [entry], **sections,
                          "kubernetes": {"image": "tidal-ml:0.1.0", "autoscaler": defaults.get("autoscaler", "hpa"),
                                         "prometheus": defaults.get("prometheus", "http://prometheus.monitoring:9090")}})


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model["name"])
def test_model_servers_are_the_ones_tidal_deploy_writes(rendered, model):
    from tidal.serving import render_kubernetes

    size, objects = rendered
    values = size_values(size)
    expected_deployment, expected_service, expected_scaler = render_kubernetes(_service_spec(model, values, size))
    name = f"{FULLNAME}-{model['name']}"
    deployment = find(objects, "Deployment", name)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    expected_container = expected_deployment["spec"]["template"]["spec"]["containers"][0]
    for key in ("name", "args", "ports", "resources", "livenessProbe", "readinessProbe", "startupProbe"):
        assert container[key] == expected_container[key], key
    assert container["env"][0] == {"name": "TIDAL_SERVE_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": f"{FULLNAME}-serving-token", "key": "token"}}}
    for key in ("replicas", "strategy"):
        assert deployment["spec"][key] == expected_deployment["spec"][key], key
    template, expected_template = deployment["spec"]["template"], expected_deployment["spec"]["template"]
    assert template["metadata"]["annotations"] == expected_template["metadata"]["annotations"]
    assert template["metadata"]["labels"].items() >= expected_template["metadata"]["labels"].items()
    assert template["spec"]["terminationGracePeriodSeconds"] == expected_template["spec"]["terminationGracePeriodSeconds"]
    assert find(objects, "Service", name)["spec"]["ports"] == expected_service["spec"]["ports"]
    scaler = find(objects, expected_scaler["kind"], name)
    assert scaler["spec"]["scaleTargetRef"]["name"] == name
    drop_target = lambda spec: {key: value for key, value in spec.items() if key != "scaleTargetRef"}  # noqa: E731
    assert drop_target(scaler["spec"]) == drop_target(expected_scaler["spec"])


def test_ray_cluster_resources_come_from_values():
    values = size_values("large")
    objects = render(values)
    cluster = find(objects, "RayCluster", f"{FULLNAME}-ray")["spec"]
    assert cluster["enableInTreeAutoscaling"] is True
    groups = {group["groupName"]: group for group in cluster["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    for wanted in values["ray"]["workers"]:
        group = groups[wanted["name"]]
        assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (
            wanted["replicas"], wanted["minReplicas"], wanted["maxReplicas"])
        resources = group["template"]["spec"]["containers"][0]["resources"]
        assert resources["requests"] == wanted["resources"]["requests"]
        if wanted["gpus"]:
            assert resources["limits"]["nvidia.com/gpu"] == str(wanted["gpus"])
            assert group["rayStartParams"] == {"num-gpus": str(wanted["gpus"])}
        else:
            assert "nvidia.com/gpu" not in resources["limits"] and group["rayStartParams"] == {}
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["resources"] == values["ray"]["head"]["resources"]
    studio = find(objects, "Deployment", f"{FULLNAME}-studio")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "RAY_ADDRESS", "value": f"ray://{FULLNAME}-ray-head-svc:10001"} in studio["env"]


def test_network_policies_admit_only_the_release():
    objects = render(size_values("medium"))
    policies = {item["metadata"]["name"]: item["spec"] for item in objects if item["kind"] == "NetworkPolicy"}
    assert set(policies) == {f"{FULLNAME}-{part}" for part in ("postgresql", "object-storage", "ray-head", "ray-worker")}
    postgres = policies[f"{FULLNAME}-postgresql"]
    assert postgres["ingress"] == [{"from": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/part-of": "tidal"}}}],
        "ports": [{"port": 5432, "protocol": "TCP"}]}]
    for _, template in pod_templates(objects):  # every pod of the release carries the labels the policies admit
        assert template["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tidal"


def test_external_stores_and_existing_secrets():
    values = size_values("small", postgresql={"enabled": False, "external": {"urlSecret": "team-db", "urlKey": "url"}},
                         objectStorage={"enabled": False, "external": {"endpoint": "", "existingSecret": "team-s3"}},
                         studio={"token": {"existingSecret": "studio-token"}})
    objects = render(values)
    kinds = {(item["kind"], item["metadata"]["name"]) for item in objects}
    assert not any(kind == "StatefulSet" for kind, _ in kinds) and ("Job", f"{FULLNAME}-create-bucket") not in kinds
    assert {name for kind, name in kinds if kind == "Secret"} == {f"{FULLNAME}-serving-token"}
    studio = find(objects, "Deployment", f"{FULLNAME}-studio")["spec"]["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry for entry in studio["env"]}
    assert env["TIDAL_DB"]["valueFrom"]["secretKeyRef"] == {"name": "team-db", "key": "url"}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "team-s3"
    assert env["TIDAL_STUDIO_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "studio-token"
    assert "AWS_ENDPOINT_URL" not in env and "TIDAL_DB_PASSWORD" not in env  # AWS S3 itself
    assert [error for manifest in objects for error in validation_errors(manifest)] == []


def test_a_given_password_is_used_and_notes_say_how_to_connect():
    objects = render(size_values("small", postgresql={"password": "Given-pass.1"}))
    assert secret_data(objects, f"{FULLNAME}-postgresql")["password"] == "Given-pass.1"
    text = notes(size_values("medium"))
    assert f"kubectl -n {NAMESPACE} get secret {FULLNAME}-studio-token" in text
    assert "https://tidal.example.com/?token=TOKEN" in text and f"ray://{FULLNAME}-ray-head-svc:10001" in text
    assert f"churn: http://{FULLNAME}-churn.{NAMESPACE}/v2/models/churn/infer" in text
