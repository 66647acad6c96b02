"""The shared conformance suite over every built-in component (STYLE rule 3)."""

from tidal.core import registry
from tidal.core.conformance import parametrize_with_checks

BUILT_IN = [spec.id for spec in registry.all() if spec.func.__module__.startswith("tidal.components.")]


@parametrize_with_checks(BUILT_IN)
def test_component_conforms(component_id, check):
    check()
