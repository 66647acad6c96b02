"""Resource requests: what one run of a node needs (CPUs, memory, GPUs, fractions included, custom resources).

A component may declare defaults (``@component(..., resources={"gpus": 0.5})``) and a pipeline node
may override them key by key with a ``resources:`` mapping::

    resources: {cpus: 2, memory: 4GiB, gpus: 0.25, custom: {tpu_slice: 1}}

Requests are data: the parser checks their form, and each executor checks them against the
machines it runs on before anything runs (the Ray executor schedules by them; the local executor
refuses a request this machine cannot satisfy).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pydantic

from tidal.core._errors import Issue, TidalError, ValidationFailed

#: the keys a ``resources:`` mapping may hold
RESOURCE_KEYS = ("cpus", "memory", "gpus", "custom")
#: Ray's resource precision: fractional amounts are multiples of this
PRECISION = 0.0001
#: a request larger than this is a mistake (or an attack), not a machine
MAX_AMOUNT = 1_000_000.0
MAX_MEMORY_BYTES = 1 << 60  # one exbibyte
MAX_CUSTOM = 32
_CUSTOM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,63}$")
#: names Ray reserves for its own accounting; requested through their own keys instead
_RESERVED = {"CPU": "cpus", "GPU": "gpus", "memory": "memory", "object_store_memory": "memory"}
_BYTES = pydantic.TypeAdapter(pydantic.ByteSize)
#: the whole text must be a size: pydantic's ByteSize alone reads '2GiB; anything' as 2GiB
_SIZE_TEXT = re.compile(r"^\s*\d+(?:\.\d+)?\s*[A-Za-z]{0,3}\s*$")
_UNITS = (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


@dataclass(frozen=True)
class Resources:
    """One node's request; ``None`` leaves a resource to the executor's default (Ray: 1 CPU, no GPU)."""

    cpus: float | None = None
    memory_bytes: int | None = None
    gpus: float | None = None
    custom: dict[str, float] = field(default_factory=dict)

    def merged(self, override: Resources | None) -> Resources:
        """These defaults with ``override``'s keys replacing them (custom resources key by key)."""
        if override is None:
            return self
        return Resources(
            cpus=override.cpus if override.cpus is not None else self.cpus,
            memory_bytes=override.memory_bytes if override.memory_bytes is not None else self.memory_bytes,
            gpus=override.gpus if override.gpus is not None else self.gpus,
            custom={**self.custom, **override.custom},
        )

    @property
    def empty(self) -> bool:
        return self.cpus is None and self.memory_bytes is None and self.gpus is None and not self.custom

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: memory as a binary-unit string when it is a whole number of them."""
        data: dict[str, Any] = {}
        if self.cpus is not None:
            data["cpus"] = _number(self.cpus)
        if self.memory_bytes is not None:
            data["memory"] = format_bytes(self.memory_bytes)
        if self.gpus is not None:
            data["gpus"] = _number(self.gpus)
        if self.custom:
            data["custom"] = {name: _number(amount) for name, amount in self.custom.items()}
        return data

    def describe(self) -> str:
        """``'2 CPUs, 0.5 GPUs, 1 of resource 'slot''``."""
        parts = [describe_amount(key, amount) for key, amount in
                 (("cpus", self.cpus), ("memory", self.memory_bytes), ("gpus", self.gpus)) if amount is not None]
        parts.extend(describe_amount(name, amount) for name, amount in self.custom.items())
        return ", ".join(parts) or "nothing"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def format_bytes(count: float) -> str:
    """``2147483648`` -> ``'2GiB'``; a count that is no whole number of a unit stays a number of bytes."""
    for unit, size in _UNITS:
        if count >= size and count % size == 0:
            return f"{int(count // size)}{unit}"
    return str(int(count))


def _amount(key: str, value: Any) -> tuple[float | None, str | None]:
    """A count of CPUs, GPUs or a custom resource: (value, None) or (None, what is wrong)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"must be a number (fractions allowed, e.g. 0.25), not {_shown(value)}"
    amount = float(value)
    if not math.isfinite(amount):
        return None, f"must be a finite number, not {value!r}"
    if amount < 0:
        return None, f"must be 0 or more, not {value!r}"
    if amount > MAX_AMOUNT:
        return None, f"{value!r} is more than any machine has (at most {MAX_AMOUNT:g})"
    if amount and abs(amount / PRECISION - round(amount / PRECISION)) > 1e-6:
        return None, f"{value!r} is finer than Ray's precision; use multiples of {PRECISION:g}"
    return amount, None


def _memory(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, f"must be a size such as 2GiB, 512MiB, 1.5GB or a number of bytes, not {_shown(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"must be a finite size, not {value!r}"
    if isinstance(value, str) and len(value) > 40:
        return None, "is too long to be a size; write it like 2GiB, 512MiB or 1.5GB"
    if isinstance(value, int | float) and value < 0:
        return None, f"must be 0 or more, not {value!r}"
    if isinstance(value, str) and not _SIZE_TEXT.match(value):
        return None, f"{_shown(value)} is not a size; write it like 2GiB, 512MiB, 1.5GB or a number of bytes"
    try:
        size = int(_BYTES.validate_python(value))
    except pydantic.ValidationError:
        return None, f"{_shown(value)} is not a size; write it like 2GiB, 512MiB, 1.5GB or a number of bytes"
    if size < 0:
        return None, f"must be 0 or more, not {value!r}"
    if size > MAX_MEMORY_BYTES:
        return None, f"{_shown(value)} is more than any machine has (at most 1EiB)"
    return size, None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_resources(value: Any) -> tuple[Resources | None, list[tuple[str, str]]]:
    """Parse a ``resources:`` mapping; returns (request or None, [(key, problem), ...])."""
    if not isinstance(value, dict):
        return None, [("", f"must be a mapping with keys {', '.join(RESOURCE_KEYS)}, not {_shown(value)}")]
    problems: list[tuple[str, str]] = []
    for key in value:
        if key not in RESOURCE_KEYS:
            name = _shown(key) if not isinstance(key, str) else key
            hint = {"cpu": "cpus", "gpu": "gpus", "mem": "memory", "num_cpus": "cpus", "num_gpus": "gpus",
                    "resources": "custom"}.get(str(key).lower())
            problems.append((str(name)[:60], "unknown key" + (f"; did you mean '{hint}'?" if hint else
                                                             f"; resources take {', '.join(RESOURCE_KEYS)}")))
    cpus = gpus = None
    memory = None
    if value.get("cpus") is not None:
        cpus, problem = _amount("cpus", value["cpus"])
        if problem:
            problems.append(("cpus", problem))
    if value.get("gpus") is not None:
        gpus, problem = _amount("gpus", value["gpus"])
        if problem:
            problems.append(("gpus", problem))
    if value.get("memory") is not None:
        memory, problem = _memory(value["memory"])
        if problem:
            problems.append(("memory", problem))
    custom: dict[str, float] = {}
    raw = value.get("custom")
    if raw is not None:
        if not isinstance(raw, dict):
            problems.append(("custom", f"must be a mapping of resource name to amount, not {_shown(raw)}"))
        elif len(raw) > MAX_CUSTOM:
            problems.append(("custom", f"names {len(raw)} resources; at most {MAX_CUSTOM}"))
        else:
            for name, amount in raw.items():
                if not isinstance(name, str) or not _CUSTOM_NAME.match(name):
                    problems.append(("custom", f"{_shown(name)} is not a resource name (a letter, then letters, "
                                               "digits, '_', '.', ':' or '-', at most 64)"))
                    continue
                if name in _RESERVED:
                    problems.append((f"custom.{name}", f"Ray reserves this name; use the '{_RESERVED[name]}' key"))
                    continue
                parsed, problem = _amount(name, amount)
                if problem:
                    problems.append((f"custom.{name}", problem))
                elif parsed is not None:
                    custom[name] = parsed
    if problems:
        return None, problems
    return Resources(cpus=cpus, memory_bytes=memory, gpus=gpus, custom=custom), []


def resource_issues(value: Any, node: str | None) -> tuple[Resources | None, list[Issue]]:
    """:func:`parse_resources` with its problems as :class:`Issue` s naming the node and the key."""
    request, problems = parse_resources(value)
    issues = [Issue(f"resources{'.' + key if key else ''}: {problem}", node=node, code="bad_resources")
              for key, problem in problems]
    return request, issues


def as_resources(value: Resources | dict[str, Any] | None, subject: str) -> Resources | None:
    """A request given in Python (a :class:`Resources` or a mapping); raises :class:`ValidationFailed` naming ``subject``."""
    if value is None or isinstance(value, Resources):
        return value
    request, issues = resource_issues(value, None)
    if issues:
        raise ValidationFailed(issues, subject=subject)
    return request


def check_fits(node_id: str, request: Resources, machine: str, available: dict[str, float],
               hint: str) -> None:
    """Raise :class:`TidalError` naming the numbers when ``request`` does not fit ``available``.

    ``available`` holds ``cpus``, ``memory``, ``gpus`` and custom names (a missing key is none at all).
    """
    wanted: list[tuple[str, float]] = []
    if request.cpus is not None:
        wanted.append(("cpus", request.cpus))
    if request.memory_bytes is not None:
        wanted.append(("memory", float(request.memory_bytes)))
    if request.gpus is not None:
        wanted.append(("gpus", request.gpus))
    wanted.extend(request.custom.items())
    for key, amount in wanted:
        has = available.get(key, 0.0)
        if amount > has + 1e-9:
            raise TidalError(f"node '{node_id}' asks {describe_amount(key, amount)}; {machine} has "
                             f"{describe_amount(key, has, bare=True)}; {hint}")


def describe_amount(key: str, amount: float, bare: bool = False) -> str:
    """``('gpus', 4)`` -> ``'4 GPUs'``; memory as a size (``'1.5GiB of memory'``); custom resources by name."""
    if key == "memory":
        size = f"{amount:g} bytes"
        for unit, scale in _UNITS:
            if amount >= scale:
                size = f"{amount / scale:g}{unit}" if (amount / scale).is_integer() else f"{amount / scale:.1f}{unit}"
                break
        return size if bare else f"{size} of memory"
    label = {"cpus": "CPU", "gpus": "GPU"}.get(key)
    if label is not None:
        return f"{amount:g}" if bare else f"{amount:g} {label}{'' if amount == 1 else 's'}"
    return f"{amount:g}" if bare else f"{amount:g} of resource '{key}'"
