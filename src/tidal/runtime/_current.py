"""Which node a component runs as: its run and node ids, for a component that records its own work.

The worker sets it around each component call (in a worker process or inline). A component that
starts something long-lived under its own id, as ``automl.tune`` starts a study, records where it
came from, so that the Studio can stop the study by cancelling the run that holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeContext:
    run_id: str
    node_id: str
    component: str


_current: ContextVar[NodeContext | None] = ContextVar("tidal_current_node", default=None)


def current_node() -> NodeContext | None:
    """The node being run in this thread, or ``None`` outside a run (a component called directly)."""
    return _current.get()


@contextmanager
def running_as(context: NodeContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)
