"""The shared conformance suite over every built-in component (STYLE rule 3)."""

import pytest

from tidal.conformance import parametrize_with_checks
from tidal.core import registry

BUILT_IN = [spec.id for spec in registry.all() if spec.func.__module__.startswith("tidal.components.")]


@pytest.fixture(autouse=True)
def scratch_workspace(tmp_path, monkeypatch):
    """Components with side effects (model.register) write into a scratch workspace, not the repository."""
    monkeypatch.setenv("TIDAL_HOME", str(tmp_path))


@parametrize_with_checks(BUILT_IN)
def test_component_conforms(component_id, check):
    check()
