"""Cache keys: component id and version, canonical parameters, and the content of every input."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tidal.core._component import ComponentSpec
from tidal.store._artifacts import file_digest


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class FileFingerprints:
    """Content hashes of files read by components, memoised on (path, size, mtime)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return "missing"
        if path.is_dir():
            return f"dir:{stat.st_mtime_ns}"
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._seen:
            self._seen[key] = file_digest(path)
        return self._seen[key]


def cache_key(
    spec: ComponentSpec,
    params: dict[str, Any],
    input_hashes: dict[str, str],
    workdir: Path,
    fingerprints: FileFingerprints,
) -> str:
    files = {}
    for param in spec.params:
        value = params.get(param.name)
        if param.meta.file == "input" and isinstance(value, str) and "://" not in value:
            files[param.name] = fingerprints(workdir / os.path.expanduser(value))
    document = {
        "component": spec.id,
        "version": spec.version,
        "params": params,
        "inputs": input_hashes,
        "files": files,
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()
