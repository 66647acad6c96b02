"""Access control and path traversal, through the app and against a real uvicorn server."""

from __future__ import annotations

import http.client
import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from studio_helpers import start_studio, stop

from tidal.store import Workspace
from tidal.store._metadata import ArtifactRecord, NodeRunRecord, RunRecord, now
from tidal.studio import create_app

SECRET = "top-secret-content"
TRAVERSALS = [
    "../ws-other/secret.yaml",
    "..%2fws-other%2fsecret.yaml",
    "%2e%2e/ws-other/secret.yaml",
    "%252e%252e%252fws-other%252fsecret.yaml",
    "..%5cws-other%5csecret.yaml",
    "pipelines/..;/..;/ws-other/secret.yaml",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "escape/secret.yaml",
    "escape.yaml",
]


@pytest.fixture
def outside(demo_ws):
    """A sibling folder sharing the workspace's prefix, reachable through symlinks in the workspace."""
    other = demo_ws.parent / "ws-other"
    other.mkdir()
    (other / "secret.yaml").write_text(f"tidal: 1\nname: {SECRET}\nnodes: []\n")
    (demo_ws / "escape").symlink_to(other, target_is_directory=True)
    (demo_ws / "escape.yaml").symlink_to(other / "secret.yaml")
    return other


def raw_request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, str]:
    """Send ``path`` exactly as written (no client-side normalization of '..')."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    connection.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(len(payload or b"")))
    connection.endheaders(payload)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, text


@pytest.mark.parametrize("path", TRAVERSALS)
def test_pipeline_routes_refuse_traversal_in_the_app(client, outside, path):
    response = client.get(f"/api/pipelines/{path}")
    assert response.status_code in (403, 404), response.text
    assert SECRET not in response.text
    assert response.json()["detail"]
    document = client.get("/api/pipelines/pipelines/demo.yaml").json()["pipeline"]
    written = client.put(f"/api/pipelines/{path}", json={"pipeline": document})
    assert written.status_code in (403, 404, 405), written.text
    assert (outside / "secret.yaml").read_text().count(SECRET) == 1
    started = client.post("/api/runs", json={"pipeline": document, "path": path})
    assert started.status_code in (403, 404), started.text


def test_real_server_refuses_raw_traversal_paths(demo_ws, outside):
    """Against uvicorn over a socket, so '..', ';' and encodings reach the server exactly as sent."""
    process, port, _ = start_studio(demo_ws)
    try:
        document = json.loads(raw_request(port, "GET", "/api/pipelines/pipelines/demo.yaml")[1])["pipeline"]
        for path in TRAVERSALS + ["..%252f..%252fws-other%252fsecret.yaml", "pipelines/%2e%2e/%2e%2e/ws-other/secret.yaml"]:
            status, text = raw_request(port, "GET", f"/api/pipelines/{path}")
            assert status in (403, 404), (path, status, text)
            assert SECRET not in text
            assert json.loads(text)["detail"]
            status, text = raw_request(port, "PUT", f"/api/pipelines/{path}", {"pipeline": document, "overwrite": True})
            assert status in (403, 404, 405), (path, status, text)
        for path in ["/assets/../../../pyproject.toml", "/assets/%2e%2e/%2e%2e/__init__.py", "/assets/..%2f..%2f_app.py"]:
            status, text = raw_request(port, "GET", path)
            assert status == 404, (path, status)
            assert "create_app" not in text
        assert (outside / "secret.yaml").read_text().count(SECRET) == 1
        assert not list(outside.glob("*.yaml"))[1:]
    finally:
        stop(process)


def _artifact_with_uri(workspace: Workspace, uri: str) -> int:
    store = workspace.metadata
    run = RunRecord(id=f"evil-{time.time_ns()}", pipeline_name="evil", pipeline_yaml="tidal: 1\nname: evil\nnodes: []\n",
                    status="succeeded", created_at=now())
    store.create_run(run)
    record = NodeRunRecord(run_id=run.id, node_id="n", component="io.read_csv", component_version="1", status="succeeded")
    store.save_node_run(record, [ArtifactRecord(run_id=run.id, node_id="n", port="output", type="Figure", uri=uri,
                                                content_hash="0", size_bytes=1)])
    return store.artifacts(run.id)[0].id  # type: ignore[return-value]


def test_artifacts_outside_the_store_are_refused(demo_ws, outside):
    workspace = Workspace.open(demo_ws)
    store_root = workspace.artifacts.uri
    (outside / "figure.vl.json").write_text(json.dumps({"mark": SECRET}))
    escaping = [
        f"{store_root}/../../../ws-other/figure.vl.json",
        str(outside / "figure.vl.json"),
        f"{store_root}-other/figure.vl.json",
    ]
    (Path(workspace.artifacts.root) / "link.vl.json").symlink_to(outside / "figure.vl.json")
    escaping.append(f"{store_root}/link.vl.json")
    with TestClient(create_app(workspace), base_url="http://127.0.0.1") as client:
        for uri in escaping:
            artifact_id = _artifact_with_uri(workspace, uri)
            response = client.get(f"/api/artifacts/{artifact_id}")
            assert response.status_code in (400, 403, 404), (uri, response.text)
            assert SECRET not in response.text


# -- token -----------------------------------------------------------------------------------------------
@pytest.fixture
def locked(demo_ws):
    with TestClient(create_app(demo_ws, token="s3cret-token"), base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("route", ["/", "/api/info", "/api/components", "/api/pipelines", "/api/streams", "/openapi.json",
                                   "/api/docs", "/api/runs/whatever/events", "/assets/none.js"])
def test_every_route_needs_the_token(locked, route):
    response = locked.get(route, follow_redirects=False)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert locked.get(route, headers={"Authorization": "Bearer wrong"}, follow_redirects=False).status_code == 401
    assert locked.get(route, cookies={"tidal_token": "wrong"}, follow_redirects=False).status_code == 401
    assert locked.get(f"{route}?token=wrong", follow_redirects=False).status_code == 401


def test_bearer_header_opens_the_api(locked):
    response = locked.get("/api/info", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert response.json()["auth"] is True


def test_query_token_once_then_cookie(locked):
    response = locked.get("/?token=s3cret-token&x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?x=1"
    cookie = response.headers["set-cookie"]
    assert "tidal_token=s3cret-token" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert locked.cookies.get("tidal_token") == "s3cret-token"
    assert locked.get("/api/info").status_code == 200
    # the live event stream takes the cookie too (EventSource cannot send headers)
    assert locked.get("/api/runs/nope/events").status_code == 404
    locked.cookies.clear()
    api_call = locked.get("/api/info?token=s3cret-token")
    assert api_call.status_code == 200 and "tidal_token" in api_call.headers["set-cookie"]


def test_cors_is_closed(client):
    preflight = client.options("/api/info", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    plain = client.get("/api/info", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_loopback_server_refuses_foreign_host_headers(demo_ws):
    process, port, _ = start_studio(demo_ws)
    try:
        assert raw_request(port, "GET", "/api/info")[0] == 200
        status, text = raw_request(port, "GET", "/api/info", headers={"Host": "attacker.example"})
        assert status == 403 and "not allowed" in json.loads(text)["detail"]
    finally:
        stop(process)


def test_server_beyond_loopback_generates_and_requires_a_token(demo_ws):
    process, port, log = start_studio(demo_ws, "--host", "0.0.0.0")
    try:
        deadline = time.monotonic() + 20
        while "token=" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        token = re.search(r"token=([\w-]+)", log.read_text()).group(1)  # type: ignore[union-attr]
        assert len(token) >= 32
        assert raw_request(port, "GET", "/api/info")[0] == 401
        assert raw_request(port, "GET", "/api/runs/x/events")[0] == 401
        assert raw_request(port, "GET", "/api/info", headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, _ = raw_request(port, "GET", f"/?token={token}")
        assert status == 303
    finally:
        stop(process)
