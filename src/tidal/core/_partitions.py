"""The seam through which a data step runs per partition: a runner the runtime provides, or none.

An executor that can spread work (the Ray executor) installs a :class:`PartitionRunner` around
each node it runs; the out-of-core data components ask :func:`active_runner` and, when one is
there and their input is split into several partitions, hand it one plain function and a list of
partitions. With no runner (the local executor, a notebook) they run as one DuckDB query, as
always. Components never import the runner's machinery (Ray): the runtime layer fills this slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class PartitionRunner(Protocol):
    """Runs one function over many partitions, elsewhere, and gives the results back in order."""

    #: whether the function can open this process's files by path (else partitions travel as data)
    shares_disk: bool

    def map(
        self, function: Callable[[Item, Any], Result], items: Iterable[Item], shared: Any = None
    ) -> Iterator[Result]:
        """``function(item, shared)`` for every item, results yielded in the items' order; ``shared`` is sent once.

        ``items`` may be lazy: take the next one only when there is room for it.
        """
        ...

    def note(self, message: str) -> None:
        """Tell the person reading the node's log what ran where, e.g. why a step ran locally."""
        ...


_runner: ContextVar[PartitionRunner | None] = ContextVar("tidal_partition_runner", default=None)


def active_runner() -> PartitionRunner | None:
    """The runner data steps use now, or None to run as one local query."""
    return _runner.get()


@contextlib.contextmanager
def use_runner(runner: PartitionRunner | None) -> Iterator[None]:
    """Run data steps inside this block with ``runner`` (None: locally)."""
    token = _runner.set(runner)
    try:
        yield
    finally:
        _runner.reset(token)


class InlinePartitionRunner:
    """The reference runner: partitions one after another in this process (for tests, and to check a plan).

    ``shares_disk=False`` makes steps send partitions as data, as they do to a cluster without a
    shared disk. Its notes are kept in ``notes``.
    """

    def __init__(self, *, shares_disk: bool = True) -> None:
        self.shares_disk = shares_disk
        self.notes: list[str] = []

    def map(
        self, function: Callable[[Item, Any], Result], items: Iterable[Item], shared: Any = None
    ) -> Iterator[Result]:
        for item in items:
            yield function(item, shared)

    def note(self, message: str) -> None:
        self.notes.append(message)
