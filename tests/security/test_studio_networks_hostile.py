"""The network editor's routes against hostile input: requests without the token, module imports on a Studio
reachable from other machines, imports that never end or spawn processes, path tricks on open and save,
oversized and malformed specs, code smuggled into ids and params. Each must fail with a 4xx JSON answer
(never 500), run nothing it should not, and write nothing outside the workspace.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidal.studio import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studio"))
from studio_helpers import start_studio, stop  # noqa: E402

TOKEN = "networks-hostile-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MLP = {
    "tidal-nn": 1, "name": "mlp", "inputs": {"x": {"shape": ["batch", 4]}},
    "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 2}}],
    "outputs": {"y": "fc"},
}


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-networks") / "ws"
    (root / "networks").mkdir(parents=True)
    (root.parent / "outside.yaml").write_text("tidal-nn: 1\nname: secret-outside\ninputs: {x: {shape: [1]}}\n"
                                              "layers: [{id: a, kind: relu, inputs: [x]}]\noutputs: [a]\n")
    (root / "networks" / "escape.yaml").symlink_to(root.parent / "outside.yaml")
    return root


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace, workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def locked(workspace):
    """Bound off loopback (a token), without --allow-code."""
    with TestClient(create_app(workspace, workers=1, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def locked_code(workspace):
    """Bound off loopback with --allow-code."""
    with TestClient(create_app(workspace, workers=1, token=TOKEN, allow_code=True), base_url="http://127.0.0.1") as test_client:
        yield test_client


def marker_source(marker: Path, body: str = "") -> str:
    return (f"import os\nopen({str(marker)!r}, 'w').write(str(os.getpid()) + ' ' + "
            f"str(os.environ.get('TIDAL_STUDIO_TOKEN')))\n{body}")


ROUTES = [
    ("GET", "/api/networks/kinds", None),
    ("GET", "/api/networks", None),
    ("GET", "/api/networks/networks/escape.yaml", None),
    ("POST", "/api/networks/check", {"network": MLP}),
    ("POST", "/api/networks/code", {"network": MLP}),
    ("POST", "/api/networks/import", {"source": "x = 1\n", "class_name": "Net", "inputs": [{"shape": [1, 4]}]}),
    ("PUT", "/api/networks/networks/new.yaml", {"network": MLP}),
]


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_every_route_needs_the_token_off_loopback(locked, workspace, method, route, body):
    answer = locked.request(method, route, json=body)
    assert answer.status_code == 401, answer.text
    assert "token" in answer.json()["detail"]
    assert not (workspace / "networks" / "new.yaml").exists()
    wrong = locked.request(method, route, json=body, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401


def test_off_loopback_an_import_is_refused_without_allow_code(locked, tmp_path):
    marker = tmp_path / "ran.txt"
    answer = locked.post("/api/networks/import", headers=BEARER,
                         json={"source": marker_source(marker), "class_name": "Net", "inputs": [{"shape": [1, 4]}]})
    assert answer.status_code == 403, answer.text
    assert "--allow-code" in answer.json()["detail"]
    assert not marker.exists()  # the code never ran
    assert locked.get("/api/info", headers=BEARER).json()["import_code"] is False
    assert locked.post("/api/networks/check", headers=BEARER, json={"network": MLP}).json()["ok"] is True


def test_a_real_studio_bound_off_loopback_refuses_imports(workspace, tmp_path):
    """``tidal studio --host 0.0.0.0``: serve() tells the app it is off loopback (not only a token's presence)."""
    import httpx

    marker = tmp_path / "ran.txt"
    process, port, log = start_studio(workspace, "--host", "0.0.0.0", "--token", TOKEN)
    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/api/networks/import", headers=BEARER, timeout=60,
                            json={"source": marker_source(marker), "class_name": "Net", "inputs": [{"shape": [1, 4]}]})
        info = httpx.get(f"http://127.0.0.1:{port}/api/info", headers=BEARER, timeout=60).json()
    finally:
        stop(process)
    assert answer.status_code == 403, answer.text
    assert not marker.exists() and info["import_code"] is False


def test_with_allow_code_the_import_runs_in_a_worker_that_never_sees_the_token(locked_code, tmp_path, monkeypatch):
    monkeypatch.setenv("TIDAL_STUDIO_TOKEN", TOKEN)
    marker = tmp_path / "ran.txt"
    answer = locked_code.post("/api/networks/import", headers=BEARER,
                              json={"source": marker_source(marker), "class_name": "Net", "inputs": [{"shape": [1, 4]}]})
    assert answer.status_code == 400, answer.text  # the file defines no Net: an error for the user, named
    assert "no nn.Module class 'Net'" in answer.json()["detail"]
    pid, token = marker.read_text().split()
    assert int(pid) != os.getpid()  # not in the server's process
    assert token == "None"


def test_an_import_that_never_ends_is_killed_with_what_it_started(client, tmp_path):
    marker = tmp_path / "loop.txt"
    child = tmp_path / "child.txt"
    body = (f"import subprocess\np = subprocess.Popen(['sleep', '600'])\nopen({str(child)!r}, 'w').write(str(p.pid))\n"
            "while True:\n    pass\n")
    answer = client.post("/api/networks/import", json={"source": marker_source(marker, body), "class_name": "Net",
                                                       "inputs": [{"shape": [1, 4]}], "timeout_s": 5})
    assert answer.status_code == 400, answer.text
    assert "stopped after 5 s" in answer.json()["detail"]
    worker = int(marker.read_text().split()[0])
    sleeper = int(child.read_text())
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once; the child may wait for its reaper
    while (alive(worker) or alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker) and not alive(sleeper)


def test_imports_beyond_the_limit_are_answered_429(client, tmp_path):
    answers: list[int] = []
    markers = [tmp_path / f"busy{index}.txt" for index in range(2)]

    def slow(marker: Path) -> None:
        answers.append(client.post("/api/networks/import", json={
            "source": marker_source(marker, "import time\ntime.sleep(60)\n"), "class_name": "Net",
            "inputs": [{"shape": [1, 4]}], "timeout_s": 8}).status_code)

    threads = [threading.Thread(target=slow, args=(marker,)) for marker in markers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not all(marker.exists() for marker in markers) and time.monotonic() < deadline:
        time.sleep(0.05)
    third = client.post("/api/networks/import", json={"source": "x = 1\n", "class_name": "Net", "inputs": [{"shape": [1]}]})
    assert third.status_code == 429, third.text
    assert "try again" in third.json()["detail"]
    for thread in threads:
        thread.join()
    assert answers == [400, 400]


@pytest.mark.parametrize("path", [
    "..%2F..%2Foutside.yaml", "%252e%252e%252foutside.yaml", "../outside.yaml", "/etc/passwd",
    "networks%5C..%5C..%5Coutside.yaml", "networks/escape.yaml", "networks/x.yaml%00.txt",
])
def test_path_tricks_on_open_and_save_are_refused(client, workspace, path):
    opened = client.get(f"/api/networks/{path}")
    assert opened.status_code in (400, 403, 404), opened.text
    assert "secret-outside" not in opened.text
    saved = client.put(f"/api/networks/{path}", json={"network": MLP, "overwrite": True})
    assert saved.status_code in (400, 403, 404, 405), saved.text
    assert "secret-outside" in (workspace.parent / "outside.yaml").read_text()  # not overwritten through the link
    assert not (workspace.parent / "etc").exists()


@pytest.mark.parametrize("path", ["../outside.yaml", "/etc/passwd", "networks/escape.yaml", "%2e%2e/outside.yaml"])
def test_the_folder_a_check_resolves_files_in_is_confined_too(client, path):
    """``path`` names where kind: module layers' files are read from: it may not leave the workspace."""
    spec = {**MLP, "layers": [{"id": "head", "kind": "module", "inputs": ["x"], "params": {"file": "outside.yaml"}}],
            "outputs": {"y": "head"}}
    for route in ("/api/networks/check", "/api/networks/code"):
        answer = client.post(route, json={"network": spec, "path": path})
        assert answer.status_code == 403, answer.text
        assert "secret-outside" not in answer.text


def test_the_listing_skips_links_that_leave_the_workspace(client):
    assert all(item["name"] != "secret-outside" for item in client.get("/api/networks").json())


def test_oversized_and_deep_specs_are_refused(client):
    many = {**MLP, "layers": [{"id": f"l{index}", "kind": "relu", "inputs": ["x"]} for index in range(20_001)]}
    answer = client.post("/api/networks/check", json={"network": many})
    assert answer.status_code == 200 and answer.json()["ok"] is False
    assert "20000" in answer.text or "20,000" in answer.text
    huge = {**MLP, "description": "x" * 100, "x-blob": "y" * (11 * 1024 * 1024)}
    refused = client.post("/api/networks/code", json={"network": huge})
    assert refused.status_code == 400 and "limit" in refused.json()["detail"]
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["a"] = {}
        node = node["a"]
    nested = client.post("/api/networks/check", json={"network": {**MLP, "x-deep": deep}})
    assert nested.status_code == 400 and "nested" in nested.json()["detail"]
    source = client.post("/api/networks/import", json={"source": "#" * 1_000_001, "class_name": "Net", "inputs": [{"shape": [1]}]})
    assert source.status_code == 422


@pytest.mark.parametrize("change", [
    lambda spec: spec["layers"][0].update(id="fc; import os"),
    lambda spec: spec["layers"][0].update(kind="__import__('os')"),
    lambda spec: spec["layers"][0]["params"].update(out_features="__import__('os').system('touch pwned')"),
    lambda spec: spec["layers"][0]["params"].update(bias="os.system('x')"),
    lambda spec: spec.update(outputs={"y": "fc; import os"}),
    lambda spec: spec["inputs"].update(x={"shape": ["batch; import os", 4]}),
    lambda spec: spec.update(layers="not a list"),
    lambda spec: spec.update(inputs=[1, 2]),
])
def test_code_never_carries_smuggled_text(client, workspace, change):
    spec = copy.deepcopy(MLP)
    change(spec)
    code = client.post("/api/networks/code", json={"network": spec})
    assert code.status_code == 422, code.text
    assert code.json()["issues"], code.json()
    assert "code" not in code.json()  # an error body: nothing was generated
    checked = client.post("/api/networks/check", json={"network": spec}).json()
    assert checked["ok"] is False and checked["issues"]
    assert not (workspace / "pwned").exists()


@pytest.mark.parametrize("body", [
    {"network": "tidal-nn: 1"}, {"network": None}, {"network": []}, {}, {"network": {"tidal-nn": 2}},
])
def test_malformed_bodies_answer_4xx_json(client, body):
    for route in ("/api/networks/check", "/api/networks/code"):
        answer = client.post(route, json=body)
        if route.endswith("check") and answer.status_code == 200:
            assert answer.json()["ok"] is False
            continue
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["detail"]


@pytest.mark.parametrize("body", [
    {"source": "x = 1", "class_name": "os.system", "inputs": [{"shape": [1]}]},
    {"source": "x = 1", "class_name": "Net", "inputs": []},
    {"source": "x = 1", "class_name": "Net", "inputs": [{"shape": [0]}]},
    {"source": "x = 1", "class_name": "Net", "inputs": [{"shape": [1], "dtype": "object"}]},
    {"source": "x = 1", "class_name": "Net", "inputs": [{"shape": [1]}], "via": "eval"},
    {"source": "x = 1", "class_name": "Net", "inputs": [{"shape": [1]}], "timeout_s": 100_000},
])
def test_bad_import_requests_are_refused_before_anything_runs(client, body):
    answer = client.post("/api/networks/import", json=body)
    assert answer.status_code == 422, answer.text


def test_writes_from_other_sites_are_refused(client, workspace):
    form = client.put("/api/networks/networks/form.yaml", content="network=1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    foreign = client.post("/api/networks/import", headers={"Origin": "http://evil.example"},
                          json={"source": "x = 1", "class_name": "Net", "inputs": [{"shape": [1]}]})
    assert foreign.status_code == 403
    assert not (workspace / "networks" / "form.yaml").exists()
