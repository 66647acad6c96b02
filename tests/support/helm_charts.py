"""Rendering Tidal's Helm chart offline (helm-python-sdk: Helm's Go SDK through ctypes, no helm
binary, no cluster) and validating what it renders: Kubernetes kinds against the Kubernetes
schemas that kubernetes-validate ships, custom resources against the schemas in the chart's
crds-schemas/ folder (their pod templates against Kubernetes' own PodTemplateSpec)."""

from __future__ import annotations

import base64
import copy
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "tidal"
SIZES = ("small", "medium", "large")
KUBERNETES_VERSION = "1.30"
RELEASE, NAMESPACE = "demo", "ml"
#: custom resources -> the schema file under crds-schemas/
CRD_SCHEMAS = {("ray.io/v1", "RayCluster"): "raycluster-ray.io-v1.json",
               ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json"}
#: model servers every size is rendered with: one plain, one with gRPC, a canary and a QPS target
MODELS = [
    {"name": "churn", "versions": [{"source": "models:/churn@production", "weight": 90},
                                   {"source": "models:/churn@staging", "weight": 10}],
     "batching": {"max_batch_size": 32, "max_wait_ms": 2.5}},
    {"name": "fraud", "versions": [{"source": "models:/fraud/3"}], "server": {"grpc_port": 9001, "admin": True},
     "autoscaling": {"target_in_flight": None, "target_qps": 150.5}, "trust": True},
]


def size_values(size: str, **extra: Any) -> dict[str, Any]:
    """The values of one preset file, with the test models, the Ingress and ``extra`` on top."""
    values = yaml.safe_load((CHART / f"values-{size}.yaml").read_text())
    values["models"] = copy.deepcopy(MODELS)
    values.setdefault("studio", {})["ingress"] = {"enabled": True, "host": "tidal.example.com", "tlsSecret": "tidal-tls"}
    for key, value in extra.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return values


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every object the chart renders with ``values`` (on top of values.yaml), in template order."""
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        files = chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
    objects = []
    for name, text in sorted(files.items()):
        if name.endswith("NOTES.txt"):
            continue
        objects += [item for item in yaml.safe_load_all(text) if item]
    return objects


def notes(values: dict[str, Any] | None) -> str:
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        files = chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
    return next(text for name, text in files.items() if name.endswith("NOTES.txt"))


@cache
def _kubernetes_definitions() -> dict[str, Any]:
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    matches = sorted(item.name for item in folder.iterdir() if item.name.startswith(f"v{KUBERNETES_VERSION}.")
                     and item.name.endswith("-local-strict"))
    result: dict[str, Any] = json.loads((folder / matches[-1] / "_definitions.json").read_text())
    return result


def crd_validator(schema_file: str) -> Any:
    """A validator for one custom resource schema; its Kubernetes references resolve offline."""
    import jsonschema
    from referencing import Registry, Resource

    schema = json.loads((CHART / "crds-schemas" / schema_file).read_text())
    definitions = Resource.from_contents(_kubernetes_definitions())
    registry: Registry = Registry().with_resource("https://kubernetes.io/api/_definitions.json", definitions)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validation_errors(manifest: dict[str, Any]) -> list[str]:
    """Every schema error of one manifest, each naming the object and the path inside it."""
    import kubernetes_validate

    where = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
    schema_file = CRD_SCHEMAS.get((manifest.get("apiVersion"), manifest.get("kind")))
    if schema_file is not None:
        return [f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in crd_validator(schema_file).iter_errors(manifest)]
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}"]
    return []


def pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(owner, pod template) of every workload, Ray's head and worker groups included."""
    found = []
    for item in objects:
        spec = item.get("spec", {})
        owner = f"{item['kind']}/{item['metadata']['name']}"
        if "template" in spec:
            found.append((owner, spec["template"]))
        if item["kind"] == "RayCluster":
            found.append((owner + "/head", spec["headGroupSpec"]["template"]))
            found += [(f"{owner}/{group['groupName']}", group["template"]) for group in spec.get("workerGroupSpecs", [])]
    return found


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for item in objects:
        if item["kind"] == kind and item["metadata"]["name"] == name:
            return item
    raise AssertionError(f"no {kind}/{name} among {[(o['kind'], o['metadata']['name']) for o in objects]}")


def secret_data(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    secret = find(objects, "Secret", name)
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def container_environment(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the kubelet makes it: Secret references read from the rendered
    Secrets, and ``$(VAR)`` replaced by variables defined before it."""
    environment: dict[str, str] = {}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            reference = entry["valueFrom"]["secretKeyRef"]
            value = secret_data(objects, reference["name"])[reference["key"]]
        else:
            value = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda match: environment.get(match[1], match[0]),
                           entry["value"])
        environment[entry["name"]] = value
    return environment
