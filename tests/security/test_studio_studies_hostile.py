"""The Studio's study routes against hostile input: names that are wildcards, path tricks or SQL, control
characters and huge names, deep parameters, requests from other sites and requests without the token.
Each must fail with a 4xx JSON answer (never 500), start nothing and reveal nothing.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tidal.automl import create_study, list_studies, load_study
from tidal.cli._demo import write_demo_workspace
from tidal.studio import create_app

TOKEN = "studies-hostile-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-studies")
    write_demo_workspace(root)
    frame = pd.read_csv(root / "data" / "breast_cancer.csv")
    for name in ("first", "second"):  # created, never run: nothing here runs a trial
        create_study(
            frame,
            trainer="classification.logistic_regression",
            label="malignant",
            budget=2,
            name=name,
            workspace=root,
        )
    return root


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace, workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def locked(workspace):
    with TestClient(
        create_app(workspace, workers=1, token=TOKEN), base_url="http://127.0.0.1"
    ) as test_client:
        yield test_client


@pytest.mark.parametrize("name", ["%25", "_", "2%25", "%25%25", "__________________"])
def test_wildcards_match_no_study(client, name):
    """A LIKE wildcard in a name is a character, not 'any study' (it used to open the newest)."""
    answer = client.get(f"/api/studies/{name}")
    assert answer.status_code == 404, answer.text
    assert all(
        study.id not in answer.text for study in list_studies(client.app.state.studio.workspace)
    )


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "....%2F%2F",
        "x' OR '1'='1",
        'x"; DROP TABLE automl_studies; --',
        "%C0%AE%C0%AE%2F",
    ],
)
def test_path_tricks_and_sql_find_nothing_and_harm_nothing(client, workspace, name):
    for method, route in (("GET", ""), ("POST", "/stop"), ("POST", "/resume")):
        answer = client.request(
            method,
            f"/api/studies/{name}{route}",
            headers=JSON,
            content="{}" if method == "POST" else None,
        )
        assert answer.status_code in (400, 404), answer.text
        assert (
            answer.headers["content-type"].startswith("application/json")
            and "root:" not in answer.text
        )
    assert {study.name for study in list_studies(workspace)} >= {
        "first",
        "second",
    }  # the table is intact


@pytest.mark.parametrize("name", ["a%00b", "line%0Abreak", "x" * 10_000])
def test_control_characters_and_huge_names_are_refused_briefly(client, name):
    answer = client.get(f"/api/studies/{name}")
    assert answer.status_code == 400, answer.text
    assert "is not a study name" in answer.json()["detail"] and len(answer.text) < 600


@pytest.mark.parametrize("limit", ["0", "100000000000000000000", "-1", "ten"])
def test_list_limits_are_bounded(client, limit):
    answer = client.get(f"/api/studies?limit={limit}")
    assert answer.status_code == 422 and "limit" in answer.json()["detail"]


def test_deep_parameters_start_nothing(client, workspace):
    space: dict = {}
    for _ in range(500):
        space = {"C": space}
    pipeline = {
        "tidal": 1,
        "name": "deep",
        "nodes": [
            {
                "id": "read",
                "component": "io.read_csv",
                "params": {"path": "data/breast_cancer.csv"},
            },
            {
                "id": "tune",
                "component": "automl.tune",
                "inputs": {"data": "read"},
                "params": {
                    "trainer": "classification.logistic_regression",
                    "label": "malignant",
                    "search_space": space,
                },
            },
        ],
    }
    before = len(list_studies(workspace))
    answer = client.post("/api/studies", json={"pipeline": pipeline})
    assert answer.status_code == 400 and "levels" in answer.json()["detail"]
    assert len(list_studies(workspace)) == before and client.get("/api/runs").json() == []
    huge = client.post("/api/studies", json={"pipeline": pipeline, "node": "n" * 100_000})
    assert huge.status_code in (400, 422) and len(huge.text) < 100_000


@pytest.mark.parametrize("budget", [10**40, 100_001, -5])
def test_a_huge_budget_is_refused_before_anything_runs(client, workspace, budget):
    pipeline = {
        "tidal": 1,
        "name": "huge",
        "nodes": [
            {
                "id": "read",
                "component": "io.read_csv",
                "params": {"path": "data/breast_cancer.csv"},
            },
            {
                "id": "tune",
                "component": "automl.tune",
                "inputs": {"data": "read"},
                "params": {
                    "trainer": "classification.logistic_regression",
                    "label": "malignant",
                    "budget": budget,
                },
            },
        ],
    }
    before = len(list_studies(workspace))
    answer = client.post("/api/studies", json={"pipeline": pipeline})
    assert answer.status_code == 422, answer.text
    assert any(
        issue["node"] == "tune" and issue["param"] == "budget" for issue in answer.json()["issues"]
    )
    assert len(list_studies(workspace)) == before and client.get("/api/runs").json() == []


def test_other_sites_cannot_resume_or_stop_a_study(client, workspace):
    study = load_study("first", workspace)
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {**JSON, "Origin": "https://evil.example"},
    ):
        for route in ("resume", "stop"):
            answer = client.post(f"/api/studies/{study.id}/{route}", headers=headers, content="{}")
            assert answer.status_code in (403, 415), answer.text
    assert load_study(study.id, workspace).status() == "created"  # never started
    started = client.post(
        "/api/studies", headers={"Content-Type": "text/plain"}, content='{"pipeline": {}}'
    )
    assert started.status_code == 415


def test_off_loopback_every_study_route_needs_the_token(locked):
    for method, route in (
        ("GET", "/api/studies"),
        ("GET", "/api/studies/first"),
        ("POST", "/api/studies"),
        ("POST", "/api/studies/first/stop"),
        ("POST", "/api/studies/first/resume"),
    ):
        answer = locked.request(
            method, route, headers=JSON, content="{}" if method == "POST" else None
        )
        assert answer.status_code == 401, (route, answer.text)
        assert answer.json()["detail"]
    allowed = locked.get("/api/studies", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and {study["name"] for study in allowed.json()} >= {
        "first",
        "second",
    }
    assert (
        locked.post(
            "/api/studies/first/stop",
            headers={**JSON, "Authorization": f"Bearer {TOKEN}"},
            content="{}",
        ).status_code
        == 409
    )  # reached the route: not running
