"""The `tidal` command as a user runs it: real subprocesses, exit codes, JSON, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIDAL = [sys.executable, "-m", "tidal.cli"]


def tidal(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*TIDAL, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    done = tidal("demo", str(folder / "ws"), cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "ws", done


def test_demo_creates_runs_and_reports(demo):
    folder, done = demo
    assert (folder / "data" / "breast_cancer.csv").exists() and (folder / "pipelines" / "demo.yaml").exists()
    assert "Test-set metrics: auc 0.99" in done.stdout
    assert "tidal runs show" in done.stdout


def test_second_run_fully_cached_and_set_recomputes_only_affected(demo):
    folder, _ = demo
    second = json.loads(tidal("run", "pipelines/demo.yaml", "--json", cwd=folder).stdout)
    assert second["status"] == "succeeded"
    assert {node: item["cached"] for node, item in second["nodes"].items()} == dict.fromkeys(["read", "split", "train", "score", "eval"], True)
    assert second["nodes"]["eval"]["metrics"]["auc"] > 0.97
    changed = json.loads(tidal("run", "pipelines/demo.yaml", "--set", "train.C=0.05", "--json", cwd=folder).stdout)
    recomputed = sorted(node for node, item in changed["nodes"].items() if not item["cached"])
    assert recomputed == ["eval", "score", "train"]
    assert all(set(item) >= {"status", "cached", "metrics"} for item in changed["nodes"].values())


def test_runs_list_show_logs_and_artifacts(demo):
    folder, _ = demo
    runs = json.loads(tidal("runs", "list", "--json", cwd=folder).stdout)
    assert runs and runs[0]["status"] == "succeeded"
    run_id = runs[-1]["id"]  # the demo's own run, where every node really ran
    shown = json.loads(tidal("runs", "show", run_id, "--json", cwd=folder).stdout)
    assert shown["nodes"]["train"]["status"] == "succeeded" and shown["nodes"]["train"]["peak_memory_bytes"] > 0
    assert tidal("runs", "show", run_id[:-1], cwd=folder).returncode == 0  # a unique prefix is enough
    ambiguous = tidal("runs", "show", run_id[:9], cwd=folder)
    assert ambiguous.returncode == 2 and "matches several runs" in ambiguous.stderr
    assert tidal("runs", "logs", run_id, "train", cwd=folder).returncode == 0
    table = json.loads(tidal("artifacts", "show", run_id, "split.test", "--json", "-n", "5", cwd=folder).stdout)
    assert table["type"] == "Table" and table["rows"] == 114 and len(table["data"]) == 5
    model = json.loads(tidal("artifacts", "show", run_id, "train", "--json", cwd=folder).stdout)
    assert model["summary"]["flavor"] == "sklearn" and model["summary"]["lineage"]["node_id"] == "train"
    metrics = json.loads(tidal("artifacts", "show", run_id, "eval", "--json", cwd=folder).stdout)
    assert {"roc", "pr"} <= set(metrics["figures"]) and metrics["figures"]["roc"]["$schema"].endswith("v5.json")
    human = tidal("artifacts", "show", run_id, "eval", cwd=folder)
    assert "auc" in human.stdout


def test_exported_script_gives_the_same_results(demo):
    folder, _ = demo
    script = folder / "demo_export.py"
    assert tidal("export", "pipelines/demo.yaml", "--to", "python", "-o", str(script), cwd=folder).returncode == 0
    ran = subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    runs = json.loads(tidal("runs", "list", "--json", cwd=folder).stdout)
    newest = json.loads(tidal("runs", "show", runs[0]["id"], "--json", cwd=folder).stdout)
    first = json.loads(tidal("runs", "show", runs[-1]["id"], "--json", cwd=folder).stdout)
    assert newest["nodes"]["eval"]["metrics"] == first["nodes"]["eval"]["metrics"]
    back = tidal("export", str(script), "--to", "yaml", cwd=folder)
    assert back.returncode == 0 and "component: classification.logistic_regression" in back.stdout


def test_components_list_and_show(tmp_path):
    listed = json.loads(tidal("components", "list", "--json", cwd=tmp_path).stdout)
    ids = {item["id"] for item in listed}
    assert {"io.read_csv", "data.split", "classification.logistic_regression", "model.predict", "evaluation.binary_classification"} <= ids
    shown = tidal("components", "show", "data.split", cwd=tmp_path)
    assert "fraction" in shown.stdout and "Examples" in shown.stdout
    missing = tidal("components", "show", "data.splitt", cwd=tmp_path)
    assert missing.returncode == 2 and "did you mean data.split" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_pipeline_reports_every_mistake_with_exit_2(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "tidal: 1\nname: bad\nnodes:\n"
        "  - {id: read, component: io.read_csv, params: {path: x.csv, sep: ';'}}\n"
        "  - {id: split, component: data.split, inputs: {data: read}, params: {fraction: 2}}\n"
        "  - {id: train, component: classification.logistic_regression, inputs: {data: split}}\n"
    )
    for command in (["run", "bad.yaml"], ["validate", "bad.yaml"]):
        done = tidal(*command, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "node 'read', parameter 'sep': unknown parameter" in done.stderr
        assert "node 'split', parameter 'fraction'" in done.stderr
        assert "node 'train', port 'data'" in done.stderr
        assert "node 'train', parameter 'label': is required" in done.stderr


def test_user_mistakes_exit_2_without_traceback(tmp_path):
    cases = [
        ["run", "missing.yaml"],
        ["run", "--set", "nonsense", str(tmp_path / "p.yaml")],
        ["runs", "show", "no-such-run"],
        ["export", "missing.yaml", "--to", "cobol"],
    ]
    (tmp_path / "p.yaml").write_text("tidal: 1\nname: p\nnodes:\n  - {id: read, component: io.read_csv, params: {path: d.csv}}\n")
    for args in cases:
        done = tidal(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and "error:" in done.stderr
    assert tidal("run", "p.yaml", "--workers", "-3", cwd=tmp_path).returncode == 2


def test_failed_run_exits_1_and_names_the_node_and_column(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "p.yaml").write_text(
        "tidal: 1\nname: p\nnodes:\n"
        "  - {id: read, component: io.read_csv, params: {path: d.csv}}\n"
        "  - {id: train, component: classification.logistic_regression, inputs: {data: read}, params: {label: churned}}\n"
    )
    done = tidal("run", "p.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "column 'churned' not found in input 'data'" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
