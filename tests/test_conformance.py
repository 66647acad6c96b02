"""The shared conformance suite over every registered component (STYLE rule 3)."""

from tidal.core.conformance import parametrize_with_checks


@parametrize_with_checks()
def test_component_conforms(component_id, check):
    check()
