"""The machine a search ran on: CPU model, the instruction sets that decide INT8 speed, usable CPUs.

INT8 matrix products are fast where the CPU has VNNI (``avx512_vnni``, ``avx_vnni``) or AMX
(``amx_int8``); without them onnxruntime's u8s8 kernels can saturate, which ``reduce_range``
(7-bit weights) avoids. The flags come from ``/proc/cpuinfo`` (what ``lscpu`` reads); the model
name too, falling back to :func:`platform.processor`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the instruction sets recorded with every result
RECORDED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                  "amx_tile", "amx_int8", "amx_bf16")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class CpuInfo:
    """What the search knows about the CPU it measured on."""

    model: str
    flags: tuple[str, ...]
    usable_cpus: int
    machine: str = field(default_factory=platform.machine)

    @property
    def vnni(self) -> bool:
        return any(flag in self.flags for flag in VNNI_FLAGS)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "machine": self.machine, "usable_cpus": self.usable_cpus,
                "flags": {name: name in self.flags for name in RECORDED_FLAGS}, "vnni": self.vnni,
                "load_average": _load_average()}


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        return None


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """The CPU's model name and recorded flags (none known where ``/proc/cpuinfo`` is absent)."""
    model, flags = "", set[str]()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return CpuInfo(model or platform.processor() or "unknown", tuple(sorted(flag for flag in flags if flag in RECORDED_FLAGS)),
                   usable_cpus())
