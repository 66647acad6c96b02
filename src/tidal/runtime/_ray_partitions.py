"""Data steps per partition as Ray tasks: the partition runner the Ray executor installs around each node.

A data step that runs per partition (:mod:`tidal.components._partitioned`) hands this runner one
plain function and its partitions; each partition becomes a Ray task of one CPU, at most
``window`` in flight, and the results come back through Ray's object store in partition order,
so the step streams them into its output one after another. A node waiting on its partitions
gives its own CPU back to Ray while it waits (Ray does this for a task blocked in ``ray.get``),
so partitions can run even on a one-CPU cluster.

``ray_data_steps()`` installs the same runner in this process, for a notebook or a script that
calls the data components directly on a Ray cluster.
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tidal.core._partitions import use_runner

#: partitions in flight per cluster CPU (each holds one partition's result until the step takes it)
IN_FLIGHT_PER_CPU = 2

_remote_functions: dict[Any, Any] = {}


class RayPartitionRunner:
    """Runs partitions as Ray tasks (one CPU each) on the cluster this process is connected to."""

    def __init__(self, *, shares_disk: bool, window: int | None = None) -> None:
        import ray

        self._ray = ray
        self.shares_disk = shares_disk
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.window = max(1, window if window else IN_FLIGHT_PER_CPU * max(1, cpus))

    def _remote(self, function: Callable[..., Any]) -> Any:
        if function not in _remote_functions:
            # a failed partition comes back as a value; Ray retries a task only when its worker died
            _remote_functions[function] = self._ray.remote(num_cpus=1, max_retries=1)(function)
        return _remote_functions[function]

    def map(
        self, function: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any = None
    ) -> Iterator[Any]:
        remote = self._remote(function)
        shared_ref = self._ray.put(shared) if shared is not None else None
        pending: deque[Any] = deque()
        waiting = iter(items)
        for item in waiting:
            pending.append(remote.remote(item, shared_ref))
            if len(pending) >= self.window:
                break
        while pending:
            result = self._ray.get(pending.popleft())
            for item in waiting:
                pending.append(remote.remote(item, shared_ref))
                break
            yield result

    def note(self, message: str) -> None:
        print(f"partitions: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def ray_data_steps(
    *, shares_disk: bool = True, window: int | None = None
) -> Iterator[RayPartitionRunner]:
    """Inside the block, data steps called in this process run per partition on the connected Ray cluster.

    Connect first (``ray.init(...)``). ``shares_disk=False`` sends each partition's rows through
    Ray instead of a file path, for a cluster whose machines cannot open this machine's files.
    """
    import ray

    if not ray.is_initialized():
        from tidal.core._errors import TidalError

        raise TidalError(
            "ray_data_steps needs a Ray connection: call ray.init() (or ray.init(address=...)) first"
        )
    runner = RayPartitionRunner(shares_disk=shares_disk, window=window)
    with use_runner(runner):
        yield runner
