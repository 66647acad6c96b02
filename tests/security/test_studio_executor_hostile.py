"""A run request cannot choose where code runs beyond what the operator enabled: no Ray on a Studio started
without it, no cluster address from a request, malformed executor fields answered 422 (never 500)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tidal.studio import create_app

PIPELINE = {"tidal": 1, "name": "p", "nodes": [{"id": "gen", "component": "io.make_classification", "params": {}}]}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(tmp_path_factory.mktemp("ws"), workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.mark.parametrize("body", [
    {"executor": "ray"},
    {"executor": "ray", "address": "203.0.113.9:6379"},
    {"executor": "ray", "address": "ray://203.0.113.9:10001", "workers": 0},
])
def test_ray_is_refused_on_a_studio_started_without_it(client, body):
    answer = client.post("/api/runs", json={"pipeline": PIPELINE, **body})
    assert answer.status_code == 403, answer.text
    assert "not enabled" in answer.json()["detail"]
    assert client.get("/api/runs").json() == []


@pytest.mark.parametrize("executor", [["ray"], {"kind": "ray"}, 7, "inline", "local; rm -rf /", "RAY", "x" * 10_000])
def test_malformed_executor_fields_are_422(client, executor):
    answer = client.post("/api/runs", json={"pipeline": PIPELINE, "executor": executor})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert client.get("/api/runs").json() == []
