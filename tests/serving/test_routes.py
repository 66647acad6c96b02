"""Every route and every error of the model server, through its ASGI app (no network needed)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest
from serving_helpers import feature_names

from tidal.models import load_model
from tidal.serving import ModelServer, ModelSpec, ServerOptions


@pytest.fixture(scope="module")
def server(lightgbm_archive, regression_archives):
    return ModelServer([ModelSpec("cancer", str(lightgbm_archive)), ModelSpec("linear", str(regression_archives[0]))],
                       options=ServerOptions(max_body_bytes=64 * 1024, unknown_columns="refuse"))  # ignore: test_interop


def call(server, method: str, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def tensors(frame, names, datatype="FP64"):
    return {"inputs": [{"name": name, "shape": [len(frame)], "datatype": datatype, "data": frame[name].tolist()} for name in names]}


def test_health_server_and_model_metadata(server, cancer):
    assert call(server, "GET", "/v2/health/live").json() == {"live": True}
    assert call(server, "GET", "/v2/health/ready").json() == {"ready": True}
    meta = call(server, "GET", "/v2").json()
    assert meta["name"] == "tidal" and "binary_tensor_data" in meta["extensions"]
    model = call(server, "GET", "/v2/models/cancer").json()
    assert model["versions"] == ["1"] and model["platform"] == "tidal-lightgbm"
    assert [item["name"] for item in model["inputs"]] == feature_names(cancer)
    assert {item["datatype"] for item in model["inputs"]} == {"FP64"}
    assert model["outputs"][0] == {"name": "prediction", "datatype": "INT64", "shape": [-1]}
    assert model["outputs"][1]["shape"] == [-1, 2] and model["outputs"][1]["parameters"]["classes"] == "[0, 1]"
    assert call(server, "GET", "/v2/models/cancer/versions/1").json()["name"] == "cancer"
    assert call(server, "GET", "/v2/models/cancer/ready").json() == {"name": "cancer", "ready": True}
    assert call(server, "GET", "/v2/models/cancer/versions/1/ready").status_code == 200
    assert call(server, "GET", "/v2/models/cancer/versions/4/ready").status_code == 404
    assert call(server, "GET", "/v2/models/nope/ready").status_code == 404
    assert "no model 'nope'" in call(server, "GET", "/v2/models/nope").json()["error"]


def test_v2_infer_matches_the_model_and_keeps_row_order(server, cancer, lightgbm_archive):
    features = feature_names(cancer)
    rows = cancer[features].iloc[10:17]
    expected = load_model(lightgbm_archive).predict_proba(rows)
    answer = call(server, "POST", "/v2/models/cancer/infer", json={"id": "a1", **tensors(rows, features)})
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == "a1" and body["model_name"] == "cancer" and body["model_version"] == "1"
    outputs = {item["name"]: item for item in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [7, 2]
    np.testing.assert_allclose(np.array(outputs["probabilities"]["data"]).reshape(7, 2), expected)
    assert outputs["prediction"]["data"] == expected.argmax(axis=1).tolist()
    only = call(server, "POST", "/v2/models/cancer/versions/1/infer",
                json={**tensors(rows, features), "outputs": [{"name": "prediction"}]}).json()
    assert [item["name"] for item in only["outputs"]] == ["prediction"]
    nested = {"inputs": [{"name": name, "shape": [7, 1], "datatype": "FP32", "data": [[v] for v in rows[name]]} for name in features]}
    np.testing.assert_allclose(
        np.array({o["name"]: o for o in call(server, "POST", "/v2/models/cancer/infer", json=nested).json()["outputs"]}
                 ["probabilities"]["data"]).reshape(7, 2), expected, rtol=1e-4)


def test_simple_json_route_answers_predictions_and_probabilities_in_order(server, cancer, lightgbm_archive):
    features = feature_names(cancer)
    rows = cancer[features].iloc[:6]
    expected = load_model(lightgbm_archive).predict_proba(rows)
    body = call(server, "POST", "/api/predict/cancer", json=rows.to_dict(orient="records")).json()
    assert body["predictions"] == expected.argmax(axis=1).tolist()
    assert [item["1"] for item in body["probabilities"]] == pytest.approx(expected[:, 1].tolist())
    single = call(server, "POST", "/api/predict/linear", json={"x": 4})
    assert single.json()["predictions"] == pytest.approx([8.0]) and "probabilities" not in single.json()
    assert call(server, "POST", "/api/predict/linear/versions/1", json=[{"x": 3.0}]).json()["predictions"] == pytest.approx([6.0])
    refused = call(server, "POST", "/api/predict/linear", json=[{"x": None}])  # valid (null is allowed), but not for this model
    assert refused.status_code == 422 and "the model cannot score this input" in refused.json()["error"]


def test_invalid_requests_list_every_violation_and_never_reach_the_model(server, cancer):
    features = feature_names(cancer)
    before = server.metrics.batch_size.labels("cancer", "1")._sum.get()
    records = cancer[features].head(2).to_dict(orient="records")
    records[0].pop("mean_radius")
    records[1]["surprise"] = 1
    answer = call(server, "POST", "/api/predict/cancer", json=records)
    assert answer.status_code == 400
    assert answer.json()["violations"] == [
        "row 0: missing column(s) 'mean_radius'",
        f"row 1: unknown column(s) 'surprise' (the model takes: {', '.join(features)})",
    ]
    typed = cancer[features].head(3).to_dict(orient="records")
    typed[0]["mean_area"], typed[2]["mean_area"], typed[1]["worst_area"] = "big", True, [1]
    violations = call(server, "POST", "/api/predict/cancer", json=typed).json()["violations"]
    assert violations == ["column 'mean_area' must be a number (or null): row 0 has 'big', row 2 has True",
                          "column 'worst_area' must be a number (or null): row 1 has [1]"]
    assert call(server, "POST", "/api/predict/cancer", json=[]).status_code == 400
    assert call(server, "POST", "/api/predict/cancer", content=b"{nope").json()["error"].startswith("the request has 1 problem: the body is not valid JSON")
    v2 = tensors(cancer.head(2), features)
    v2["inputs"][0]["datatype"] = "BYTES"
    v2["inputs"][0]["data"] = ["a", "b"]
    v2["inputs"][1]["shape"] = [3]
    v2["inputs"][2]["shape"] = [2, 2]
    v2["inputs"][2]["data"] = [1.0, 2.0, 3.0, 4.0]
    v2["inputs"].pop()
    v2["inputs"].append({"name": "extra", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]})
    problems = call(server, "POST", "/v2/models/cancer/infer", json=v2).json()["violations"]
    assert problems == [
        f"input '{features[1]}': shape [3] needs 3 values, got 2",
    ]
    del v2["inputs"][1]
    problems = call(server, "POST", "/v2/models/cancer/infer", json=v2).json()["violations"]
    assert problems == [
        "unknown input(s) 'extra'; the model takes: " + ", ".join(features),
        f"missing input(s) '{features[1]}', '{features[-1]}'",
        f"input '{features[0]}' takes a numeric datatype (FP64, FP32, INT64 ...), got BYTES",
        f"input '{features[2]}' must have shape [N] or [N, 1], got [2, 2]",
    ]
    for bad, message in [
        ({"inputs": []}, "non-empty 'inputs'"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP128", "data": [1]}]}, "unknown datatype 'FP128'"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}]}, "INT64 data must be whole numbers"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]}, "BOOL data must be true or false"),
        ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]}],
          "outputs": [{"name": "nope"}]}, "unknown output(s) 'nope'"),
    ]:
        answer = call(server, "POST", "/v2/models/linear/infer", json=bad)
        assert answer.status_code == 400 and message in answer.json()["error"], (bad, answer.json())
    matrix = {"inputs": [{"name": "m", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]}
    assert "must have shape [N, 30]" in call(server, "POST", "/v2/models/cancer/infer", json=matrix).json()["error"]
    assert server.metrics.batch_size.labels("cancer", "1")._sum.get() == before  # the model never ran


def test_oversized_bodies_get_413_and_unknown_routes_json_errors(server):
    big = [{"x": 1.0}] * 8000
    answer = call(server, "POST", "/api/predict/linear", json=big)
    assert answer.status_code == 413 and "at most 65536" in answer.json()["error"]
    async def chunks():  # no Content-Length: the limit is enforced while reading
        yield b"[" + b'{"x": 1.0},' * 7000
        yield b'{"x": 1.0}]'

    chunked = call(server, "POST", "/api/predict/linear", content=chunks())
    assert chunked.status_code == 413 and "larger than 65536" in chunked.json()["error"]
    assert call(server, "GET", "/nowhere").json()["error"].startswith("no route GET /nowhere")
    assert call(server, "DELETE", "/v2").status_code == 405
    assert call(server, "POST", "/api/predict/missing", json=[{"x": 1}]).status_code == 404
    assert call(server, "POST", "/v2/models/linear/versions/3/infer", json={}).status_code == 404


def test_metrics_cover_requests_latency_batches_queue_and_load_time(server, cancer):
    call(server, "POST", "/api/predict/linear", json=[{"x": 1.0}, {"x": 2.0}])
    text = call(server, "GET", "/metrics").text
    for needle in ['tidal_requests_total{model="linear",route="json",status="200",version="1"}',
                   'tidal_request_latency_seconds_bucket{le="0.005",model="linear",route="json",version="1"}',
                   'tidal_batch_rows_bucket{le="2.0",model="linear",version="1"}',
                   'tidal_queue_depth{model="linear",version="1"}',
                   'tidal_model_load_seconds{model="cancer",version="1"}',
                   'tidal_requests_total{model="cancer",route="v2",status="400",version="1"}']:
        assert needle in text, needle


def test_admin_api_is_off_by_default_and_checks_its_requests(regression_archives):
    server = ModelServer([ModelSpec("linear", str(regression_archives[0]))])
    off = call(server, "POST", "/v2/repository/models/linear/load", json={"source": "x"})
    assert off.status_code == 404 and "tidal serve --admin" in off.json()["error"]
    assert "model_repository" not in call(server, "GET", "/v2").json()["extensions"]
    token = "t" * 32
    admin = ModelServer([ModelSpec("linear", str(regression_archives[0]))], options=ServerOptions(admin=True, token=token))
    auth = {"Authorization": f"Bearer {token}"}
    assert "model_repository" in call(admin, "GET", "/v2").json()["extensions"]
    assert "'source' is required" in call(admin, "POST", "/v2/repository/models/linear/load", json={}, headers=auth).json()["error"]
    mixed = call(admin, "POST", "/v2/repository/models/linear/load", headers=auth,
                 json={"source": 3, "version": "../x", "weight": "lots", "swap": "yes", "surprise": 1})
    assert mixed.status_code == 400 and len(mixed.json()["violations"]) == 5, mixed.json()
    assert call(admin, "POST", "/v2/repository/models/linear/traffic", json={"weights": [1]}, headers=auth).status_code == 400
    assert call(admin, "POST", "/v2/repository/models/linear/traffic", json={"weights": {"1": True}}, headers=auth).status_code == 400
    assert call(admin, "POST", "/v2/repository/models/linear/unload", json={"version": "5"}, headers=auth).status_code == 404
    assert call(admin, "POST", "/v2/repository/models/linear/unload", json={"version": 1}, headers=auth).status_code == 400
    assert call(admin, "POST", "/v2/repository/models/linear/unload", json={}, headers=auth).status_code == 200
    assert call(admin, "GET", "/v2/health/ready").status_code == 400
