"""Where the Studio's runs go: the operator picks the executor (and Ray cluster); a request picks among those."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient
from studio_helpers import wait_for_run

from tidal.studio import create_app


def demo_pipeline(demo_ws) -> dict:
    return yaml.safe_load((demo_ws / "pipelines" / "demo.yaml").read_text())


def test_a_default_studio_offers_local_workers_only_and_refuses_ray_naming_the_switch(client, demo_ws):
    info = client.get("/api/info").json()
    assert info["executor"] == "local" and info["executors"] == ["local"]
    answer = client.post("/api/runs", json={"pipeline": demo_pipeline(demo_ws), "executor": "ray"})
    assert answer.status_code == 403
    assert "tidal studio --executor ray" in answer.json()["detail"]
    assert client.get("/api/runs").json() == []  # nothing was started


def test_an_unknown_executor_is_a_422_naming_the_field(client, demo_ws):
    answer = client.post("/api/runs", json={"pipeline": demo_pipeline(demo_ws), "executor": "kubernetes"})
    assert answer.status_code == 422
    assert "executor" in answer.json()["detail"]


def test_a_ray_studio_offers_both_and_a_run_may_still_pick_local_workers(demo_ws):
    with TestClient(create_app(demo_ws, workers=1, executor="ray", address="127.0.0.1:1"),
                    base_url="http://127.0.0.1") as client:
        info = client.get("/api/info").json()
        assert info["executor"] == "ray" and info["executors"] == ["ray", "local"]
        started = client.post("/api/runs", json={"pipeline": demo_pipeline(demo_ws), "executor": "local", "until": "read"})
        assert started.status_code == 202, started.text
        events = wait_for_run(client, started.json()["run_id"])
        assert events[-2]["status"] == "succeeded", events
        run = client.app.state.studio.workspace.metadata.get_run(started.json()["run_id"])
        assert run.status == "succeeded" and run.options["executor"] == "local" and not run.options.get("address")


def test_bad_executor_options_stop_the_studio_before_it_serves(demo_ws):
    from tidal.core import TidalError

    with pytest.raises(TidalError, match="--address"):
        create_app(demo_ws, executor="local", address="10.0.0.5:6379")
    with pytest.raises(TidalError, match="unknown executor"):
        create_app(demo_ws, executor="dask")
