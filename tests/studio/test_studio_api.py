"""Every Studio route, through the app; the OpenAPI schema is valid and the responses match it."""

from __future__ import annotations

import json
import re
import threading

import pandas as pd
import pytest
import yaml
from studio_helpers import wait_for_run

from tidal.pipeline import Pipeline, load_pipeline, save_pipeline

DEMO = "pipelines/demo.yaml"
NETWORK = {"tidal-nn": 1, "name": "n", "inputs": {"x": {"shape": ["batch", 4]}},
           "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 2}}], "outputs": {"y": "fc"}}
#: writes without a body still declare JSON: the Studio refuses other writes (cross-site protection)
JSON = {"Content-Type": "application/json"}


def demo_dict(client) -> dict:
    return client.get(f"/api/pipelines/{DEMO}").json()["pipeline"]


def run_demo(client, **options) -> tuple[str, list[dict]]:
    response = client.post("/api/runs", json={"pipeline": demo_dict(client), "path": DEMO, **options})
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    return run_id, wait_for_run(client, run_id)


# -- catalogue -----------------------------------------------------------------------------------------------
def test_info(client, demo_ws):
    info = client.get("/api/info").json()
    assert info["workspace"] == str(demo_ws.resolve())
    assert info["auth"] is False and info["database"] == "sqlite" and info["components"] > 100


def test_components_and_docs(client):
    listed = client.get("/api/components").json()
    ids = [item["id"] for item in listed]
    assert ids == sorted(ids) and "classification.logistic_regression" in ids
    assert {item["category"] for item in listed} >= {"io", "data", "classification", "evaluation", "model"}
    detail = client.get("/api/components/classification.logistic_regression").json()
    assert detail["params_schema"]["properties"]["label"]["x-column-of"] == "*"
    assert "label" in detail["params_schema"]["required"] or "label" in detail["params_schema"]["properties"]
    assert detail["description"] and detail["outputs"][0]["type"] == "Model"
    missing = client.get("/api/components/classification.logistic_regresion")
    assert missing.status_code == 404 and "did you mean" in missing.json()["detail"]


# -- pipelines -----------------------------------------------------------------------------------------------
def test_list_pipelines_finds_only_pipeline_files(client, demo_ws):
    (demo_ws / "config.yaml").write_text("just: settings\n")
    (demo_ws / "broken.yaml").write_text("tidal: 1\nname: broken\nnodes: [{id: a}]\n")
    (demo_ws / ".tidal" / "hidden.yaml").parent.mkdir(exist_ok=True)
    (demo_ws / ".tidal" / "hidden.yaml").write_text("tidal: 1\nname: hidden\nnodes: []\n")
    listed = {item["path"]: item for item in client.get("/api/pipelines").json()}
    assert set(listed) == {DEMO, "broken.yaml"}
    assert listed[DEMO]["name"] == "breast-cancer-baseline" and listed[DEMO]["nodes"] == 5
    assert listed[DEMO]["error"] is None and "component" in listed["broken.yaml"]["error"]


def test_open_pipeline(client, demo_ws):
    document = client.get(f"/api/pipelines/{DEMO}").json()
    assert document["path"] == DEMO and document["issues"] == []
    assert document["pipeline"] == load_pipeline(demo_ws / DEMO).to_dict()
    assert document["yaml"] == (demo_ws / DEMO).read_text()
    assert client.get("/api/pipelines/pipelines/nope.yaml").status_code == 400
    (demo_ws / "bad.yaml").write_text("tidal: 1\nname: [unclosed\n")
    bad = client.get("/api/pipelines/bad.yaml")
    assert bad.status_code == 400 and "not valid YAML" in bad.json()["detail"]


def test_studio_save_round_trips_exactly(client, demo_ws):
    """Opened in the Studio and saved unchanged, a file is byte-for-byte what the SDK writes."""
    canonical = demo_ws / "pipelines" / "canonical.yaml"
    save_pipeline(load_pipeline(demo_ws / DEMO), canonical)
    document = client.get("/api/pipelines/pipelines/canonical.yaml").json()
    saved = client.put("/api/pipelines/pipelines/copy.yaml", json={"pipeline": document["pipeline"], "overwrite": False})
    assert saved.status_code == 200, saved.text
    assert (demo_ws / "pipelines" / "copy.yaml").read_text() == canonical.read_text()
    assert saved.json()["yaml"] == canonical.read_text()


def test_hand_edited_file_keeps_everything(client, demo_ws):
    text = """\
tidal: 1
name: hand-made
description: written in an editor
x-owner: data-team
nodes:
  - id: read
    component: io.read_csv
    title: Raw data
    params: {path: data/breast_cancer.csv}
    cache: false
    retries: 2
    timeout: 30
    x-note: keep me
  - id: split
    component: data.split
    inputs: {data: read.output}
"""
    (demo_ws / "hand.yaml").write_text(text)
    document = client.get("/api/pipelines/hand.yaml").json()
    client.put("/api/pipelines/hand.yaml", json={"pipeline": document["pipeline"]}).raise_for_status()
    again = load_pipeline(demo_ws / "hand.yaml")
    assert again.to_dict() == Pipeline.from_yaml(text).to_dict()
    assert again.extra == {"x-owner": "data-team"} and again.nodes["read"].extra == {"x-note": "keep me"}
    assert str(again.nodes["split"].inputs["data"]) == "read.output" and again.layout == {}


def test_save_as_conflicts_and_bad_input(client, demo_ws):
    pipeline = demo_dict(client)
    conflict = client.put(f"/api/pipelines/{DEMO}", json={"pipeline": pipeline, "overwrite": False})
    assert conflict.status_code == 409 and "already exists" in conflict.json()["detail"]
    assert client.put("/api/pipelines/notes.txt", json={"pipeline": pipeline}).status_code == 400
    assert client.put("/api/pipelines/pipelines", json={"pipeline": pipeline}).status_code == 400
    broken = client.put("/api/pipelines/x.yaml", json={"pipeline": {"tidal": 1, "name": "x", "nodes": [{"id": "a"}]}})
    assert broken.status_code == 422 and broken.json()["issues"][0]["node"] == "a"
    assert not (demo_ws / "x.yaml").exists()
    assert client.put("/api/pipelines/x.yaml", json={"nope": 1}).status_code == 422


def test_validate_reports_node_port_and_param(client):
    pipeline = demo_dict(client)
    nodes = {node["id"]: node for node in pipeline["nodes"]}
    del nodes["score"]["inputs"]["data"]
    nodes["train"]["params"]["C"] = -1
    nodes["eval"]["inputs"]["data"] = "train"
    issues = client.post("/api/pipelines/validate", json={"pipeline": pipeline}).json()["issues"]
    found = {(item["code"], item["node"], item["port"], item["param"]) for item in issues}
    assert ("missing_input", "score", "data", None) in found
    assert ("bad_param", "train", None, "C") in found
    assert ("type_mismatch", "eval", "data", None) in found
    structural = client.post("/api/pipelines/validate", json={"pipeline": {"tidal": 2, "name": "x", "nodes": []}}).json()
    assert "format version" in structural["issues"][0]["message"]


def test_python_export(client):
    code = client.post("/api/pipelines/python", json={"pipeline": demo_dict(client)}).json()["code"]
    compile(code, "demo.py", "exec")
    assert "logistic_regression" in code and "breast-cancer-baseline" in code


# -- runs ----------------------------------------------------------------------------------------------------
def test_run_streams_live_statuses_then_caches(client):
    run_id, events = run_demo(client)
    by_node: dict[str, list[str]] = {}
    for event in events:
        if event["node_id"]:
            by_node.setdefault(event["node_id"], []).append(event["status"])
    assert set(by_node) == {"read", "split", "train", "score", "eval"}
    assert all(statuses[0] == "queued" and statuses[-1] == "succeeded" and "running" in statuses for statuses in by_node.values())
    assert events[-1]["status"] == "succeeded" and events[-1]["node_id"] is None
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["status"] == "succeeded" and detail["pipeline_path"].endswith(DEMO) and detail["active"] is False
    assert detail["nodes"]["eval"]["metrics"]["auc"] > 0.9
    assert detail["params"]["train"] == {"label": "malignant", "C": 1.0}
    second, events = run_demo(client)
    assert {event["node_id"] for event in events if event["status"] == "cached"} == {"read", "split", "train", "score", "eval"}
    replay = wait_for_run(client, run_id)  # a finished run replays from the store
    assert {event["node_id"] for event in replay if event["status"] == "succeeded"} >= {"read", "eval"}
    listed = [item["id"] for item in client.get("/api/runs").json()]
    assert listed[:2] == [second, run_id]


def test_run_until_and_from_node(client):
    until_id, events = run_demo(client, until="split")
    assert {event["node_id"] for event in events if event["node_id"]} == {"read", "split"}
    _, events = run_demo(client, from_node="score")
    statuses = {event["node_id"]: event["status"] for event in events if event["node_id"]}
    assert statuses == {"read": "cached", "split": "cached", "train": "succeeded", "score": "succeeded", "eval": "succeeded"}
    assert client.post("/api/runs", json={"pipeline": demo_dict(client), "until": "nope"}).status_code == 404


def test_invalid_pipeline_does_not_run(client):
    pipeline = demo_dict(client)
    pipeline["nodes"][2]["params"]["C"] = "high"
    response = client.post("/api/runs", json={"pipeline": pipeline})
    assert response.status_code == 422
    assert response.json()["issues"][0]["param"] == "C"
    assert client.get("/api/runs").json() == []


def test_cancel_a_running_run_and_read_logs(client, demo_ws):
    gate = demo_ws / "gate"
    pipeline = {"tidal": 1, "name": "held", "nodes": [
        {"id": "source", "component": "testing.source"},
        {"id": "hold", "component": "testing.wait_for_file", "inputs": {"data": "source"}, "params": {"path": str(gate)}},
    ]}
    run_id = client.post("/api/runs", json=pipeline and {"pipeline": pipeline}).json()["run_id"]
    events: list[dict] = []
    reader = threading.Thread(target=lambda: events.extend(wait_for_run(client, run_id)))
    reader.start()
    for _ in range(300):
        if client.get(f"/api/runs/{run_id}").json().get("nodes", {}).get("hold", {}).get("status") == "running":
            break
        threading.Event().wait(0.1)
    assert client.post(f"/api/runs/{run_id}/cancel", headers=JSON).json() == {"run_id": run_id, "cancelled": True}
    reader.join(60)
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
    assert any(event["status"] == "cancelled" for event in events)
    assert client.post(f"/api/runs/{run_id}/cancel", headers=JSON).json()["cancelled"] is False
    failing = {"tidal": 1, "name": "failing", "nodes": [
        {"id": "source", "component": "testing.source"},
        {"id": "bad", "component": "testing.fail", "inputs": {"data": "source"}, "params": {"message": "the sky fell"}},
    ]}
    failed_id = client.post("/api/runs", json={"pipeline": failing}).json()["run_id"]
    wait_for_run(client, failed_id)
    log = client.get(f"/api/runs/{failed_id}/nodes/bad/log").json()
    assert log["status"] == "failed" and "the sky fell" in log["text"]
    assert client.get(f"/api/runs/{failed_id}/nodes/nope/log").status_code == 404
    assert client.get("/api/runs/nope").status_code == 404


def test_compare_two_runs(client):
    first, _ = run_demo(client)
    changed = demo_dict(client)
    changed["nodes"][2]["params"]["C"] = 0.01
    second = client.post("/api/runs", json={"pipeline": changed}).json()["run_id"]
    wait_for_run(client, second)
    comparison = client.get(f"/api/runs/compare?a={first}&b={second}").json()
    params = {row["key"]: row for row in comparison["params"]}
    assert params["train.C"] == {"key": "train.C", "a": 1.0, "b": 0.01, "different": True}
    assert params["split.seed"]["different"] is False
    metrics = {row["key"]: row for row in comparison["metrics"]}
    assert metrics["eval.auc"]["different"] and 0.5 < metrics["eval.auc"]["b"] <= 1
    assert client.get(f"/api/runs/compare?a={first}&b=nope").status_code == 404


# -- outputs -------------------------------------------------------------------------------------------------
def test_outputs_table_metrics_model_and_stats(client, demo_ws):
    run_id, _ = run_demo(client)
    nodes = client.get(f"/api/runs/{run_id}").json()["nodes"]
    table_id = nodes["split"]["outputs"]["test"]["id"]
    page = client.get(f"/api/artifacts/{table_id}?offset=100&limit=10").json()
    assert page["type"] == "Table" and page["rows"] == 114 and len(page["data"]) == 10 and page["offset"] == 100
    assert len(client.get(f"/api/artifacts/{table_id}?offset=110&limit=10").json()["data"]) == 4
    assert [column["name"] for column in page["columns"]][-1] == "malignant"
    stats = {item["name"]: item for item in client.get(f"/api/artifacts/{table_id}/stats").json()["columns"]}
    frame = pd.read_parquet(client.app.state.studio.artifact_path(
        client.app.state.studio.workspace.metadata.artifact(table_id).uri))
    radius = stats["mean_radius"]
    assert radius["count"] == 114 and radius["nulls"] == 0
    assert radius["min"] == frame["mean_radius"].min() and radius["max"] == frame["mean_radius"].max()
    assert radius["mean"] == pytest.approx(frame["mean_radius"].mean())
    assert stats["malignant"]["distinct"] == 2
    metrics = client.get(f"/api/artifacts/{nodes['eval']['outputs']['output']['id']}").json()
    assert metrics["metrics"]["auc"] > 0.9
    roc = metrics["figures"]["roc"]
    assert "vega-lite" in roc.get("$schema", "") or "mark" in roc or "layer" in roc
    model = client.get(f"/api/artifacts/{nodes['train']['outputs']['output']['id']}").json()
    assert model["summary"]["flavor"] == "sklearn" and model["summary"]["label"] == "malignant"
    assert client.get(f"/api/artifacts/{nodes['eval']['outputs']['output']['id']}/stats").status_code == 400
    assert client.get("/api/artifacts/999999").status_code == 404
    assert client.get(f"/api/artifacts/{table_id}?limit=0").status_code == 422


def test_columns_for_pickers(client):
    empty = client.get("/api/columns?pipeline=breast-cancer-baseline&node=split&port=train").json()
    assert empty == {"run_id": None, "columns": []}
    run_id, _ = run_demo(client, until="split")
    found = client.get("/api/columns?pipeline=breast-cancer-baseline&node=split&port=train").json()
    assert found["run_id"] == run_id and found["columns"][-1] == {"name": "malignant", "type": "int64"}


# -- front end, errors, OpenAPI --------------------------------------------------------------------------
def test_front_end_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<div id="root">' in page.text
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.get(script).status_code == 200


def test_unknown_routes_and_bad_requests_answer_json(client):
    response = client.get("/api/nothing/here")
    assert response.status_code == 404 and response.json()["detail"].startswith("no API route")
    response = client.post("/api/runs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "not valid" in response.json()["detail"]


def _schema_for(spec: dict, method: str, template: str, status: int) -> dict | None:
    operation = spec["paths"][template][method]
    content = operation["responses"].get(str(status), {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def test_openapi_schema_is_valid_and_matches_responses(client):
    from openapi_schema_validator import OAS31Validator
    from openapi_spec_validator import validate

    spec = client.get("/openapi.json").json()
    validate(spec)
    run_id, _ = run_demo(client)
    nodes = client.get(f"/api/runs/{run_id}").json()["nodes"]
    table_id = nodes["split"]["outputs"]["test"]["id"]
    calls = [
        ("get", "/api/info", "/api/info", 200, None),
        ("get", "/api/components", "/api/components", 200, None),
        ("get", "/api/components/{component_id}", "/api/components/data.split", 200, None),
        ("get", "/api/components/{component_id}", "/api/components/no.such", 404, None),
        ("get", "/api/pipelines", "/api/pipelines", 200, None),
        ("get", "/api/pipelines/{path}", f"/api/pipelines/{DEMO}", 200, None),
        ("put", "/api/pipelines/{path}", "/api/pipelines/p2.yaml", 200, {"pipeline": demo_dict(client)}),
        ("put", "/api/pipelines/{path}", "/api/pipelines/../x.yaml".replace("..", "%2e%2e"), 403, {"pipeline": demo_dict(client)}),
        ("post", "/api/pipelines/validate", "/api/pipelines/validate", 200, {"pipeline": demo_dict(client)}),
        ("post", "/api/pipelines/python", "/api/pipelines/python", 200, {"pipeline": demo_dict(client)}),
        ("get", "/api/runs", "/api/runs", 200, None),
        ("get", "/api/runs/{run_id}", f"/api/runs/{run_id}", 200, None),
        ("get", "/api/runs/compare", f"/api/runs/compare?a={run_id}&b={run_id}", 200, None),
        ("post", "/api/runs/{run_id}/cancel", f"/api/runs/{run_id}/cancel", 200, None),
        ("get", "/api/runs/{run_id}/nodes/{node_id}/log", f"/api/runs/{run_id}/nodes/train/log", 200, None),
        ("get", "/api/columns", "/api/columns?pipeline=breast-cancer-baseline&node=read", 200, None),
        ("get", "/api/artifacts/{artifact_id}", f"/api/artifacts/{table_id}", 200, None),
        ("get", "/api/artifacts/{artifact_id}", f"/api/artifacts/{nodes['eval']['outputs']['output']['id']}", 200, None),
        ("get", "/api/artifacts/{artifact_id}", f"/api/artifacts/{nodes['train']['outputs']['output']['id']}", 200, None),
        ("get", "/api/artifacts/{artifact_id}/stats", f"/api/artifacts/{table_id}/stats", 200, None),
        ("post", "/api/runs", "/api/runs", 422, {"pipeline": {"tidal": 1, "name": "x", "nodes": []}}),
        ("get", "/api/plugins", "/api/plugins", 200, None),
        ("get", "/api/streams", "/api/streams", 200, None),
        ("post", "/api/plugins/install", "/api/plugins/install", 403, {"package": "acme-tools"}),
        # studies (their 200 and 202 answers: tests/studio/test_studio_studies.py, which has a study to show)
        ("get", "/api/studies", "/api/studies", 200, None),
        ("get", "/api/studies/{study}", "/api/studies/nope", 404, None),
        ("post", "/api/studies", "/api/studies", 400, {"pipeline": demo_dict(client)}),  # it has no automl.tune node
        ("post", "/api/studies/{study}/stop", "/api/studies/nope/stop", 404, {}),
        ("post", "/api/studies/{study}/resume", "/api/studies/nope/resume", 404, {}),
        # models and services (a service's 202 and 200 answers: tests/studio/test_studio_models.py, which serves one)
        ("get", "/api/model-outputs", "/api/model-outputs", 200, None),
        ("post", "/api/models", "/api/models", 201, {"run_id": run_id, "node_id": "train", "name": "demo"}),
        ("get", "/api/models", "/api/models", 200, None),
        ("get", "/api/models/{name}", "/api/models/demo", 200, None),
        ("get", "/api/models/{name}", "/api/models/nope", 404, None),
        ("put", "/api/models/{name}/aliases/{alias}", "/api/models/demo/aliases/production", 200, {"version": 1}),
        ("delete", "/api/models/{name}/aliases/{alias}", "/api/models/demo/aliases/production", 200, None),
        ("post", "/api/models/{name}/tags", "/api/models/demo/tags", 200, {"tags": {"team": "studio"}}),
        ("get", "/api/services", "/api/services", 200, None),
        ("post", "/api/services", "/api/services", 404, {"model": "nope"}),
        ("get", "/api/services/{name}", "/api/services/nope", 404, None),
        ("post", "/api/services/{name}/stop", "/api/services/nope/stop", 404, {}),
        ("get", "/api/services/{name}/metrics", "/api/services/nope/metrics", 404, None),
        ("post", "/api/services/{name}/infer", "/api/services/nope/infer", 404, {"row": {}}),
        # networks (the editor's other answers: tests/studio/test_studio_networks.py)
        ("get", "/api/networks/kinds", "/api/networks/kinds", 200, None),
        ("post", "/api/networks/check", "/api/networks/check", 200, {"network": NETWORK}),
        ("post", "/api/networks/code", "/api/networks/code", 200, {"network": NETWORK}),
        ("post", "/api/networks/code", "/api/networks/code", 422, {"network": {**NETWORK, "outputs": {"y": "nope"}}}),
        ("post", "/api/networks/import", "/api/networks/import", 400,
         {"source": "def (", "class_name": "Net", "inputs": [{"shape": [1, 4]}]}),  # a syntax error: no torch needed
        ("put", "/api/networks/{path}", "/api/networks/networks/n.yaml", 200, {"network": NETWORK}),
        ("get", "/api/networks/{path}", "/api/networks/networks/n.yaml", 200, None),
        ("get", "/api/networks", "/api/networks", 200, None),
    ]
    covered = set()
    for method, template, url, status, body in calls:
        response = client.request(method.upper(), url, json=body, headers=JSON if method != "get" else None)
        assert response.status_code == status, (url, response.text)
        schema = _schema_for(spec, method, template, status)
        assert schema is not None, f"{method} {template} declares no {status} response"
        OAS31Validator({**schema, "components": spec["components"]}).validate(response.json())
        covered.add((method, template))
    started = client.post("/api/runs", json={"pipeline": demo_dict(client)})
    OAS31Validator({**_schema_for(spec, "post", "/api/runs", 202), "components": spec["components"]}).validate(started.json())  # type: ignore[dict-item]
    wait_for_run(client, started.json()["run_id"])
    covered |= {("post", "/api/runs"), ("get", "/api/runs/{run_id}/events")}
    declared = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert declared == covered, declared ^ covered
    assert "text/event-stream" in spec["paths"]["/api/runs/{run_id}/events"]["get"]["responses"]["200"]["content"]


def test_studio_yaml_is_what_tidal_run_reads(client, demo_ws):
    """A pipeline saved by the Studio runs with the SDK (the CLI's loader) unchanged."""
    pipeline = demo_dict(client)
    pipeline["layout"]["read"] = [10, 20]
    client.put("/api/pipelines/pipelines/moved.yaml", json={"pipeline": pipeline}).raise_for_status()
    data = yaml.safe_load((demo_ws / "pipelines" / "moved.yaml").read_text())
    assert data["layout"]["read"] == [10, 20]
    assert json.loads(json.dumps(load_pipeline(demo_ws / "pipelines" / "moved.yaml").to_dict())) == pipeline


def test_figure_output(client):
    pipeline = {"tidal": 1, "name": "chart", "nodes": [
        {"id": "read", "component": "io.read_csv", "params": {"path": "data/breast_cancer.csv"}},
        {"id": "plot", "component": "tools.chart", "inputs": {"data": "read"},
         "params": {"x": "mean_radius", "y": "mean_texture", "color": "malignant"}},
    ]}
    run_id = client.post("/api/runs", json={"pipeline": pipeline}).json()["run_id"]
    wait_for_run(client, run_id)
    output = client.get(f"/api/runs/{run_id}").json()["nodes"]["plot"]["outputs"]["output"]
    figure = client.get(f"/api/artifacts/{output['id']}").json()
    assert figure["type"] == "Figure" and figure["spec"]["mark"] in ("point", {"type": "point"}) or "point" in json.dumps(figure["spec"]["mark"])
    assert len(figure["spec"]["data"]["values"]) == 569


def test_events_follow_a_run_started_outside_the_studio(client, demo_ws):
    """A run from the CLI or a notebook (here: the SDK in a thread) is watched live from the store."""
    from tidal.runtime import run_pipeline

    gate = demo_ws / "gate-outside"
    pipeline = Pipeline.from_yaml(yaml.safe_dump({"tidal": 1, "name": "outside", "nodes": [
        {"id": "source", "component": "testing.source"},
        {"id": "hold", "component": "testing.wait_for_file", "inputs": {"data": "source"}, "params": {"path": str(gate)}},
    ]}))
    worker = threading.Thread(target=run_pipeline, args=(pipeline,), kwargs={"workspace": demo_ws, "workers": 1, "run_id": "outside-run"})
    worker.start()
    try:
        for _ in range(300):
            runs = client.get("/api/runs").json()
            if runs and client.get("/api/runs/outside-run").json().get("nodes", {}).get("hold", {}).get("status") == "running":
                break
            threading.Event().wait(0.1)
        threading.Timer(1.0, gate.touch).start()
        events = wait_for_run(client, "outside-run")
    finally:
        gate.touch()
        worker.join(60)
    hold = [event["status"] for event in events if event["node_id"] == "hold"]
    assert hold == ["running", "succeeded"]
    assert events[-1] == {**events[-1], "status": "succeeded", "node_id": None}
    detail = client.get("/api/runs/outside-run").json()
    assert detail["active"] is False and [node["id"] for node in detail["pipeline_data"]["nodes"]] == ["source", "hold"]
