"""Behaviour under load, with a real `tidal serve` process on loopback: hot swap, traffic split,
failed loads, overload, SIGTERM drain, and a standard v2 client (tritonclient)."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from serving_helpers import feature_names, running_server

TOKEN = "live-test-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def admin_server(*args: str):
    """A server with the repository API on; its token comes from the environment, as an operator would set it."""
    return running_server(*args, "--admin", env={"TIDAL_SERVE_TOKEN": TOKEN})


def _hammer(base: str, stop: threading.Event, results: list, x: float = 1.0) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            response = client.post("/api/predict/linear", json=[{"x": x}])
            results.append((response.status_code, response.json()))


def _wait_for(condition, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_hot_swap_under_load_fails_no_request(regression_archives):
    times2, times3 = regression_archives
    with admin_server(f"linear={times2}", "--max-wait-ms", "1") as (base, _):
        stop, results = threading.Event(), []
        threads = [threading.Thread(target=_hammer, args=(base, stop, results, float(i + 1))) for i in range(4)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(results) > 20)  # requests counted, not seconds slept: a loaded machine is slower
        before = len(results)
        swap = httpx.post(f"{base}/v2/repository/models/linear/load", json={"source": str(times3), "version": "2"},
                          headers=ADMIN, timeout=60)
        assert swap.status_code == 200, swap.text
        after_swap = len(results)
        _wait_for(lambda: len(results) > after_swap + 20)
        stop.set()
        for thread in threads:
            thread.join()
        index = httpx.post(f"{base}/v2/repository/index", headers=ADMIN).json()
    statuses = {status for status, _ in results}
    assert statuses == {200}, [body for status, body in results if status != 200][:3]
    assert before > 20 and len(results) > after_swap + 20
    versions = [body["version"] for _, body in results]
    assert versions[0] == "1" and versions[-1] == "2"
    for _, body in results:  # every answer is one model's, whole: 2x from version 1, 3x from version 2
        factor = 2.0 if body["version"] == "1" else 3.0
        assert body["predictions"][0] / factor == pytest.approx(round(body["predictions"][0] / factor))
    assert [(row["version"], row["state"]) for row in index] == [("2", "READY")]


def test_failed_load_keeps_the_old_version_serving(regression_archives, tmp_path):
    times2, _ = regression_archives
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"this is not a model package")
    with admin_server(f"linear={times2}") as (base, _):
        answer = httpx.post(f"{base}/v2/repository/models/linear/load", json={"source": str(broken), "version": "9"},
                            headers=ADMIN)
        assert answer.status_code == 400 and "could not be loaded" in answer.json()["error"]
        assert httpx.post(f"{base}/api/predict/linear", json=[{"x": 5.0}]).json()["predictions"] == pytest.approx([10.0])
        ready = httpx.get(f"{base}/v2/models/linear/versions/9/ready")
        assert ready.status_code == 400 and "not a model package" in ready.json()["error"]
        assert httpx.get(f"{base}/v2/models/linear/versions/1/ready").status_code == 200
        assert httpx.get(f"{base}/v2/health/ready").status_code == 200
        states = {(row["version"], row["state"]) for row in httpx.get(f"{base}/v2/repository/index", headers=ADMIN).json()}
        assert states == {("1", "READY"), ("9", "UNAVAILABLE")}
        missing = httpx.post(f"{base}/v2/repository/models/linear/load", json={"source": "models:/nothing@production"},
                             headers=ADMIN)
        assert missing.status_code == 400 and "nothing" in missing.json()["error"]


def test_traffic_split_canary_then_blue_green(regression_archives):
    times2, times3 = regression_archives
    with admin_server(f"linear={times2}") as (base, _):
        canary = httpx.post(f"{base}/v2/repository/models/linear/load",
                            json={"source": str(times3), "version": "2", "weight": 25, "swap": False}, headers=ADMIN, timeout=60)
        assert canary.status_code == 200
        traffic = httpx.post(f"{base}/v2/repository/models/linear/traffic", json={"weights": {"1": 75, "2": 25}}, headers=ADMIN)
        assert traffic.json()["weights"] == {"1": 75.0, "2": 25.0}
        with httpx.Client(base_url=base) as client:
            seen = [client.post("/api/predict/linear", json=[{"x": 1.0}]).json()["version"] for _ in range(400)]
            share = seen.count("2") / len(seen)
            assert 0.15 < share < 0.35
            pinned = client.post("/v2/models/linear/versions/1/infer",
                                 json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]})
            assert pinned.json()["model_version"] == "1"
            assert client.post("/v2/repository/models/linear/traffic", json={"weights": {"1": 0, "2": 100}},
                               headers=ADMIN).status_code == 200
            assert {client.post("/api/predict/linear", json=[{"x": 1.0}]).json()["version"] for _ in range(50)} == {"2"}
            bad = client.post("/v2/repository/models/linear/traffic", json={"weights": {"7": 10}}, headers=ADMIN)
            assert bad.status_code == 400 and "version '7' is not loaded" in bad.json()["error"]


def test_overload_answers_503_with_retry_after_never_queues_without_bound(slow_archive):
    with running_server(f"slow={slow_archive}", "--trust", "--max-batch-size", "1", "--max-queue", "2") as (base, _):
        def call(index: int) -> httpx.Response:
            return httpx.post(f"{base}/api/predict/slow", json=[{"x": float(index)}], timeout=30)

        with ThreadPoolExecutor(24) as pool:
            responses = list(pool.map(call, range(24)))
        refused = [response for response in responses if response.status_code == 503]
        served = [response for response in responses if response.status_code == 200]
        assert refused and served and len(refused) + len(served) == 24
        assert all(response.headers["retry-after"] == "1" and "queue is full" in response.json()["error"] for response in refused)
        for index, response in enumerate(responses):
            if response.status_code == 200:
                assert response.json()["predictions"] == [2.0 * index]
        metrics = httpx.get(f"{base}/metrics").text
        assert 'tidal_requests_total{model="slow",route="json",status="503",version="1"}' in metrics


def test_sigterm_turns_readiness_off_then_drains_in_flight_requests(slow_archive):
    with running_server(f"slow={slow_archive}", "--trust", "--max-batch-size", "1", "--drain-seconds", "1.5") as (base, process):
        with ThreadPoolExecutor(8) as pool:
            pending = [pool.submit(httpx.post, f"{base}/api/predict/slow", json=[{"x": float(i)}], timeout=30) for i in range(8)]
            time.sleep(0.1)  # the requests are queued behind a 50 ms model: about 400 ms of work
            process.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            readiness = httpx.get(f"{base}/v2/health/ready")
            liveness = httpx.get(f"{base}/v2/health/live")
            answers = [future.result() for future in pending]
        assert readiness.status_code == 400 and "draining" in readiness.json()["reason"]
        assert liveness.status_code == 200
        assert [answer.status_code for answer in answers] == [200] * 8
        assert [answer.json()["predictions"][0] for answer in answers] == [2.0 * i for i in range(8)]
        assert process.wait(30) == 0


def test_standard_v2_client_tritonclient_works_unchanged(lightgbm_archive, cancer):
    tritonclient = pytest.importorskip("tritonclient.http")
    from tidal.models import load_model

    features = feature_names(cancer)
    rows = cancer[features].head(5)
    expected = load_model(lightgbm_archive).predict_proba(rows)
    with running_server(f"cancer={lightgbm_archive}") as (base, _):
        client = tritonclient.InferenceServerClient(base.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("cancer")
        metadata = client.get_model_metadata("cancer")
        assert [item["name"] for item in metadata["inputs"]] == features
        assert {item["name"] for item in metadata["outputs"]} == {"prediction", "probabilities"}
        for binary in (True, False):
            inputs = []
            for name in features:
                tensor = tritonclient.InferInput(name, [len(rows)], "FP64")
                tensor.set_data_from_numpy(rows[name].to_numpy(np.float64), binary_data=binary)
                inputs.append(tensor)
            outputs = [tritonclient.InferRequestedOutput("probabilities", binary_data=binary),
                       tritonclient.InferRequestedOutput("prediction", binary_data=binary)]
            result = client.infer("cancer", inputs, outputs=outputs, request_id="r-1")
            np.testing.assert_allclose(result.as_numpy("probabilities"), expected)
            assert result.as_numpy("prediction").tolist() == expected.argmax(axis=1).tolist()
            assert result.get_response()["id"] == "r-1"
        matrix = tritonclient.InferInput("features", [2, len(features)], "FP32")
        matrix.set_data_from_numpy(rows.head(2).to_numpy(np.float32))
        result = client.infer("cancer", [matrix])
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected[:2], rtol=1e-4)
        with pytest.raises(Exception, match="missing input"):
            client.infer("cancer", inputs[:3])
