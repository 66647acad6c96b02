"""What a run tells its watchers (CLI progress, the Studio's event stream), and new run ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tidal.store._metadata import now


@dataclass(frozen=True)
class RunEvent:
    """What a watcher (CLI progress, Studio event stream) is told; immutable."""

    run_id: str
    status: str
    node_id: str | None = None
    cached: bool = False
    attempt: int = 0
    duration_s: float | None = None
    error: str | None = None


EventHandler = Callable[[RunEvent], None]


def new_run_id() -> str:
    stamp = now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"
