"""The whole path as a user walks it: train in a pipeline, register, `tidal serve models:/NAME@production`,
ask both routes. Real subprocesses, a real server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from serving_helpers import feature_names, running_server

PIPELINE = """\
tidal: 1
name: cancer-serving
nodes:
  - id: read
    component: io.read_csv
    params: {path: data/cancer.csv}
  - id: split
    component: data.split
    inputs: {data: read}
    params: {fraction: 0.8, seed: 42}
  - id: train
    component: classification.lightgbm
    inputs: {data: split.train}
    params: {label: target}
  - id: register
    component: model.register
    inputs: {model: train}
    params: {name: cancer, alias: production}
"""


def tidal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tidal.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cancer):
    folder = tmp_path_factory.mktemp("ws")
    (folder / "data").mkdir()
    cancer.to_csv(folder / "data" / "cancer.csv", index=False)
    (folder / "pipeline.yaml").write_text(PIPELINE)
    done = tidal("run", "pipeline.yaml", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout)


def test_pipeline_registers_and_cli_lists_shows_and_aliases(trained):
    folder, run = trained
    models = json.loads(tidal("models", "list", "--json", cwd=folder).stdout)
    assert [(item["name"], item["latest_version"], item["aliases"]) for item in models] == [("cancer", 1, {"production": 1})]
    shown = json.loads(tidal("models", "show", "cancer", "--json", cwd=folder).stdout)
    version = shown["versions"][0]
    assert (version["run_id"], version["node_id"], version["flavor"]) == (run["id"], "train", "lightgbm")
    detail = json.loads(tidal("models", "show", "models:/cancer@production", "--json", cwd=folder).stdout)
    assert detail["manifest"]["task"] == "binary" and len(detail["manifest"]["signature"]["inputs"]) == 30
    again = tidal("models", "register", run["id"], "train", "--name", "cancer-copy", "--tag", "stage=test", "--json", cwd=folder)
    assert json.loads(again.stdout)["version"] == 1 and json.loads(again.stdout)["tags"] == {"stage": "test"}
    assert tidal("models", "alias", "cancer-copy", "staging", "1", cwd=folder).returncode == 0
    listing = tidal("models", "list", cwd=folder).stdout
    assert "production→1" in listing and "staging→1" in listing
    assert json.loads(tidal("models", "show", "models:/cancer-copy@staging", "--json", cwd=folder).stdout)["version"] == 1


def test_cli_mistakes_exit_2_with_a_message_and_no_traceback(trained):
    folder, _ = trained
    for args, message in [
        (("models", "show", "models:/cancer@nope"), "has no alias 'nope'"),
        (("models", "register", "missing.zip", "--name", "x"), "neither a model package path"),
        (("models", "register", "x.zip"), "--name"),
        (("models", "alias", "cancer", "production", "9"), "has no version 9"),
        (("serve", "models:/ghost@production"), "no registered model 'ghost'"),
    ]:
        done = tidal(*args, cwd=folder)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)


def test_serve_registry_alias_answers_v2_and_json_routes(trained, cancer):
    folder, _ = trained
    from tidal.models import ModelRegistry
    from tidal.store import Workspace

    expected_model = ModelRegistry(Workspace.open(folder)).load("models:/cancer@production")
    features = feature_names(cancer)
    rows = cancer[features].tail(4)
    expected = expected_model.predict_proba(rows)
    with running_server("models:/cancer@production", cwd=folder) as (base, _):
        simple = httpx.post(f"{base}/api/predict/cancer", json=rows.to_dict(orient="records")).json()
        assert simple["version"] == "1"
        assert simple["predictions"] == expected.argmax(axis=1).tolist()
        np.testing.assert_allclose([item["1"] for item in simple["probabilities"]], expected[:, 1])
        body = {"inputs": [{"name": name, "shape": [4], "datatype": "FP64", "data": rows[name].tolist()} for name in features]}
        v2 = httpx.post(f"{base}/v2/models/cancer/infer", json=body).json()
        outputs = {item["name"]: item for item in v2["outputs"]}
        np.testing.assert_allclose(np.array(outputs["probabilities"]["data"]).reshape(4, 2), expected)
        assert httpx.get(f"{base}/v2/models/cancer/versions/1/ready").json()["ready"] is True
