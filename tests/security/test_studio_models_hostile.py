"""The Studio's model and service routes against hostile input: requests without the token off loopback, names
that are paths, SQL or wildcards, oversized bodies, requests from other sites, and attempts to make the Studio
send requests anywhere but to a service it started. Each must fail with a 4xx JSON answer (never 500), register
or start nothing, write nothing outside the workspace and contact nothing.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from models_workspace import ROW, write_models_workspace

from tidal.models import ModelRegistry
from tidal.studio import create_app

TOKEN = "models-hostile-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}
ROUTES = [("GET", "/api/models"), ("GET", "/api/model-outputs"), ("GET", "/api/models/cancer"), ("POST", "/api/models"),
          ("PUT", "/api/models/cancer/aliases/production"), ("DELETE", "/api/models/cancer/aliases/production"),
          ("POST", "/api/models/cancer/tags"), ("GET", "/api/services"), ("POST", "/api/services"),
          ("GET", "/api/services/cancer-production"), ("POST", "/api/services/cancer-production/stop"),
          ("GET", "/api/services/cancer-production/metrics"), ("POST", "/api/services/cancer-production/infer")]


class Canary:
    """A listening socket that records every connection made to it: a request sent there is an attack that worked."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.server.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root, runs = write_models_workspace(tmp_path_factory.mktemp("hostile-models"))
    ModelRegistry(__import__("tidal").Workspace.open(root)).register_from_run(runs[0], "train", "cancer", alias="production")
    return root, runs


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace[0], workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def locked(workspace):
    with TestClient(create_app(workspace[0], workers=1, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def service(client):
    """A real service of the Studio (``cancer-production``), ready; hostile requests go through it."""
    assert client.post("/api/services", json={"model": "cancer", "alias": "production"}).status_code == 202
    deadline = time.monotonic() + 120
    while client.get("/api/services/cancer-production").json()["state"] != "ready":
        assert time.monotonic() < deadline, client.get("/api/services/cancer-production").json()
        time.sleep(0.1)
    return "cancer-production"


@pytest.fixture
def canary():
    listening = Canary()
    yield listening
    listening.close()


def requests_served(client, service) -> int:
    return client.get(f"/api/services/{service}/metrics").json()["requests"]


def test_off_loopback_every_model_and_service_route_needs_the_token(locked):
    for method, route in ROUTES:
        answer = locked.request(method, route, headers=JSON, content="{}" if method != "GET" else None)
        assert answer.status_code == 401, (route, answer.text)
        assert "token" in answer.json()["detail"]
    allowed = locked.get("/api/models", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and [item["name"] for item in allowed.json()] == ["cancer"]
    assert locked.get("/api/services", headers={"Authorization": f"Bearer {TOKEN}"}).json() == []
    assert locked.app.state.studio.services.all_services() == []  # nothing started without the token


@pytest.mark.parametrize("name", ["..%2F..%2F..%2Fetc%2Fpasswd", "%252e%252e%252fetc", "x' OR '1'='1",
                                  'x"; DROP TABLE registered_models; --', "%25", "_", "a%00b", "line%0Abreak", "x" * 5000])
def test_names_that_are_paths_sql_or_wildcards_find_nothing(client, workspace, name):
    for method, route in (("GET", f"/api/models/{name}"), ("PUT", f"/api/models/{name}/aliases/production"),
                          ("PUT", f"/api/models/cancer/aliases/{name}"), ("POST", f"/api/models/{name}/tags"),
                          ("GET", f"/api/services/{name}"), ("GET", f"/api/services/{name}/metrics"),
                          ("POST", f"/api/services/{name}/infer"), ("POST", f"/api/services/{name}/stop")):
        body = '{"version": 1}' if "aliases" in route else '{"row": {}}' if "infer" in route else "{}"
        answer = client.request(method, route, headers=JSON, content=body if method != "GET" else None)
        assert answer.status_code in (400, 404, 422), (route, answer.text)
        assert answer.headers["content-type"].startswith("application/json") and len(answer.text) < 1000
        assert "root:" not in answer.text
    registry = ModelRegistry(client.app.state.studio.workspace)
    assert [model.name for model in registry.list_models()] == ["cancer"]
    assert registry.get_model("cancer").aliases == {"production": 1}  # the table is intact, no alias moved


@pytest.mark.parametrize("field,value", [("run_id", "%%%%"), ("run_id", "____"), ("run_id", "../../etc"),
                                         ("node_id", "../train"), ("node_id", "train%"), ("name", "../../evil"),
                                         ("name", "a" * 201), ("alias", "../x"), ("port", "x" * 300)])
def test_registrations_with_hostile_fields_register_nothing(client, workspace, field, value):
    _, runs = workspace
    body = {"run_id": runs[1], "node_id": "train", "name": "other", field: value}
    answer = client.post("/api/models", json=body)
    assert answer.status_code in (400, 404, 422), answer.text
    assert [model.name for model in ModelRegistry(client.app.state.studio.workspace).list_models()] == ["cancer"]


def test_a_service_name_cannot_write_outside_the_workspace(client, workspace):
    root, _ = workspace
    for name in ("../../escape", "..", "a/b", "UPPER", "-x", "x" * 64, "evil.yaml"):
        answer = client.post("/api/services", json={"model": "cancer", "version": 1, "name": name})
        assert answer.status_code in (400, 422), (name, answer.text)
    assert not (root.parent / "escape.yaml").exists() and not (root / ".tidal" / "escape.yaml").exists()
    assert client.app.state.studio.services.all_services() == [] or all(
        item.name == "cancer-production" for item in client.app.state.studio.services.all_services())


def test_oversized_bodies_are_refused_before_anything_reads_them(client):
    big = b'{"row": {"' + b"a" * (2 * 1024 * 1024) + b'": 1}}'
    for route in ("/api/services/cancer-production/infer", "/api/models", "/api/services"):
        answer = client.post(route, headers=JSON, content=big)
        assert answer.status_code == 413 and "larger than" in answer.json()["detail"], route

    def chunks():  # no Content-Length: the limit holds on what arrives
        for _ in range(40):
            yield b"x" * 65536

    streamed = client.post("/api/models", headers=JSON, content=chunks())
    assert streamed.status_code == 413


def test_the_studio_sends_requests_only_to_its_own_services(client, service, canary):
    before = requests_served(client, service)
    for name in (f"127.0.0.1:{canary.port}", f"http%3A%2F%2F127.0.0.1%3A{canary.port}", "localhost"):
        answer = client.post(f"/api/services/{name}/infer", json={"row": ROW})
        assert answer.status_code in (400, 404), answer.text
    for body in ({"row": ROW, "url": f"http://127.0.0.1:{canary.port}/"},
                 {"row": ROW, "host": "127.0.0.1", "port": canary.port},
                 {"row": ROW, "model": f"../../../127.0.0.1:{canary.port}"},
                 {"row": ROW, "model": "cancer", "version": f"../../{canary.port}"},
                 {"row": ROW, "model": "cancer/../../metrics"}):
        answer = client.post(f"/api/services/{service}/infer", json=body)
        assert answer.status_code in (400, 404, 422), (body, answer.text)
    start = client.post("/api/services", json={"model": "cancer", "version": 1, "url": f"http://127.0.0.1:{canary.port}"})
    assert start.status_code == 422
    assert canary.connections == 0
    assert requests_served(client, service) == before  # nothing reached the model either


def test_hostile_test_requests_are_bounded(client, service):
    before = requests_served(client, service)
    wide = client.post(f"/api/services/{service}/infer", json={"row": {f"c{index}": 1 for index in range(10_001)}})
    assert wide.status_code in (413, 422)
    tensors = client.post(f"/api/services/{service}/infer", json={"request": {"inputs": [
        {"name": "mean_radius", "datatype": "FP64", "shape": [1] * 9, "data": [1.0]}]}})
    assert tensors.status_code == 422
    both = client.post(f"/api/services/{service}/infer", json={"row": ROW, "request": {"inputs": [
        {"name": "mean_radius", "datatype": "FP64", "shape": [1], "data": [1.0]}]}})
    assert both.status_code == 400 and "one of them" in both.json()["detail"]
    assert requests_served(client, service) == before


def test_other_sites_cannot_register_deploy_promote_or_stop(client, service):
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {**JSON, "Origin": "https://evil.example"}):
        for method, route, body in (("POST", "/api/models", '{"run_id": "x", "node_id": "train", "name": "y"}'),
                                    ("POST", "/api/services", '{"model": "cancer", "version": 1, "name": "evil"}'),
                                    ("PUT", "/api/models/cancer/aliases/production", '{"version": 1}'),
                                    ("POST", f"/api/services/{service}/stop", "{}"),
                                    ("POST", f"/api/services/{service}/infer", '{"row": {}}')):
            answer = client.request(method, route, headers=headers, content=body)
            assert answer.status_code in (403, 415), (route, headers, answer.text)
    assert client.get(f"/api/services/{service}").json()["state"] == "ready"
    assert [item.name for item in client.app.state.studio.services.all_services()] == [service]
