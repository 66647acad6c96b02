"""The Studio against hostile input: files in its workspace, request bodies, other sites' pages,
WebSocket upgrades without a token, and pipelines that run code. Each attack must fail: 4xx JSON
(never 500), nothing written, no secret in any answer, no code run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidal.studio import create_app
from tidal.studio._auth import AccessMiddleware

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studio"))
from studio_helpers import start_studio, stop, wait_for_run  # noqa: E402

SECRET = "top-secret-outside-the-workspace"
TOKEN = "hostile-test-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}


def alias_bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "tidal: 1\nname: bomb\nnodes: []\nx-bomb:\n" + "\n".join("  " + line for line in lines) + "\n"


def plant_hostile_files(root: Path) -> dict[str, str]:
    """Hostile files in the workspace; file name -> words the refusal must hold."""
    (root / "bomb.yaml").write_text(alias_bomb())
    (root / "deep.yaml").write_bytes(b"tidal: 1\nname: deep\nnodes: []\nx: " + b"[" * 20_000 + b"]" * 20_000 + b"\n")
    (root / "latin1.yaml").write_bytes("tidal: 1\nname: café\nnodes: []\n".encode("latin-1"))
    (root / "binary.yaml").write_bytes(b"\x00\x01tidal: 1\xff")
    with open(root / "big.yaml", "wb") as handle:
        handle.write(b"tidal: 1\nname: big\nnodes: []\n")
        handle.seek(50 * 1024 * 1024)
        handle.write(b"\n")
    os.mkfifo(root / "fifo.yaml")  # opening it for reading would block forever
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.yaml").write_text(f"tidal: 1\nname: {SECRET}\nnodes: []\n")
    (root / "escape.yaml").symlink_to(outside / "secret.yaml")
    return {
        "bomb.yaml": "alias bomb",
        "deep.yaml": "levels deep",
        "latin1.yaml": "not UTF-8 text (byte 0xe9 at byte offset 18",
        "binary.yaml": "NUL byte at byte offset 0",
        "big.yaml": "too large",
        "fifo.yaml": "special file",
        "escape.yaml": "outside the workspace",
    }


@pytest.fixture
def demo_ws(tmp_path):
    from tidal.cli._demo import write_demo_workspace

    root = tmp_path / "ws"
    root.mkdir()
    write_demo_workspace(root)
    return root


@pytest.fixture
def client(demo_ws):
    with TestClient(create_app(demo_ws, workers=0), base_url="http://127.0.0.1") as test_client:
        yield test_client


# -- files in the workspace --------------------------------------------------------------------------
def test_pipeline_list_skips_and_reports_files_it_will_not_read(client, demo_ws):
    expected = plant_hostile_files(demo_ws)
    response = client.get("/api/pipelines")
    assert response.status_code == 200, response.text
    assert SECRET not in response.text and len(response.content) < 100_000
    entries = {item["path"]: item for item in response.json()}
    assert entries["pipelines/demo.yaml"]["error"] is None and entries["pipelines/demo.yaml"]["skipped"] is False
    for name, words in expected.items():
        entry = entries[name]
        assert entry["skipped"] is True and entry["error"].startswith("skipped: "), entry
        assert words in entry["error"], entry
        assert entry["name"] is None and entry["nodes"] is None


def test_opening_a_hostile_file_answers_4xx_json(client, demo_ws):
    expected = plant_hostile_files(demo_ws)
    for name, words in expected.items():
        if name == "fifo.yaml":
            continue  # covered by the list; the open route refuses it the same way
        response = client.get(f"/api/pipelines/{name}")
        assert response.status_code in (400, 403), (name, response.status_code)
        assert len(response.content) < 10_000, name  # the alias bomb used to answer 300 MB
        detail = response.json()["detail"]
        assert SECRET not in response.text
        assert words in detail or "outside the workspace" in detail, (name, detail)


def test_request_bodies_nested_too_deep_get_400_not_500(client, demo_ws):
    document = client.get("/api/pipelines/pipelines/demo.yaml").json()["pipeline"]
    document["nodes"][0]["params"]["deep"] = "@DEEP@"
    body = json.dumps({"pipeline": document})
    for depth in (150, 900, 5_000):
        payload = body.replace('"@DEEP@"', '{"a": ' * depth + "1" + "}" * depth)
        for method, route in (("POST", "/api/pipelines/validate"), ("POST", "/api/pipelines/python"),
                              ("POST", "/api/runs"), ("PUT", "/api/pipelines/deep-save.yaml")):
            response = client.request(method, route, content=payload, headers=JSON)
            assert response.status_code == 400, (depth, route, response.text[:300])
            assert response.json()["detail"]
    assert not (demo_ws / "deep-save.yaml").exists()
    assert client.get("/api/runs").json() == []


# -- other sites' pages ----------------------------------------------------------------------------
def test_simple_cross_site_writes_are_refused(client, demo_ws):
    document = client.get("/api/pipelines/pipelines/demo.yaml").json()["pipeline"]
    body = json.dumps({"pipeline": document, "overwrite": True})
    target = demo_ws / "planted.yaml"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.put("/api/pipelines/planted.yaml", content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["detail"]
        assert client.post("/api/runs", content=body, headers=headers).status_code == 415
    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example", "https://127.0.0.1:1"):
        response = client.put("/api/pipelines/planted.yaml", content=body, headers={**JSON, "Origin": origin})
        assert response.status_code == 403, (origin, response.text)
        assert "cross-site" in response.json()["detail"]
    assert not target.exists()
    assert client.get("/api/runs").json() == []
    same_site = client.put("/api/pipelines/planted.yaml", content=body, headers={**JSON, "Origin": "http://127.0.0.1"})
    assert same_site.status_code == 200, same_site.text
    assert client.post("/api/runs/none/cancel", headers=JSON).status_code == 404  # a JSON write without a body passes


def test_the_built_front_end_declares_json_on_every_write():
    """The Studio's own page must keep working: its one fetch wrapper sends JSON on every non-GET call."""
    static = Path(create_app.__code__.co_filename).parent / "static" / "assets"
    bundle = next(path for path in static.glob("index-*.js")).read_text()
    assert 'headers:e===`GET`?{}:{"Content-Type":`application/json`}' in bundle
    source = Path(__file__).resolve().parents[2] / "web" / "src" / "api.ts"
    if source.exists():
        assert "headers: method === 'GET' ? {} : { 'Content-Type': 'application/json' }" in source.read_text()


# -- code in pipelines -----------------------------------------------------------------------------
def gadget(marker: Path) -> dict:
    code = f"def run(t1, t2=None, t3=None):\n    open({str(marker)!r}, 'w').write('pwned')\n    return t1\n"
    return {"tidal": 1, "name": "gadget", "nodes": [
        {"id": "source", "component": "testing.source"},
        {"id": "evil", "component": "tools.python_script", "inputs": {"t1": "source"}, "params": {"code": code}},
    ]}


def test_studio_refuses_code_nodes_unless_started_with_allow_code(client, demo_ws, tmp_path):
    marker = tmp_path / "pwned.txt"
    assert client.get("/api/info").json()["allow_code"] is False
    refused = client.post("/api/runs", json={"pipeline": gadget(marker)})
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert "node 'evil' (tools.python_script)" in detail and "tidal studio --allow-code" in detail
    until = client.post("/api/runs", json={"pipeline": gadget(marker), "until": "evil"})
    assert until.status_code == 403
    assert client.get("/api/runs").json() == [] and not marker.exists()
    with TestClient(create_app(demo_ws, workers=0, allow_code=True), base_url="http://127.0.0.1") as allowed:
        assert allowed.get("/api/info").json()["allow_code"] is True
        started = allowed.post("/api/runs", json={"pipeline": gadget(marker)})
        assert started.status_code == 202, started.text
        events = wait_for_run(allowed, started.json()["run_id"])
        assert any(event["status"] == "succeeded" and event["node_id"] == "evil" for event in events)
    assert marker.read_text() == "pwned"


# -- a real server: WebSocket upgrades and the event stream without a token ---------------------
def raw(port: int, request: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request.encode())
        data = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body


def upgrade(port: int, path: str, headers: str = "", host: str | None = None) -> tuple[int, str]:
    return raw(port, f"GET {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     f"Sec-WebSocket-Version: 13\r\n{headers}\r\n")


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    from tidal.cli._demo import write_demo_workspace

    root = tmp_path_factory.mktemp("hostile-studio") / "ws"
    root.mkdir()
    write_demo_workspace(root)
    process, port, _ = start_studio(root, "--token", TOKEN)
    yield port
    stop(process)


def test_websocket_upgrades_without_a_token_get_401_not_500(token_server):
    port = token_server
    for path in ("/api/runs/x/events", "/ws", "/api/ws", "/"):
        status, body = upgrade(port, path)
        assert status == 401, (path, status, body)
        assert "token" in json.loads(body)["detail"]
        assert upgrade(port, path, "Authorization: Bearer wrong\r\n")[0] == 401
        assert upgrade(port, f"{path}?token=wrong")[0] == 401
    status, body = upgrade(port, "/ws", host="attacker.example")
    assert status == 403 and "not allowed" in json.loads(body)["detail"]
    status, _ = upgrade(port, "/ws", f"Authorization: Bearer {TOKEN}\r\n")
    assert status in (403, 404)  # no WebSocket route: refused by the router, still not a crash
    status, body = upgrade(port, "/ws", f"Authorization: Bearer {TOKEN}\r\nOrigin: http://evil.example\r\n")
    assert status == 403 and "cross-site" in json.loads(body)["detail"]


def test_event_stream_and_writes_on_a_real_server(token_server):
    port = token_server
    host = f"Host: 127.0.0.1:{port}\r\n"
    status, body = raw(port, f"GET /api/runs/x/events HTTP/1.1\r\n{host}Accept: text/event-stream\r\nConnection: close\r\n\r\n")
    assert status == 401 and "token" in json.loads(body)["detail"]
    form = "pipeline=x"
    status, body = raw(port, f"POST /api/pipelines/validate HTTP/1.1\r\n{host}Authorization: Bearer {TOKEN}\r\n"
                             f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n"
                             f"Connection: close\r\n\r\n{form}")
    assert status == 415 and "application/json" in json.loads(body)["detail"]
    payload = json.dumps({"pipeline": {"tidal": 1, "name": "x", "nodes": []}})
    status, body = raw(port, f"POST /api/pipelines/validate HTTP/1.1\r\n{host}Authorization: Bearer {TOKEN}\r\n"
                             f"Origin: http://evil.example\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n{payload}")
    assert status == 403 and "cross-site" in json.loads(body)["detail"]
    status, _ = raw(port, f"POST /api/pipelines/validate HTTP/1.1\r\n{host}Authorization: Bearer {TOKEN}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n{payload}")
    assert status == 200


def test_websocket_refusal_without_the_http_response_extension_closes_with_policy_code():
    """Servers without ASGI's websocket.http.response extension get a close (they answer 403)."""
    sent: list[dict] = []

    async def app(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("the app was reached without a token")

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    middleware = AccessMiddleware(app, token=TOKEN, allowed_hosts=None)
    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"127.0.0.1")], "query_string": b""}
    asyncio.run(middleware(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": sent[0]["reason"]}]
    assert "token" in sent[0]["reason"]
