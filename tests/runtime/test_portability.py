"""Workspaces that are copied, moved or damaged keep running; cache keys see code and folder changes."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import tidal
from tidal.core._component import make_spec
from tidal.pipeline import Pipeline
from tidal.runtime._cache import FileFingerprints, cache_key
from tidal.store import Workspace


def chain() -> Pipeline:
    pipeline = Pipeline("portable")
    pipeline.add("testing.source", "src", params={"rows": 4})
    pipeline.add("testing.step", "a", inputs={"data": "src"}, params={"tag": "a"})
    pipeline.add("testing.score", "m", inputs={"data": "a"})
    return pipeline


def test_a_moved_workspace_runs_from_its_cache(tmp_path, execution_log):
    first_home = tmp_path / "first"
    workspace = Workspace.open(first_home)
    assert tidal.run(chain(), workspace=workspace, workers=0).ok
    workspace.close()
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.move(str(first_home), moved)
    assert not first_home.exists()
    again = Workspace.open(moved)
    result = tidal.run(chain(), workspace=again, workers=0)
    assert result.ok and all(record.cached for record in result.nodes.values())
    assert result.metrics("m") == {"rows": 4.0}
    assert len(execution_log()) == 3  # nothing ran after the move
    record = again.metadata.artifacts(result.id, "a")[0]
    assert not record.uri.startswith("/") and str(moved) not in record.uri
    again.close()


def test_a_copied_workspace_resumes_a_failed_run(tmp_path, execution_log):
    original = Workspace.open(tmp_path / "original")
    pipeline = chain()
    pipeline.add("testing.flaky", "f", inputs={"data": "a"}, params={"failures": 1, "marker": str(tmp_path / "count")})
    failed = tidal.run(pipeline, workspace=original, workers=0)
    assert not failed.ok
    original.close()
    shutil.copytree(tmp_path / "original", tmp_path / "copy")
    copy = Workspace.open(tmp_path / "copy")
    resumed = tidal.resume_run(failed.id, workspace=copy, workers=0)
    assert resumed.ok
    assert execution_log().count("step:a") == 1  # finished nodes are reused from the copy's store
    copy.close()


def test_a_deleted_or_damaged_artifact_is_recomputed_with_a_warning(workspace, execution_log, caplog):
    first = tidal.run(chain(), workspace=workspace, workers=0)
    record = workspace.metadata.artifacts(first.id, "a")[0]
    path = workspace.artifacts.local_path(record.uri)
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="tidal.runtime"):
        second = tidal.run(chain(), workspace=workspace, workers=0)
    assert second.ok and not second.nodes["a"].cached and second.nodes["src"].cached
    assert "missing or damaged" in caplog.text and "'a'" in caplog.text
    path.write_bytes(b"truncated")  # same key, wrong size: damaged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tidal.runtime"):
        third = tidal.run(chain(), workspace=workspace, workers=0)
    assert third.ok and not third.nodes["a"].cached and "missing or damaged" in caplog.text
    assert third.metrics("m") == {"rows": 4.0}


def _spec_from_source(folder: Path, name: str, body: str):
    module_path = folder / f"{name}.py"
    module_path.write_text(
        "import pandas as pd\n\n"
        "def double(data: pd.DataFrame, *, factor: int = 2) -> pd.DataFrame:\n"
        f"    {body}\n"
    )
    loader = importlib.util.spec_from_file_location(name, module_path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return make_spec(module.double, "plugin.double", title=None, version="1", tags=None, side_effects=False)


def test_editing_a_components_body_changes_its_cache_key(tmp_path):
    before = _spec_from_source(tmp_path, "plugin_v1", "return data * factor")
    after = _spec_from_source(tmp_path, "plugin_v2", "return data * factor + 1")
    same = _spec_from_source(tmp_path, "plugin_v3", "return data * factor")
    keys = [cache_key(spec, {"factor": 2}, {"data": "x"}, tmp_path, FileFingerprints()) for spec in (before, after, same)]
    assert keys[0] != keys[1] and keys[0] == keys[2]


def test_folders_are_fingerprinted_by_their_listing(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("one")
    first = FileFingerprints()(folder)
    (folder / "b.txt").write_text("two")
    second = FileFingerprints()(folder)
    (folder / "b.txt").write_text("three")
    third = FileFingerprints()(folder)
    assert len({first, second, third}) == 3 and first.startswith("dir:")


def test_overrides_leave_the_callers_pipeline_unchanged(workspace):
    pipeline = chain()
    result = tidal.run(pipeline, workspace=workspace, workers=0, overrides=["m.scale=3"])
    assert result.metrics("m") == {"rows": 12.0}
    assert "scale" not in pipeline.nodes["m"].params


def test_a_pipeline_file_run_from_elsewhere_goes_to_its_workspace_and_reads_its_data(tmp_path, monkeypatch):
    """`tidal.run(path)` without a workspace: the pipeline's own, found as git finds a repository."""
    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    monkeypatch.delenv("TIDAL_HOME", raising=False)
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    (project / "data").mkdir()
    (project / ".tidal").mkdir()
    (project / "data" / "x.csv").write_text("a\n1\n2\n")
    (project / "pipelines" / "p.yaml").write_text(
        "tidal: 1\nname: p\nnodes:\n  - {id: read, component: io.read_csv, params: {path: data/x.csv}}\n")
    away = tmp_path / "away"
    away.mkdir()
    monkeypatch.chdir(away)
    result = tidal.run(project / "pipelines" / "p.yaml", workers=0)
    assert result.ok and result.output("read").num_rows == 2
    assert result.workspace.root == project.resolve() and not (away / ".tidal").exists()
    assert result.run.pipeline_path == "pipelines/p.yaml"
    assert Path.cwd() == away.resolve()  # the worker read from the workspace root and came back
    result.workspace.close()
