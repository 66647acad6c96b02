"""``/api/studies``: list, show (trials and charts), start from a pipeline's automl.tune node, stop, resume.

One workspace for the file: a finished study made by a real ``automl.tune`` run (6 trials), and a
long one (2,000 trials) that each test starts, watches and stops.
"""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient
from studies_workspace import write_tune_workspace

from tidal.automl import create_study, load_study
from tidal.studio import create_app

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return write_tune_workspace(tmp_path_factory.mktemp("studies"))


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace, workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def pipeline(client):
    return client.get("/api/pipelines/pipelines/tune.yaml").json()["pipeline"]


def wait_until(read, check, what: str, limit: float = 120.0):
    """Poll ``read()`` until ``check(value)``; a deadline only to fail with a message, never a timing assertion."""
    deadline = time.monotonic() + limit
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last: {value}")
        time.sleep(0.1)


def study_of_run(client, run_id: str) -> dict:
    return wait_until(
        lambda: [s for s in client.get("/api/studies").json() if s["run_id"] == run_id],
        bool,
        f"the study of run {run_id}",
    )[0]


def test_the_list_and_a_finished_study_with_its_trials_and_charts(client):
    listed = client.get("/api/studies")
    check_schema(client, "get", "/api/studies", 200, listed)
    studies = listed.json()
    small = next(study for study in studies if study["name"] == "small")
    assert (
        small["status"] == "succeeded"
        and small["trials"] == 6
        and small["counts"] == {"succeeded": 6}
    )
    assert small["node_id"] == "tune_small" and small["run_id"] and small["controlled"] is False
    assert (
        small["metric"] == "auc"
        and small["direction"] == "maximize"
        and 0.9 < small["best_value"] <= 1
    )

    answer = client.get("/api/studies/small")
    check_schema(client, "get", "/api/studies/{study}", 200, answer)
    detail = answer.json()  # by name; the id and a prefix work too
    assert client.get(f"/api/studies/{small['id']}").json()["id"] == small["id"]
    assert client.get(f"/api/studies/{small['id'][:17]}").json()["id"] == small["id"]
    trials = detail["trial_list"]
    assert [trial["number"] for trial in trials] == [0, 1, 2, 3, 4, 5]
    assert set(detail["search_space"]) == {"C", "max_iter", "standardize"}
    for trial in trials:
        assert (
            trial["status"] == "succeeded" and 0 < trial["value"] <= 1 and trial["duration_s"] > 0
        )
        assert (
            set(trial["params"]) == set(detail["search_space"])
            and trial["started_at"]
            and trial["finished_at"]
        )
    assert (
        detail["report"]["best_value"] == small["best_value"]
        and detail["report"]["succeeded_trials"] == 6
    )
    assert set(detail["figures"]) == {"best_so_far", "parallel_coordinates", "parameter_importance"}
    for spec in detail["figures"].values():
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    curve = detail["figures"]["best_so_far"]["data"]["values"]
    assert [point["best"] for point in curve] == sorted(
        point["best"] for point in curve
    )  # never worse
    axes = detail["figures"]["parallel_coordinates"]["transform"][0]["fold"]
    assert axes == [*detail["search_space"], "auc (scaled)"]  # the metric is the last axis
    importance = detail["figures"]["parameter_importance"]["data"]["values"]
    assert {row["parameter"] for row in importance} == set(detail["search_space"])


def check_schema(client, method: str, template: str, status: int, answer) -> None:
    """The answer matches the response schema the OpenAPI document declares for it."""
    from openapi_schema_validator import OAS31Validator

    spec = client.get("/openapi.json").json()
    content = spec["paths"][template][method]["responses"][str(status)]["content"]
    schema = content["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec["components"]}).validate(answer.json())


def test_the_routes_are_in_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/studies",
        "/api/studies/{study}",
        "/api/studies/{study}/stop",
        "/api/studies/{study}/resume",
    } <= set(paths)
    assert "post" in paths["/api/studies"] and "get" in paths["/api/studies"]


def test_start_from_the_pipeline_stop_then_resume_and_stop_again(client, pipeline, workspace):
    started = client.post("/api/studies", json={"pipeline": pipeline, "node": "tune_long"})
    assert started.status_code == 202, started.text
    check_schema(client, "post", "/api/studies", 202, started)
    assert started.json()["node"] == "tune_long" and started.json()["nodes"] == [
        "read",
        "tune_long",
    ]
    run_id = started.json()["run_id"]
    study = study_of_run(client, run_id)
    assert study["name"] == "long" and study["node_id"] == "tune_long"
    detail = wait_until(
        lambda: client.get(f"/api/studies/{study['id']}").json(),
        lambda found: found["counts"].get("succeeded", 0) >= 2,
        "two finished trials",
    )
    assert detail["status"] == "running" and detail["controlled"] is True

    stopped = client.post(f"/api/studies/{study['id']}/stop", json={})
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopping"
    check_schema(client, "post", "/api/studies/{study}/stop", 200, stopped)
    detail = wait_until(
        lambda: client.get(f"/api/studies/{study['id']}").json(),
        lambda found: found["status"] == "cancelled",
        "the study to end as cancelled",
    )
    assert detail["controlled"] is False and detail["error"] == "stopped from the Studio"
    assert "running" not in detail["counts"]
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"  # the run that held it
    again = client.post(f"/api/studies/{study['id']}/stop", json={})
    assert again.status_code == 409 and "not running" in again.json()["detail"]

    kept = {
        trial["number"]: trial["value"]
        for trial in detail["trial_list"]
        if trial["status"] == "succeeded"
    }
    resumed = client.post(f"/api/studies/{study['id']}/resume", json={})
    assert resumed.status_code == 202, resumed.text
    check_schema(client, "post", "/api/studies/{study}/resume", 202, resumed)
    detail = wait_until(
        lambda: client.get(f"/api/studies/{study['id']}").json(),
        lambda found: found["counts"].get("succeeded", 0) >= len(kept) + 2,
        "more trials after resume",
    )
    assert detail["status"] == "running" and detail["controlled"] is True
    assert {
        t["number"]: t["value"] for t in detail["trial_list"] if t["number"] in kept
    } == kept  # never rerun
    busy = client.post(f"/api/studies/{study['id']}/resume", json={})
    assert busy.status_code == 409 and "running already" in busy.json()["detail"]

    assert client.post(f"/api/studies/{study['id']}/stop", json={}).status_code == 200
    detail = wait_until(
        lambda: client.get(f"/api/studies/{study['id']}").json(),
        lambda found: found["status"] == "cancelled" and not found["controlled"],
        "the resumed study to stop",
    )
    assert (
        load_study(study["id"], workspace).status() == "cancelled"
    )  # the Python API sees the same


def test_a_finished_study_is_not_resumed_and_a_foreign_one_is_not_stopped(client, workspace):
    finished = client.post("/api/studies/small/resume", json={})
    assert finished.status_code == 400 and "already finished" in finished.json()["detail"]

    frame = __import__("pandas").read_csv(workspace / "data" / "breast_cancer.csv")
    study = create_study(
        frame,
        trainer="classification.logistic_regression",
        label="malignant",
        budget=2,
        name="elsewhere",
        workspace=workspace,
    )
    study.store.update_study(
        study.id, status="running", pid=os.getpid()
    )  # a live controller that is not this server
    answer = client.post(f"/api/studies/{study.id}/stop", json={})
    assert answer.status_code == 409 and f"pid {os.getpid()}" in answer.json()["detail"]
    assert client.post(f"/api/studies/{study.id}/resume", json={}).status_code == 409
    assert load_study(study.id, workspace).record.status == "running"  # untouched


def test_start_names_the_tune_node(client, pipeline):
    both = client.post("/api/studies", json={"pipeline": pipeline})
    assert both.status_code == 400 and "tune_small, tune_long" in both.json()["detail"]
    wrong = client.post("/api/studies", json={"pipeline": pipeline, "node": "read"})
    assert (
        wrong.status_code == 400
        and "io.read_csv, not an automl.tune node" in wrong.json()["detail"]
    )
    missing = client.post("/api/studies", json={"pipeline": pipeline, "node": "nope"})
    assert missing.status_code == 400 and "no node 'nope'" in missing.json()["detail"]
    plain = {**pipeline, "nodes": [node for node in pipeline["nodes"] if node["id"] == "read"]}
    none = client.post("/api/studies", json={"pipeline": plain})
    assert none.status_code == 400 and "has no automl.tune node" in none.json()["detail"]
    unknown = client.get("/api/studies/no-such-study")
    assert unknown.status_code == 404 and "tidal studies list" in unknown.json()["detail"]
