"""`tidal deploy --dry-run` checks everything and writes nothing; manifests carry no YAML anchors."""

from __future__ import annotations

import pytest
from package_gadgets import honest_package

from tidal.core import TidalError
from tidal.models import ModelRegistry
from tidal.serving._deploy import deploy
from tidal.serving._service import parse_service


def service(*sources: str):
    return parse_service({
        "name": "churn",
        "models": [{"name": "churn", "versions": [{"source": source, "weight": 50} for source in sources]}],
        "kubernetes": {"image": "registry.example/tidal:0.1"},
    })


def test_dry_run_names_every_missing_model_and_writes_nothing(workspace, tmp_path):
    folder = tmp_path / "manifests"
    with pytest.raises(TidalError) as refused:
        deploy(service("models:/churn/7", str(tmp_path / "nowhere.zip")), target="kubernetes", output=folder,
               dry_run=True, workspace=workspace)
    assert "models:/churn/7" in str(refused.value) and "nowhere.zip" in str(refused.value)
    assert not folder.exists()


def test_dry_run_prints_the_manifests_without_anchors(workspace, tmp_path):
    version = ModelRegistry(workspace).register(honest_package(tmp_path / "pkg"), "churn")
    folder = tmp_path / "manifests"
    shown = deploy(service(f"models:/churn/{version.version}"), target="kubernetes", output=folder,
                   dry_run=True, workspace=workspace)
    assert "kind: Deployment" in shown and "would write" in shown
    assert "&id" not in shown and "*id" not in shown
    assert not folder.exists()
    written = deploy(service(f"models:/churn/{version.version}"), target="kubernetes", output=folder, workspace=workspace)
    assert folder.is_dir() and "wrote" in written
    assert all("&id" not in path.read_text() for path in folder.glob("*.yaml"))
