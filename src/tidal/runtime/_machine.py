"""What this machine offers a node run by the local executor: CPUs, memory and GPUs as visible here."""

from __future__ import annotations

import os
from pathlib import Path

from tidal.core._errors import TidalError
from tidal.core._resources import Resources, check_fits, describe_amount

_LOCAL_HINT = ("the local executor runs every node on this machine; lower the node's 'resources', "
               "or run on a Ray cluster that has them (`tidal run FILE --executor ray --address HOST:PORT`)")


def visible_cpus() -> int:
    """CPUs this process may use (its affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def visible_memory_bytes() -> int | None:
    """Physical memory, or a smaller cgroup (container) limit; None where the platform does not say."""
    total: int | None = None
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit() and (total is None or int(limit) < total):
        total = int(limit)
    return total


def visible_gpus() -> int:
    """GPUs a process started here would see: ``CUDA_VISIBLE_DEVICES`` when set, else the NVIDIA driver's list."""
    chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
    if chosen is not None:
        return len([item for item in chosen.split(",") if item.strip() and not item.strip().startswith("-")])
    try:
        return sum(1 for _ in Path("/proc/driver/nvidia/gpus").iterdir())
    except OSError:
        return 0


def check_fits_here(node_id: str, request: Resources) -> None:
    """Raise :class:`TidalError` when ``request`` asks more than this machine has."""
    if request.custom:
        name, amount = next(iter(request.custom.items()))
        raise TidalError(f"node '{node_id}' asks {describe_amount(name, amount)}; custom resources exist only on "
                         "a Ray cluster that declares them; run it with --executor ray, or drop the request")
    available: dict[str, float] = {"cpus": float(visible_cpus()), "gpus": float(visible_gpus())}
    memory = visible_memory_bytes()
    if memory is not None:
        available["memory"] = float(memory)
    elif request.memory_bytes is not None:
        request = Resources(request.cpus, None, request.gpus)  # unknown here: not refused
    check_fits(node_id, request, "this machine", available, _LOCAL_HINT)
