"""Choosing the variant: the fastest within the accuracy bound, never one slower than the baseline.

:func:`pick` is a pure function of the measurements, so it is tested with given numbers. A
variant is eligible when it ran, can be packaged, loses no more than the bound allows, is no
slower than the baseline at *any* measured batch size (median latency), and is faster at the
pick's batch size (the first one asked for) by at least ``min_gain`` (default 5%: less is within
the noise of a timed run). The fastest eligible variant at the pick's batch size wins; with none
the baseline wins, which keeps the original model. Every variant gets a one-line verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tidal.optimize._data import LossBound
from tidal.optimize._encoder import CosineBound
from tidal.optimize._measure import Latency

BASELINE = "baseline"
#: the least speed-up (fraction of the baseline's median latency) that counts as faster
MIN_GAIN = 0.05


@dataclass
class Measurement:
    """One variant as measured: what it is, how fast, how big, how accurate, or why it did not run."""

    name: str
    family: str
    settings: dict[str, Any] = field(default_factory=dict)
    latency: dict[int, Latency] = field(default_factory=dict)
    size_bytes: int | None = None
    score: float | None = None
    loss: float | None = None
    cosine_mean: float | None = None
    cosine_min: float | None = None
    agreement: float | None = None  # share of rows with the baseline's prediction
    packable: bool = True
    note: str = ""
    error: str | None = None
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "settings": self.settings,
                "latency": {str(size): value.to_dict() for size, value in self.latency.items()},
                "size_bytes": self.size_bytes, "score": self.score, "loss": self.loss,
                "cosine_mean": self.cosine_mean, "cosine_min": self.cosine_min, "agreement": self.agreement,
                "packable": self.packable, "note": self.note, "error": self.error, "verdict": self.verdict}


@dataclass
class Pick:
    winner: str
    batch: int
    allowed_loss: float
    kept_original: bool
    reason: str


def pick(measurements: list[Measurement], *, batch: int, bound: LossBound, min_gain: float = MIN_GAIN,
         cosine: CosineBound | None = None) -> Pick:
    """The winner among ``measurements`` (one named :data:`BASELINE`); sets every ``verdict``.

    With ``cosine`` (sentence encoders), a variant must also keep the mean and the smallest cosine of
    its outputs to the baseline's within that bound.
    """
    base = next((item for item in measurements if item.name == BASELINE), None)
    if base is None or base.score is None or batch not in base.latency:
        raise ValueError(f"the baseline must be measured at batch size {batch} before a pick")
    allowed = bound.allowed(base.score)
    base_speed = base.latency[batch].p50_ms
    eligible: list[Measurement] = []
    for item in measurements:
        if item is base:
            continue
        item.verdict = _verdict(item, base, batch, allowed, min_gain, cosine)
        if not item.verdict:
            eligible.append(item)
    if not eligible:
        base.verdict = "won: no variant was faster than the baseline within the bound; the original model is kept"
        return Pick(BASELINE, batch, allowed, True, base.verdict)
    eligible.sort(key=lambda item: item.latency[batch].p50_ms)
    best = eligible[0]
    speedup = base_speed / best.latency[batch].p50_ms
    similar = (f", cosine mean {best.cosine_mean:.4f}, smallest {best.cosine_min:.4f}"
               if cosine is not None and best.cosine_mean is not None and best.cosine_min is not None else "")
    best.verdict = (f"won: fastest within the bound at batch {batch}, {speedup:.2f}x the baseline "
                    f"(loss {best.loss:.4g}, allowed {allowed:.4g}{similar})")
    for item in eligible[1:]:
        item.verdict = (f"lost: within the bound, but {item.latency[batch].p50_ms:.4g} ms at batch {batch} against "
                        f"{best.name}'s {best.latency[batch].p50_ms:.4g} ms")
    base.verdict = f"lost: {best.name} is {speedup:.2f}x faster within the bound"
    return Pick(best.name, batch, allowed, False, best.verdict)


def _verdict(item: Measurement, base: Measurement, batch: int, allowed: float, min_gain: float,
             cosine: CosineBound | None = None) -> str:
    """Why ``item`` cannot win, or ``""`` when it is eligible."""
    if item.error:
        return f"failed: {item.error}"
    if not item.packable:
        return f"not packaged: {item.note}" if item.note else "not packaged"
    if item.loss is None or item.score is None:
        return "not scored"
    if item.loss > allowed:
        return f"lost: loses {item.loss:.4g} of the metric, more than the {allowed:.4g} allowed"
    missed = cosine.misses(item.cosine_mean, item.cosine_min) if cosine is not None else ""
    if missed:
        return f"lost: outside the cosine bound ({missed})"
    missing = [size for size in base.latency if size not in item.latency]
    if missing:
        return f"not timed at batch size(s) {', '.join(map(str, missing))}"
    slower = [size for size, latency in base.latency.items() if item.latency[size].p50_ms > latency.p50_ms]
    if slower:
        size = slower[0]
        return (f"lost: slower than the baseline at batch {size} ({item.latency[size].p50_ms:.3g} ms against "
                f"{base.latency[size].p50_ms:.3g} ms)")
    gain = 1 - item.latency[batch].p50_ms / base.latency[batch].p50_ms
    if gain < min_gain:
        return (f"lost: only {gain * 100:.1f}% faster than the baseline at batch {batch}; "
                f"{min_gain * 100:g}% is needed to count beyond timing noise")
    return ""
