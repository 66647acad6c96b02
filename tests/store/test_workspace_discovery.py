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
