"""No-op components for the overhead benchmark (loaded with TIDAL_PLUGINS=noop_components)."""

from __future__ import annotations

from tidal import Metrics, component


@component("bench.start", tags={"sample": "none"})
def start(*, seed: int = 0) -> Metrics:
    """Start a chain.

    Examples
    --------
    >>> start()["value"]
    0
    """
    return Metrics({"value": seed})


@component("bench.noop", tags={"sample": "none"})
def noop(previous: Metrics, *, step: int = 0) -> Metrics:
    """Pass a tiny payload on.

    Examples
    --------
    >>> noop(Metrics({"value": 1}), step=2)["value"]
    3
    """
    return Metrics({"value": previous["value"] + step})
