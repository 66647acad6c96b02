"""``/api/models``, ``/api/model-outputs`` and ``/api/services``: the registry from the Studio, and local services.

One workspace for the file: a pipeline that trains a three-feature classifier, run twice (two different
models). The registrations, and one real service (``tidal deploy`` in a child process, following the
``production`` alias), are module-scoped; the tests read them and move the alias.
"""

from __future__ import annotations

import time

import pytest
import yaml
from fastapi.testclient import TestClient
from models_workspace import FEATURES, ROW, write_models_workspace

from tidal.models import ModelRegistry
from tidal.serving import ServiceSpec, load_service
from tidal.studio import create_app

JSON = {"Content-Type": "application/json"}


def wait_until(read, check, what: str, limit: float = 120.0):
    """Poll ``read()`` until ``check(value)``; the deadline only turns a hang into a failure with a message."""
    deadline = time.monotonic() + limit
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last: {value}")
        time.sleep(0.1)


def check_schema(client, method: str, template: str, status: int, answer) -> None:
    """The answer matches the response schema the OpenAPI document declares for it."""
    from openapi_schema_validator import OAS31Validator

    spec = client.get("/openapi.json").json()
    schema = spec["paths"][template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec["components"]}).validate(answer.json())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return write_models_workspace(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace[0], workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def registered(client, workspace):
    """``cancer`` version 1 (run 1, alias production) and version 2 (run 2), registered through the API."""
    _, runs = workspace
    first = client.post("/api/models", json={"run_id": runs[0], "node_id": "train", "name": "cancer", "alias": "production",
                                             "tags": {"team": "studio"}})
    second = client.post("/api/models", json={"run_id": runs[1], "node_id": "train", "name": "cancer"})
    return first, second


@pytest.fixture(scope="module")
def service(client, registered):
    """A service following models:/cancer@production, ready."""
    started = client.post("/api/services", json={"model": "cancer", "alias": "production"})
    assert started.status_code == 202, started.text
    name = started.json()["name"]
    wait_until(lambda: client.get(f"/api/services/{name}").json(), lambda found: found["state"] in ("ready", "exited"),
               "the service to be ready")
    return started


def test_the_routes_are_in_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/models", "/api/model-outputs", "/api/models/{name}", "/api/models/{name}/aliases/{alias}",
            "/api/models/{name}/tags", "/api/services", "/api/services/{name}", "/api/services/{name}/stop",
            "/api/services/{name}/metrics", "/api/services/{name}/infer"} <= set(paths)
    assert {"put", "delete"} <= set(paths["/api/models/{name}/aliases/{alias}"])


def test_model_outputs_of_runs_are_listed(client, workspace):
    _, runs = workspace
    answer = client.get("/api/model-outputs")
    check_schema(client, "get", "/api/model-outputs", 200, answer)
    found = {(item["run_id"], item["node_id"]) for item in answer.json()}
    assert found == {(runs[0], "train"), (runs[1], "train")}  # the trainer's Model output; nothing else is a model
    assert {item["component"] for item in answer.json()} == {"classification.logistic_regression"}


def test_register_from_runs_with_lineage_signature_and_metrics(client, registered, workspace):
    root, runs = workspace
    first, second = registered
    assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
    check_schema(client, "post", "/api/models", 201, first)
    one, two = first.json(), second.json()
    assert (one["version"], two["version"]) == (1, 2)
    assert (one["run_id"], one["node_id"], two["run_id"]) == (runs[0], "train", runs[1])
    assert one["aliases"] == ["production"] and one["tags"] == {"team": "studio"} and two["aliases"] == []
    assert [item["name"] for item in one["signature"]["inputs"]] == FEATURES
    assert {item["name"] for item in one["signature"]["outputs"]} == {"prediction", "probabilities"}
    assert one["component"] == "classification.logistic_regression" and one["pipeline"] == "cancer-small"
    assert 0.5 < one["metrics"]["eval"]["auc"] <= 1 and one["metrics"]["eval"] != two["metrics"]["eval"]

    again = client.post("/api/models", json={"run_id": runs[0], "node_id": "train", "name": "cancer"})
    assert again.status_code == 201 and again.json()["version"] == 1  # the same package: its version

    listed = client.get("/api/models")
    check_schema(client, "get", "/api/models", 200, listed)
    cancer = next(item for item in listed.json() if item["name"] == "cancer")
    assert cancer["latest_version"] == 2 and cancer["aliases"]["production"] == 1
    detail = client.get("/api/models/cancer")
    check_schema(client, "get", "/api/models/{name}", 200, detail)
    assert [item["version"] for item in detail.json()["versions"]] == [2, 1]
    # the Python API sees what the Studio wrote
    registry = ModelRegistry(client.app.state.studio.workspace)
    assert registry.get_version("cancer", 1).run_id == runs[0]


def test_registrations_that_cannot_work_say_why(client, workspace, registered):
    _, runs = workspace
    unknown = client.post("/api/models", json={"run_id": "nosuchrun", "node_id": "train", "name": "x"})
    assert unknown.status_code == 404 and "no run 'nosuchrun'" in unknown.json()["detail"]
    no_model = client.post("/api/models", json={"run_id": runs[0], "node_id": "split", "name": "x"})
    assert no_model.status_code == 404 and "node 'split'" in no_model.json()["detail"] and "produced no model" in no_model.json()["detail"]
    port = client.post("/api/models", json={"run_id": runs[0], "node_id": "train", "port": "other", "name": "x"})
    assert port.status_code == 404 and "'other'" in port.json()["detail"]
    bad = client.post("/api/models", json={"run_id": runs[0], "node_id": "train", "name": "no spaces"})
    assert bad.status_code == 400 and "is not a model name" in bad.json()["detail"]
    assert client.get("/api/models/nothing").status_code == 404
    assert "x" not in {item["name"] for item in client.get("/api/models").json()}


def test_aliases_move_and_go(client, registered):
    moved = client.put("/api/models/cancer/aliases/staging", json={"version": 2})
    assert moved.status_code == 200 and moved.json() == {"name": "cancer", "alias": "staging", "version": 2, "previous": None}
    check_schema(client, "put", "/api/models/{name}/aliases/{alias}", 200, moved)
    back = client.put("/api/models/cancer/aliases/staging", json={"version": 1})
    assert back.json()["previous"] == 2
    assert client.get("/api/models/cancer").json()["aliases"]["staging"] == 1
    removed = client.delete("/api/models/cancer/aliases/staging", headers=JSON)
    assert removed.status_code == 200 and removed.json()["version"] is None
    assert "staging" not in client.get("/api/models/cancer").json()["aliases"]
    missing = client.put("/api/models/cancer/aliases/staging", json={"version": 9})
    assert missing.status_code == 404 and "has no version 9" in missing.json()["detail"]
    assert client.put("/api/models/cancer/aliases/7", json={"version": 1}).status_code == 400
    assert client.delete("/api/models/cancer/aliases/staging", headers=JSON).status_code == 404
    tagged = client.post("/api/models/cancer/tags", json={"tags": {"owner": "ml"}, "description": "tumours"})
    assert tagged.status_code == 200 and tagged.json()["tags"]["owner"] == "ml" and tagged.json()["description"] == "tumours"


def test_a_service_follows_its_alias_answers_and_counts_requests(client, service, workspace):
    root, _ = workspace
    name = service.json()["name"]
    check_schema(client, "post", "/api/services", 202, service)
    assert name == "cancer-production" and service.json()["source"] == "models:/cancer@production"
    shown = client.get(f"/api/services/{name}")
    check_schema(client, "get", "/api/services/{name}", 200, shown)
    assert shown.json()["state"] == "ready", shown.json().get("log_tail")
    assert shown.json()["served_versions"] == ["1"] and shown.json()["url"].startswith("http://127.0.0.1:")
    spec = load_service(root / shown.json()["spec_path"])  # the very YAML `tidal deploy` takes
    assert isinstance(spec, ServiceSpec) and spec.models[0].follow and spec.models[0].versions[0].source == "models:/cancer@production"
    assert yaml.safe_load(shown.json()["spec_yaml"])["name"] == name

    answer = client.post(f"/api/services/{name}/infer", json={"row": ROW})
    assert answer.status_code == 200, answer.text
    check_schema(client, "post", "/api/services/{name}/infer", 200, answer)
    result = answer.json()
    assert result["version"] == "1" and result["request"]["inputs"][0] == {"name": FEATURES[0], "datatype": "FP64", "shape": [1],
                                                                           "data": [ROW[FEATURES[0]]]}
    outputs = {item["name"]: item["data"] for item in result["response"]["outputs"]}
    assert outputs["prediction"] in ([0], [1]) and len(outputs["probabilities"]) == 2

    metrics = client.get(f"/api/services/{name}/metrics")
    check_schema(client, "get", "/api/services/{name}/metrics", 200, metrics)
    first = metrics.json()
    assert first["requests"] >= 1 and first["errors"] == 0 and first["latency_ms"]["p50"] > 0
    assert {row["version"]: row["requests"] for row in first["versions"] if row["model"] == "cancer"}["1"] >= 1

    # promote: the alias moves, the service swaps, the traffic goes to version 2
    assert client.put("/api/models/cancer/aliases/production", json={"version": 2}).status_code == 200
    wait_until(lambda: client.get(f"/api/services/{name}").json()["served_versions"], lambda found: found == ["2"],
               "the service to swap to version 2")
    assert client.post(f"/api/services/{name}/infer", json={"row": ROW}).json()["version"] == "2"
    later = client.get(f"/api/services/{name}/metrics").json()
    by_version = {row["version"]: row["requests"] for row in later["versions"] if row["model"] == "cancer"}
    assert by_version["2"] == 1 and later["follow_target"] == {"cancer": 2}
    assert later["requests_per_s"] is not None and later["window_s"] > 0 and later["rates"]["cancer/2"] > 0

    # refusals come back with the reason; the service counts its own
    missing = client.post(f"/api/services/{name}/infer", json={"row": {FEATURES[0]: 1.0}})
    assert missing.status_code == 400 and "missing input(s)" in missing.json()["detail"]
    wrong = client.post(f"/api/services/{name}/infer", json={"row": {**ROW, FEATURES[0]: "big"}})
    assert wrong.status_code == 400 and "answered 400" in wrong.json()["detail"] and FEATURES[0] in wrong.json()["detail"]
    assert client.get(f"/api/services/{name}/metrics").json()["errors"] == 1
    raw = client.post(f"/api/services/{name}/infer", json={"request": {"inputs": [
        {"name": feature, "datatype": "FP64", "shape": [2], "data": [ROW[feature], ROW[feature]]} for feature in FEATURES]}})
    assert raw.status_code == 200 and len(raw.json()["response"]["outputs"][0]["data"]) == 2
    assert client.put("/api/models/cancer/aliases/production", json={"version": 1}).status_code == 200


def test_start_refusals_name_what_is_wrong(client, service):
    unknown = client.post("/api/services", json={"model": "nothing"})
    assert unknown.status_code == 404 and "no registered model 'nothing'" in unknown.json()["detail"]
    alias = client.post("/api/services", json={"model": "cancer", "alias": "canary"})
    assert alias.status_code == 404 and "no alias 'canary'" in alias.json()["detail"]
    version = client.post("/api/services", json={"model": "cancer", "version": 40})
    assert version.status_code == 404 and "no version 40" in version.json()["detail"]
    both = client.post("/api/services", json={"model": "cancer", "version": 1, "alias": "production"})
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    again = client.post("/api/services", json={"model": "cancer", "alias": "production"})
    assert again.status_code == 409 and "running already" in again.json()["detail"]
    bad = client.post("/api/services", json={"model": "cancer", "version": 1, "name": "Not_A_Label"})
    assert bad.status_code == 400 and "service name" in bad.json()["detail"]
    assert client.get("/api/services/nothing").status_code == 404
    assert [item["name"] for item in client.get("/api/services").json()] == [service.json()["name"]]


def register_broken(root, tmp_path) -> None:
    """``broken`` version 1: a package whose manifest reads well and whose payload is not a model."""
    import json

    from tidal.store import Workspace

    registry = ModelRegistry(Workspace.open(root))
    folder = registry.load("models:/cancer/1").save(tmp_path / "broken")
    payload = json.loads((folder / "MANIFEST.json").read_text())["payload"]
    (folder / payload).write_bytes(b"not a model")
    registry.register(folder, "broken")


def test_services_end_with_the_studio_and_one_that_fails_says_why(workspace, registered, tmp_path):
    root, _ = workspace
    register_broken(root, tmp_path)
    with TestClient(create_app(root, workers=1), base_url="http://127.0.0.1") as other:
        pinned = other.post("/api/services", json={"model": "cancer", "version": 1, "name": "pinned"})
        assert pinned.status_code == 202 and pinned.json()["source"] == "models:/cancer/1", pinned.text
        assert pinned.json()["follows"] is False
        broken = other.post("/api/services", json={"model": "broken", "version": 1})
        assert broken.status_code == 202 and broken.json()["name"] == "broken-v1"
        process = other.app.state.studio.services.get("pinned").service.process
        wait_until(lambda: other.get("/api/services/pinned").json()["state"], lambda state: state == "ready",
                   "the pinned service to be ready")
        failed = wait_until(lambda: other.get("/api/services/broken-v1").json(), lambda found: found["state"] == "exited",
                            "the broken service to exit")
        assert failed["returncode"] != 0 and "exited with code" in failed["reason"]
        assert "could not be loaded" in failed["log_tail"]  # the server's own reason, shown to the user
        assert other.post("/api/services/broken-v1/infer", json={"row": ROW}).status_code == 409
        assert process.poll() is None
    assert process.poll() is not None  # the Studio stopped: so did its service


def test_a_stopped_service_refuses_requests(client, service):
    """The last test of the file: it stops the module's service."""
    name = service.json()["name"]
    stopped = client.post(f"/api/services/{name}/stop", headers=JSON)
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    check_schema(client, "post", "/api/services/{name}/stop", 200, stopped)
    assert "serving" in stopped.json()["log_tail"]  # the server's own start line
    for answer in (client.post(f"/api/services/{name}/infer", json={"row": ROW}), client.get(f"/api/services/{name}/metrics"),
                   client.post(f"/api/services/{name}/stop", headers=JSON)):
        assert answer.status_code == 409 and "not running" in answer.json()["detail"]
    assert client.app.state.studio.services.get(name).service.process.poll() is not None
