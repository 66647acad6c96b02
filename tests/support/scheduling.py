"""How ``make test`` hands test files to its xdist workers: longest first, and files that share a
costly session resource (a Ray cluster) together, so the resource starts once.

pytest-xdist's ``--dist loadfile`` sends whole files to workers in the order of their test
counts: a file with two thousand quick tests goes first and a file with one 60-second test goes
last, where it runs alone while the other worker idles. Here the files go in the order of their
measured time (``tests/durations.json``, written by ``scripts/write_test_durations.py`` from a
run's JUnit XML), the longest first; a file the table does not know counts as the table's median.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from xdist.scheduler import LoadFileScheduling

DURATIONS = Path(__file__).parent.parent / "durations.json"

#: files that share one session-scoped resource run on one worker, as one unit of work
SHARED_SCOPES = {
    "tests/runtime/test_executor_conformance.py": "ray cluster",
    "tests/runtime/test_ray_resources.py": "ray cluster",
    "tests/runtime/test_ray_data_steps.py": "ray cluster",
    "tests/serving/test_ray.py": "ray cluster",
}


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per test file from the table; an empty table when it is missing or unreadable."""
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(name): float(seconds) for name, seconds in table.items() if isinstance(seconds, (int, float))}


def scope_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return SHARED_SCOPES.get(path, path)


def ordered_scopes(scopes: list[str], durations: dict[str, float]) -> list[str]:
    """The scopes, longest expected first (a shared scope costs the sum of its files)."""
    expected: dict[str, float] = {}
    for path, seconds in durations.items():
        scope = SHARED_SCOPES.get(path, path)
        expected[scope] = expected.get(scope, 0.0) + seconds
    unknown = statistics.median(expected.values()) if expected else 0.0
    return sorted(scopes, key=lambda scope: -expected.get(scope, unknown))


class LongestFirstScheduling(LoadFileScheduling):
    """``loadfile``, with the shared scopes above and the longest work handed out first."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self.durations = load_durations()
        self.ordered = False

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        if not self.ordered:  # the first hand-out: the queue holds every scope, in collection order
            order = ordered_scopes(list(self.workqueue), self.durations)
            for scope in order:
                self.workqueue.move_to_end(scope)
            self.ordered = True
        super()._assign_work_unit(node)
