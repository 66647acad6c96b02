"""Which workspace a command uses, as a user meets it: the pipeline's own, wherever they stand.

Most commands run in this process through the real entry point (cheap); one runs as a subprocess,
as a user types it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tidal.cli import main
from tidal.runtime import RunResult
from tidal.store import Workspace

PIPELINE = "tidal: 1\nname: tiny\nnodes:\n  - {id: read, component: io.read_csv, params: {path: data/x.csv}}\n"


def make_project(folder: Path, rows: int, workspace: bool = True) -> Path:
    """A project as `tidal demo` lays it out: pipelines/, data/ and (optionally already) .tidal/."""
    (folder / "pipelines").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "data" / "x.csv").write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(rows)))
    (folder / "pipelines" / "p.yaml").write_text(PIPELINE)
    if workspace:
        (folder / ".tidal").mkdir()
    return folder


def cli(monkeypatch, capsys, cwd: Path, *args: str) -> tuple[int, str, str]:
    """``tidal ARGS`` through the real entry point, in this process: (exit code, stdout, stderr)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["tidal", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def rows_read(run: dict) -> int:
    return pq.read_metadata(run["nodes"]["read"]["outputs"]["output"]["uri"]).num_rows


@pytest.fixture(autouse=True)
def no_chosen_workspace(monkeypatch):
    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    monkeypatch.delenv("TIDAL_HOME", raising=False)


def test_a_pipeline_run_from_another_folder_uses_its_project_and_finds_its_data(tmp_path):
    """As a user types it: a fresh project (no .tidal/ yet) run from a sibling folder."""
    project = make_project(tmp_path / "project", rows=3, workspace=False)
    away = tmp_path / "away"
    away.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("TIDAL_WORKSPACE", "TIDAL_HOME")}
    done = subprocess.run([sys.executable, "-m", "tidal.cli", "run", "../project/pipelines/p.yaml", "--workers", "0"],
                          cwd=away, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert f"workspace: {project.resolve()} (new)" in done.stderr and "workspace" not in done.stdout.split("run id:")[0]
    assert (project / ".tidal").is_dir() and not (away / ".tidal").exists()
    workspace = Workspace.open(project)
    run = RunResult.load(workspace, workspace.metadata.list_runs()[0].id).to_dict()
    workspace.close()
    assert run["status"] == "succeeded" and rows_read(run) == 3
    assert run["pipeline_path"] == "pipelines/p.yaml"  # relative to the workspace, which can move


def test_from_a_parent_folder_and_from_a_copy(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path / "project", rows=3)
    code, out, err = cli(monkeypatch, capsys, tmp_path, "run", "project/pipelines/p.yaml", "--workers", "0")
    assert code == 0, err
    assert f"workspace: {project.resolve()}\n" in err and not (tmp_path / ".tidal").exists()

    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    (copy / "data" / "x.csv").write_text("a,b\n1,2\n")  # the copy's own data, read from the copy's root
    code, out, err = cli(monkeypatch, capsys, tmp_path, "run", "copy/pipelines/p.yaml", "--workers", "0", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert rows_read(run) == 1 and str(copy.resolve()) in run["nodes"]["read"]["outputs"]["output"]["uri"]
    assert err == ""  # --json: no workspace line either

    code, out, err = cli(monkeypatch, capsys, copy / "pipelines", "runs", "list", "--json")  # walks up from here
    assert code == 0 and [item["status"] for item in json.loads(out)] == ["succeeded", "succeeded"]
    code, out, err = cli(monkeypatch, capsys, copy / "pipelines", "runs", "list")
    assert code == 0 and f"workspace: {copy.resolve()}" in err


def test_workspace_option_beats_the_environment_which_beats_discovery(tmp_path, monkeypatch, capsys):
    make_project(tmp_path / "project", rows=3)
    chosen = make_project(tmp_path / "chosen", rows=5)
    from_env = make_project(tmp_path / "from-env", rows=7)
    pipeline = str(tmp_path / "project" / "pipelines" / "p.yaml")

    code, out, err = cli(monkeypatch, capsys, tmp_path, "run", pipeline, "--workers", "0", "--json", "--workspace", "chosen")
    assert code == 0, err
    assert rows_read(json.loads(out)) == 5

    monkeypatch.setenv("TIDAL_WORKSPACE", str(from_env))
    code, out, err = cli(monkeypatch, capsys, tmp_path, "run", pipeline, "--workers", "0", "--json")
    assert code == 0 and rows_read(json.loads(out)) == 7
    code, out, err = cli(monkeypatch, capsys, tmp_path, "run", pipeline, "--workers", "0", "--json", "-w", str(chosen))
    assert code == 0 and rows_read(json.loads(out)) == 5
    code, out, err = cli(monkeypatch, capsys, tmp_path, "--workspace", str(chosen), "runs", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 2  # the global option, before the command, works the same


def test_the_studio_started_on_a_folder_uses_its_workspace(tmp_path, monkeypatch, capsys):
    from fastapi.testclient import TestClient

    import tidal.studio

    project = make_project(tmp_path / "project", rows=3)
    assert cli(monkeypatch, capsys, tmp_path, "run", "project/pipelines/p.yaml", "--workers", "0", "-q")[0] == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    seen = []

    def fake_serve(host, port, *, workspace, announce, **options):  # what the real one would serve
        with TestClient(tidal.studio.create_app(workspace), base_url="http://127.0.0.1") as client:
            seen.append((workspace.root, client.get("/api/pipelines").json(), client.get("/api/runs").json()))

    monkeypatch.setattr(tidal.studio, "serve", fake_serve)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    assert cli(monkeypatch, capsys, tmp_path, "studio", "project/pipelines", "--port", port)[0] == 0
    root, pipelines, runs = seen[-1]
    assert root == project.resolve()  # found above the folder, as git finds a repository
    assert [item["path"] for item in pipelines] == ["pipelines/p.yaml"] and len(runs) == 1
    assert cli(monkeypatch, capsys, tmp_path, "studio", "fresh", "--port", port)[0] == 0
    assert seen[-1][0] == fresh.resolve() and (fresh / ".tidal").is_dir()  # a folder without one gets its own
    code, _, err = cli(monkeypatch, capsys, tmp_path, "studio", "project/pipelines/p.yaml", "--port", port)
    assert code == 2 and "is not a folder" in err


def test_study_data_is_read_from_the_workspace_root_then_beside_the_study_file(tmp_path):
    from tidal.cli._tune import load_data
    from tidal.core import TidalError

    project = make_project(tmp_path / "project", rows=3)
    studies = project / "studies"
    studies.mkdir()
    (studies / "local.csv").write_text("a\n1\n")
    assert len(load_data("data/x.csv", project, beside=studies)) == 3
    assert len(load_data("local.csv", project, beside=studies)) == 1  # a study file naming a file beside it still works
    frame = load_data({"component": "io.read_csv", "params": {"path": "data/x.csv"}}, project, beside=studies)
    assert len(frame) == 3  # a data component's relative path, too, is read from the workspace
    with pytest.raises(TidalError, match=r"data file nope.csv does not exist \(relative paths are read from the workspace"):
        load_data("nope.csv", project, beside=studies)


def test_read_only_commands_refuse_where_there_is_no_workspace_and_create_none(monkeypatch, capsys, tmp_path):
    for args in (("runs", "list"), ("runs", "show", "20261204-000000-abcdef"), ("runs", "logs", "20261204-000000-abcdef"),
                 ("models", "list"), ("models", "show", "churn"), ("studies", "list")):
        code, _, err = cli(monkeypatch, capsys, tmp_path, *args)
        assert code == 2 and f"no Tidal workspace at {tmp_path.resolve()} or above it" in err, (args, err)
    code, _, err = cli(monkeypatch, capsys, tmp_path, "serve", "models:/churn@production")
    assert code == 2 and "no Tidal workspace" in err
    assert not (tmp_path / ".tidal").exists()
    make_project(tmp_path / "proj", rows=3)  # with a workspace found above the current folder, they read it
    code, out, _ = cli(monkeypatch, capsys, tmp_path / "proj" / "data", "runs", "list", "--json")
    assert code == 0 and json.loads(out) == []
