"""Installed plug-ins, their load errors, and ``verify``: the conformance suite over one plug-in.

A verification is recorded in the workspace (``.tidal/market/verified.json``) with the version it
checked, so the Studio and ``tidal market show`` report "passed", "failed", "not verified", or
"stale" (the installed version is not the one verified).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

from tidal.core._registry import ENTRY_POINT_GROUP, registry
from tidal.market._index import canonical_name
from tidal.market._install import installed_plugin_version
from tidal.store._workspace import STATE_DIR

RECORD = Path(STATE_DIR) / "market" / "verified.json"
MAX_RECORD_BYTES = 8 * 1024 * 1024


@dataclass
class PluginInfo:
    distribution: str
    version: str
    entry_points: list[str]
    components: list[str]
    load_errors: dict[str, str] = field(default_factory=dict)
    conformance: str = "not verified"
    verified_version: str | None = None
    verified_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verification:
    distribution: str
    version: str
    components: dict[str, dict[str, str | None]]
    load_errors: dict[str, str]
    verified_at: str

    @property
    def passed(self) -> bool:
        return bool(self.components) and not self.load_errors and all(
            message is None for checks in self.components.values() for message in checks.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def components_of(distribution_name: str) -> list[str]:
    """The ids of the components registered by ``distribution_name``."""
    wanted = canonical_name(distribution_name)
    return sorted(spec_id for spec_id, origin in registry.origins.items() if canonical_name(origin) == wanted and spec_id in registry)


def _load_errors(distribution_name: str) -> dict[str, str]:
    wanted = canonical_name(distribution_name)
    return {name: error for name, error in registry.plugin_errors.items()
            if canonical_name(registry.plugin_distributions.get(name, "")) == wanted}


def read_records(root: Path) -> dict[str, Any]:
    """The recorded verifications of the workspace at ``root`` (distribution -> record); {} when none or unreadable."""
    path = Path(root) / RECORD
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return {}
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_records(root: Path, records: dict[str, Any]) -> None:
    path = Path(root) / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".verified-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(records, out, indent=2, sort_keys=True)
    os.replace(temporary, path)


def installed_plugins(root: Path | None = None) -> list[PluginInfo]:
    """Every installed distribution with a ``tidal.components`` entry point, with its state."""
    registry.load()
    records = read_records(root) if root is not None else {}
    found: dict[str, PluginInfo] = {}
    for dist in distributions():
        points = [entry.name for entry in dist.entry_points if entry.group == ENTRY_POINT_GROUP]
        name = dist.metadata["Name"] if dist.metadata else None
        if not points or not name or canonical_name(name) in found:
            continue
        info = PluginInfo(name, str(dist.version), sorted(points), components_of(name), _load_errors(name))
        record = records.get(canonical_name(name))
        if isinstance(record, dict):
            info.verified_version, info.verified_at = record.get("version"), record.get("verified_at")
            if info.verified_version != info.version:
                info.conformance = "stale"
            else:
                info.conformance = "passed" if record.get("passed") is True else "failed"
        found[canonical_name(name)] = info
    return sorted(found.values(), key=lambda item: canonical_name(item.distribution))


def verify_plugin(distribution_name: str, root: Path) -> Verification:
    """Run every conformance check on ``distribution_name``'s components; record the result under ``root``."""
    from tidal.conformance import run_checks

    version = installed_plugin_version(distribution_name)
    registry.load()
    results = {spec_id: run_checks(registry.get(spec_id)) for spec_id in components_of(distribution_name)}
    errors = _load_errors(distribution_name)
    if not results and not errors:
        errors = {"(none)": "the plug-in registered no components; check its 'tidal.components' entry point"}
    verification = Verification(distribution_name, version, results, errors, datetime.now(UTC).isoformat(timespec="seconds"))
    records = read_records(root)
    records[canonical_name(distribution_name)] = verification.to_dict()
    _write_records(root, records)
    return verification
