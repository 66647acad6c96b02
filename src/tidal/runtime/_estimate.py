"""What a node will need, learned from the runs the workspace recorded.

Every computed node run records its component, its input rows and bytes, its peak memory (the
worker's resident set) and its duration. Before a run, each node's needs are predicted from the
earlier runs of its component:

* the input it will read is taken to be the size its own node (same pipeline, same node id) read
  last time; a node never run before has no size, and its component's largest recorded peak stands
  in for it;
* with three or more recorded runs over at least two input sizes, memory is fitted as
  ``base + slope x input bytes`` (least squares, the slope kept at 0 or more) and lifted by the
  largest amount any recorded run went over the line, so every recorded run would have fitted;
  duration likewise from input rows. With fewer, the largest recorded peak is scaled by how much
  larger the input is than the largest recorded one (never down).

The engine warns before a run when a node's estimate is over what the executor can give ("node
'train' (classification.lightgbm) needs ~18.0 GiB by 12 earlier runs; the largest Ray node has
16.0 GiB"), and on Ray sets the estimate as the node's memory request when the pipeline gives none,
so Ray places it where it fits. ``tidal estimate FILE`` prints the estimates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tidal.core._resources import Resources
from tidal.pipeline._graph import Pipeline
from tidal.store._metadata import MetadataStore, NodeRunRecord

log = logging.getLogger(__name__)

#: recorded runs of a component used for one estimate (the newest)
HISTORY = 200
#: recorded runs over at least two input sizes needed to fit a line (fewer: the largest peak, scaled)
MIN_FIT = 3


@dataclass
class NeedEstimate:
    """One node's predicted peak memory and duration, and what they rest on."""

    node_id: str
    component: str
    memory_bytes: int
    duration_s: float | None
    runs: int
    input_bytes: int | None
    basis: str

    def describe(self) -> str:
        return f"node '{self.node_id}' ({self.component}) needs ~{human_bytes(self.memory_bytes)} by {self.runs} earlier run(s)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def human_bytes(count: float) -> str:
    """``19327352832`` -> ``'18.0 GiB'``."""
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"


def _fit(xs: list[float], ys: list[float], x: float) -> float:
    """``ys`` over ``xs`` as a line with a slope of 0 or more, at ``x``, lifted to cover every point."""
    a = np.asarray(xs, dtype=np.float64)
    b = np.asarray(ys, dtype=np.float64)
    design = np.stack([np.ones_like(a), a], axis=1)
    (base, slope), *_ = np.linalg.lstsq(design, b, rcond=None)
    if slope < 0:
        base, slope = float(b.max()), 0.0
    over = float(np.max(b - (base + slope * a)))
    return float(base + slope * x + max(over, 0.0))


def _scaled(xs: list[float], ys: list[float], x: float | None) -> float:
    largest = max(ys)
    if x is None or not xs or max(xs) <= 0:
        return float(largest)
    return float(largest * max(1.0, x / max(xs)))


def _predict(points: Sequence[tuple[float | None, float]], x: float | None) -> tuple[float, str]:
    known = [(px, py) for px, py in points if px is not None]
    xs, ys = [float(px) for px, _ in known], [py for _, py in known]
    if x is not None and len(known) >= MIN_FIT and len(set(xs)) >= 2:
        return _fit(xs, ys, float(x)), "fitted"
    return _scaled(xs, [py for _, py in points], x), "largest recorded, scaled by input" if x is not None else "largest recorded"


def estimate_node(node_id: str, component: str, history: list[tuple[NodeRunRecord, str]],
                  pipeline_name: str) -> NeedEstimate | None:
    """The estimate for one node from its component's recorded runs (newest first), or None without any."""
    if not history:
        return None
    own = next((record for record, name in history if name == pipeline_name and record.node_id == node_id), None)
    input_bytes = own.input_bytes if own is not None else None
    input_rows = own.input_rows if own is not None else None
    memory, basis = _predict([(r.input_bytes, float(r.peak_memory_bytes or 0)) for r, _ in history], input_bytes)
    timed = [(r.input_rows, float(r.duration_s)) for r, _ in history if r.duration_s is not None]
    duration = _predict(timed, input_rows)[0] if timed else None
    return NeedEstimate(node_id, component, int(memory), duration, len(history), input_bytes, basis)


def estimate_pipeline(pipeline: Pipeline, store: MetadataStore) -> dict[str, NeedEstimate]:
    """Node id -> estimate, for every node whose component has recorded runs in this workspace."""
    found: dict[str, NeedEstimate] = {}
    histories: dict[str, list[tuple[NodeRunRecord, str]]] = {}
    for node_id, node in pipeline.nodes.items():
        if node.component not in histories:
            histories[node.component] = store.measured_node_runs(node.component, HISTORY)
        estimate = estimate_node(node_id, node.component, histories[node.component], pipeline.name)
        if estimate is not None:
            found[node_id] = estimate
    return found


def apply_estimates(pipeline: Pipeline, store: MetadataStore, requests: dict[str, Resources], executor: Any,
                    kind: str) -> dict[str, dict[str, Any]]:
    """Warn about nodes whose estimate is over what ``executor`` can give; on Ray, give the nodes that ask no
    memory their estimate as the request. Returns the estimates as plain data (the run's options keep them)."""
    estimates = estimate_pipeline(pipeline, store)
    limit, where = executor.memory_limit() if hasattr(executor, "memory_limit") else (None, "")
    for node_id, need in estimates.items():
        asked = requests.get(node_id)
        if limit is not None and need.memory_bytes > limit:
            log.warning("%s; %s has %s: it may run out of memory (request less data, or run it where memory is larger)",
                        need.describe(), where, human_bytes(limit))
        elif kind == "ray" and (asked is None or asked.memory_bytes is None):
            requests[node_id] = (asked or Resources()).merged(Resources(memory_bytes=need.memory_bytes))
    return {node_id: need.to_dict() for node_id, need in estimates.items()}


def describe_estimates(estimates: Mapping[str, NeedEstimate]) -> list[str]:
    """One line per node, for people."""
    return [f"{need.describe()}" + (f", ~{need.duration_s:.1f} s" if need.duration_s is not None else "") + f" ({need.basis})"
            for need in estimates.values()]
