"""The ray target on the test run's Ray cluster: replicas go up under load and back down after it."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from servers import free_port

from tidal.serving._service import parse_service

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


@pytest.fixture(scope="module")
def local_ray(ray_address):
    """Ray Serve on the test run's Ray cluster (head + worker, tests/support/ray_session.py): its HTTP proxy on
    the head only (two proxies on one machine would want the same port), shut down after the module."""
    if ray.is_initialized():  # an earlier module's connection (to another cluster) would be reused silently
        ray.shutdown()
    ray.init(address=ray_address, log_to_driver=False, logging_level="ERROR")
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
    ray.shutdown()


def test_replicas_scale_up_under_load_and_down_after(local_ray, slow_archive):
    from tidal.serving._ray import build_application, ray_autoscaling_config, replica_count

    port = local_ray
    service = parse_service({
        "name": "slow", "target": "ray",
        "models": [{"name": "slow", "versions": [{"source": str(slow_archive)}], "trust": True,
                    "batching": {"max_batch_size": 1}}],
        "resources": {"cpu": "0.1"},
        "autoscaling": {"min_replicas": 1, "max_replicas": 3, "target_in_flight": 1, "scale_up_window_s": 0,
                        "scale_down_window_s": 2},
    })
    assert ray_autoscaling_config(service)["target_ongoing_requests"] == 1
    serve.run(build_application(service), name="slow", route_prefix="/")
    base = f"http://127.0.0.1:{port}"
    assert replica_count("slow") == 1
    answer = httpx.post(f"{base}/api/predict/slow", json=[{"x": 2.0}], timeout=30)
    assert answer.status_code == 200 and answer.json()["predictions"] == [4.0]

    stop, statuses, peak = threading.Event(), [], [1]

    def load(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                response = client.post("/api/predict/slow", json=[{"x": float(index)}])
                statuses.append((response.status_code, response.json().get("predictions") if response.status_code == 200 else None, index))

    threads = [threading.Thread(target=load, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 90
    while time.time() < deadline and peak[0] < 2:
        peak[0] = max(peak[0], replica_count("slow"))
        time.sleep(0.5)
    time.sleep(2)
    peak[0] = max(peak[0], replica_count("slow"))
    stop.set()
    for thread in threads:
        thread.join()
    assert peak[0] >= 2, "Ray Serve did not add replicas under load"
    assert statuses and all(status == 200 and predictions == [2.0 * index] for status, predictions, index in statuses)
    deadline = time.time() + 90
    while time.time() < deadline and replica_count("slow") > 1:
        time.sleep(1)
    assert replica_count("slow") == 1, "Ray Serve did not scale back down after the load"
    serve.delete("slow")


def test_qps_targets_are_refused_for_ray():
    from tidal.core import TidalError
    from tidal.serving._ray import ray_autoscaling_config

    service = parse_service({"name": "q", "models": [{"name": "m", "versions": [{"source": "x"}]}],
                             "autoscaling": {"max_replicas": 2, "target_qps": 10}})
    with pytest.raises(TidalError, match="not on QPS"):
        ray_autoscaling_config(service)
