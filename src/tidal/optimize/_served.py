"""The last check before the answer: the chosen variant's package timed as it will be served.

The search times each graph in a session fed straight from the validation rows, while the baseline
is the package's own predict; the package made from the winner adds its column checks and
conversion (about 0.1 ms a call), which the graph's timing leaves out. So the winner's package and
the original are timed side by side through ``predict`` (interleaved, as every variant is), at every
batch size. Where the winner's package is slower than the original at any of them, the original
is kept, and the report says why; either way the report's ``served`` entry gives both medians and the
speed-up a user of ``tidal serve`` or batch prediction gets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tidal.optimize._measure import PackageRunner, Timing, time_runners
from tidal.optimize._pick import BASELINE, Measurement, Pick


def _light(timing: Timing) -> Timing:
    """Two packages at every batch size: lighter than a variant's timing, never heavier than the caller's."""
    return Timing(warmup=min(timing.warmup, 3), rounds=min(timing.rounds, 3), calls=min(timing.calls, 10))


def served_check(original: Any, candidate: Any, frame: pd.DataFrame, batch_sizes: list[int],
                 timing: Timing) -> tuple[dict[str, Any], str]:
    """Both packages' median latency through ``predict`` at each batch size, and why the candidate is slower
    (``""`` when it is not slower at any)."""
    times = time_runners({"original": PackageRunner(original), "optimized": PackageRunner(candidate)}, frame,
                         batch_sizes, _light(timing))
    figures: dict[str, Any] = {}
    slower = ""
    for size in batch_sizes:
        before, after = times["original"][size].p50_ms, times["optimized"][size].p50_ms
        figures[str(size)] = {"original_p50_ms": round(before, 4), "optimized_p50_ms": round(after, 4),
                              "speedup": round(before / after, 3) if after > 0 else None}
        if after > before and not slower:
            slower = (f"its package was slower than the original through predict at batch {size} "
                      f"({after:.3g} ms against {before:.3g} ms)")
    return {"through": "the packages' predict", "batch_sizes": figures}, slower


def keep_original(chosen: Pick, measurements: list[Measurement], why: str) -> Pick:
    """The pick overturned by :func:`served_check`: the original is kept, and both verdicts say why."""
    winner = next(item for item in measurements if item.name == chosen.winner)
    base = next(item for item in measurements if item.name == BASELINE)
    winner.verdict = f"lost: fastest within the bound as a graph, but {why}"
    base.verdict = f"won: {chosen.winner} was the fastest variant within the bound, but {why}; the original model is kept"
    return Pick(BASELINE, chosen.batch, chosen.allowed_loss, True, base.verdict)
