"""Bad values never render: values.schema.json refuses them (through Helm itself, as `helm install`
and `helm lint` do) naming the key, and the templates refuse what a schema cannot express. The
custom resource schemas catch mistakes in RayCluster and ScaledObject objects."""

from __future__ import annotations

import copy

import pytest
from helm_charts import CHART, SIZES, crd_validator, render, size_values

helm = pytest.importorskip("helm_python")

MODEL = {"name": "churn", "versions": [{"source": "models:/churn/1"}]}


def with_model(**sections):
    return {**copy.deepcopy(MODEL), **sections}


@pytest.mark.parametrize(("values", "where", "says"), [
    ({"size": "huge"}, "/size", "must be one of"),
    ({"ray": {"workers": [{"name": "cpu", "replicas": -1, "minReplicas": 0, "maxReplicas": 2}]}},
     "/ray/workers/0/replicas", "minimum"),
    ({"models": [with_model(autoscaling={"min_replicas": -1})]}, "/models/0/autoscaling/min_replicas", "minimum"),
    ({"models": [with_model(name="Churn_Model")]}, "/models/0/name", "pattern"),
    ({"models": [with_model(versions=[])]}, "/models/0/versions", "minItems"),
    ({"models": [with_model(versions=[{"source": "models:/churn/1", "weight": -5}])]}, "/models/0/versions/0/weight",
     "minimum"),
    ({"models": [with_model(autoscaler="cron")]}, "/models/0/autoscaler", "must be one of"),
    ({"models": [with_model(server={"port": 70000})]}, "/models/0/server/port", "maximum"),
    ({"studio": {"prot": 8765}}, "/studio", "'prot' not allowed"),
    ({"postgresql": {"password": "p@ss/word"}}, "/postgresql/password", "pattern"),
    ({"postgresql": {"enabled": False}}, "/postgresql/external/urlSecret", "minLength"),
    ({"objectStorage": {"enabled": False}}, "/objectStorage/external/existingSecret", "minLength"),
    ({"objectStorage": {"bucket": "Tidal_Artifacts"}}, "/objectStorage/bucket", "pattern"),
    ({"studio": {"resources": {"requests": {"memory": "lots"}}}}, "/studio/resources/requests/memory", ""),
])
def test_the_schema_refuses_bad_values_naming_the_key(values, where, says):
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmValuesError) as refused:
            chart.render(values=values, name="demo")
    message = str(refused.value)
    assert f"at '{where}'" in message and says in message, message
    report = helm.lint(CHART, values)
    assert any(where in error for error in report["errors"]), report


@pytest.mark.parametrize("size", SIZES)
def test_each_preset_passes_the_schema(size):
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(size_values(size)))


@pytest.mark.parametrize(("values", "says"), [
    ({"models": [with_model(autoscaling={"min_replicas": 3, "max_replicas": 2})]},
     "models[0] (churn): autoscaling.min_replicas (3) is above max_replicas (2)"),
    ({"models": [with_model(autoscaling={"target_in_flight": 8, "target_qps": 100})]},
     "models[0] (churn): autoscaling: choose one of target_in_flight and target_qps"),
    ({"models": [with_model(server={"port": 9000, "grpc_port": 9000})]},
     "models[0] (churn): server.grpc_port 9000 is the HTTP port too"),
    ({"models": [with_model(versions=[{"source": "a", "weight": 0}, {"source": "b", "weight": 0}])]},
     "models[0] (churn): the version weights add up to 0"),
    ({"models": [MODEL, MODEL]}, '"churn" is listed twice'),
    ({"ray": {"enabled": True, "workers": [{"name": "cpu", "replicas": 5, "minReplicas": 0, "maxReplicas": 2}]}},
     "ray.workers[0] (cpu): replicas 5 must lie between minReplicas 0 and maxReplicas 2"),
])
def test_the_templates_refuse_what_the_schema_cannot_express(values, says):
    with pytest.raises(helm.HelmRenderError) as refused:
        render(values)
    assert says in str(refused.value)


def test_the_raycluster_schema_catches_mistakes():
    objects = render(size_values("large"))
    cluster = next(item for item in objects if item["kind"] == "RayCluster")
    validator = crd_validator("raycluster-ray.io-v1.json")
    assert list(validator.iter_errors(cluster)) == []
    unquoted = copy.deepcopy(cluster)
    unquoted["spec"]["workerGroupSpecs"][1]["rayStartParams"]["num-gpus"] = 1  # KubeRay wants strings
    typo = copy.deepcopy(cluster)
    typo["spec"]["headGroupSpec"]["template"]["spec"]["containerz"] = typo["spec"]["headGroupSpec"]["template"]["spec"].pop("containers")
    negative = copy.deepcopy(cluster)
    negative["spec"]["workerGroupSpecs"][0]["maxReplicas"] = -1
    for broken, path in [(unquoted, "spec/workerGroupSpecs/1/rayStartParams/num-gpus"),
                         (typo, "spec/headGroupSpec/template/spec"),
                         (negative, "spec/workerGroupSpecs/0/maxReplicas")]:
        errors = ["/".join(map(str, error.absolute_path)) for error in validator.iter_errors(broken)]
        assert path in errors, errors


def test_the_scaledobject_schema_catches_mistakes():
    objects = render(size_values("large"))
    scaled = next(item for item in objects if item["kind"] == "ScaledObject")
    validator = crd_validator("scaledobject-keda.sh-v1alpha1.json")
    assert list(validator.iter_errors(scaled)) == []
    no_query = copy.deepcopy(scaled)
    del no_query["spec"]["triggers"][0]["metadata"]["query"]
    bad_behavior = copy.deepcopy(scaled)
    bad_behavior["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["window"] = 5
    for broken in (no_query, bad_behavior):
        assert list(validator.iter_errors(broken)), broken


def test_tidal_deploy_keda_output_passes_the_same_schema():
    from tidal.serving import render_kubernetes
    from tidal.serving._service import parse_service

    spec = parse_service({"name": "churn", "models": [MODEL], "kubernetes": {"autoscaler": "keda"},
                          "autoscaling": {"min_replicas": 0, "max_replicas": 3, "target_qps": 20}})
    scaled = render_kubernetes(spec)[2]
    assert list(crd_validator("scaledobject-keda.sh-v1alpha1.json").iter_errors(scaled)) == []
