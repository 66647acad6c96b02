"""Which workspace a command uses: found from the pipeline file as git finds a repository."""

from __future__ import annotations

import pytest

from tidal.store import find_workspace


@pytest.fixture
def layout(tmp_path, monkeypatch):
    monkeypatch.delenv("TIDAL_HOME", raising=False)
    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    project = tmp_path / "project"
    (project / ".tidal").mkdir(parents=True)
    (project / "pipelines" / "deep").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return project, elsewhere


def test_the_pipelines_own_workspace_wins_over_where_you_stand(layout, monkeypatch):
    project, elsewhere = layout
    monkeypatch.chdir(elsewhere)
    assert find_workspace(project / "pipelines" / "deep" / "p.yaml") == project.resolve()


def test_without_a_pipeline_the_current_folder_and_its_parents(layout, monkeypatch):
    project, elsewhere = layout
    monkeypatch.chdir(project / "pipelines" / "deep")
    assert find_workspace() == project.resolve()
    monkeypatch.chdir(elsewhere)
    assert find_workspace() == elsewhere.resolve()


def test_explicit_choice_and_environment_win(layout, monkeypatch):
    project, elsewhere = layout
    assert find_workspace(project / "pipelines" / "p.yaml", chosen=elsewhere) == elsewhere.resolve()
    monkeypatch.setenv("TIDAL_WORKSPACE", str(elsewhere))
    assert find_workspace(project / "pipelines" / "p.yaml") == elsewhere.resolve()


def test_a_new_workspace_is_where_the_pipeline_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("TIDAL_HOME", raising=False)
    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    fresh = tmp_path / "fresh"
    (fresh / "pipelines").mkdir(parents=True)
    stand = tmp_path / "stand"
    stand.mkdir()
    monkeypatch.chdir(stand)
    assert find_workspace(fresh / "pipelines" / "p.yaml") == fresh.resolve()
    assert find_workspace(fresh / "p.yaml") == fresh.resolve()
    monkeypatch.chdir(fresh)
    assert find_workspace(fresh / "pipelines" / "p.yaml") == fresh.resolve()


def test_a_named_folder_is_its_own_workspace_unless_one_lies_above(layout, tmp_path, monkeypatch):
    """`tidal studio FOLDER`: the nearest workspace at or above FOLDER, else a new one in FOLDER itself."""
    project, elsewhere = layout
    monkeypatch.chdir(project)  # the current folder's workspace does not capture a folder named elsewhere
    assert find_workspace(project / "pipelines" / "deep") == project.resolve()
    assert find_workspace(elsewhere) == elsewhere.resolve()
    monkeypatch.chdir(elsewhere)
    inside = elsewhere / "sub"
    inside.mkdir()
    assert find_workspace(inside) == inside.resolve()


def test_a_fresh_project_standing_in_its_pipelines_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TIDAL_HOME", raising=False)
    monkeypatch.delenv("TIDAL_WORKSPACE", raising=False)
    fresh = tmp_path / "fresh"
    (fresh / "pipelines").mkdir(parents=True)
    (fresh / "experiments").mkdir()
    monkeypatch.chdir(fresh / "pipelines")
    assert find_workspace("p.yaml") == fresh.resolve()  # the project, where data/ lives, not pipelines/
    monkeypatch.chdir(fresh)
    assert find_workspace("experiments/p.yaml") == fresh.resolve()  # under where you stand: there


def test_opening_without_a_root_finds_the_workspace(layout, monkeypatch):
    from tidal.store import Workspace

    project, elsewhere = layout
    monkeypatch.chdir(elsewhere)
    assert Workspace.open(near=project / "pipelines" / "p.yaml").root == project.resolve()
    monkeypatch.chdir(project / "pipelines" / "deep")
    assert Workspace.open().root == project.resolve()
    assert Workspace.open(elsewhere).root == elsewhere.resolve()
