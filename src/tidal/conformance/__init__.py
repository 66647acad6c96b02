"""The conformance suite: the checks every component must pass, built-in or plug-in.

Run it over the whole registry (Tidal's own tests do) or over your plug-in's components::

    from tidal.conformance import parametrize_with_checks

    @parametrize_with_checks(["acme.my_component"])
    def test_conformance(component_id, check):
        check()

It sits above the component library in Tidal's layers (it builds models and runs components),
so plug-ins and tests import it; the library itself never does.
"""

from tidal.conformance._checks import (
    CHECKS,
    EXPECTED_FAILURES,
    ConformanceError,
    parametrize_with_checks,
    run_checks,
    sample_call,
    yield_checks,
)
from tidal.conformance._samples import Sample, sample_for, sample_model

__all__ = [
    "CHECKS",
    "EXPECTED_FAILURES",
    "ConformanceError",
    "Sample",
    "parametrize_with_checks",
    "run_checks",
    "sample_call",
    "sample_for",
    "sample_model",
    "yield_checks",
]
