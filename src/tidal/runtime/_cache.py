"""Cache keys: component id, version and code, canonical parameters, and the content of every input.

The component's source text is part of the key, so editing a component's body (a plug-in's,
say) recomputes its nodes without a manual version bump. Files named by parameters are
fingerprinted by content; folders by their listing (relative names, sizes, modification times);
remote inputs (``s3://...``) by the ETag or modification time their storage reports.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidal.store._artifacts import file_digest

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class FileFingerprints:
    """Content hashes of files read by components, memoised on (path, size, mtime)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], str] = {}
        #: every path fingerprinted: path -> [size, mtime_ns] of a file, a folder's fingerprint, or "missing"
        self.used: dict[str, Any] = {}

    def __call__(self, path: Path) -> str:
        try:
            stat = path.stat()
        except FileNotFoundError:
            self.used[str(path)] = "missing"
            return "missing"
        if path.is_dir():
            self.used[str(path)] = found = folder_fingerprint(path)
            return found
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        self.used[str(path)] = [stat.st_size, stat.st_mtime_ns]
        if key not in self._seen:
            self._seen[key] = file_digest(path)
        return self._seen[key]


def folder_fingerprint(folder: Path) -> str:
    listing = hashlib.sha256()
    for parent, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            item = Path(parent) / name
            try:
                stat = item.stat()
            except OSError:
                continue
            listing.update(f"{item.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "dir:" + listing.hexdigest()


def remote_fingerprint(url: str) -> str:
    """What the storage says identifies this version of a remote file: its ETag, else mtime and size."""
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url)
        info = fs.info(path)
    except Exception as error:  # unreachable now: the node runs and reports the real error itself
        return f"unreachable:{type(error).__name__}"
    for key in ("ETag", "etag", "md5", "checksum"):
        if info.get(key):
            return f"{key}:{info[key]}"
    return f"stat:{info.get('LastModified') or info.get('mtime') or info.get('last_modified')}:{info.get('size')}"


_CODE_HASHES: dict[int, str] = {}


def code_fingerprint(spec: ComponentSpec) -> str:
    """A hash of the component's source (of its code object where no source is available)."""
    func = inspect.unwrap(spec.func)
    known = _CODE_HASHES.get(id(func))
    if known is None:
        try:
            text = inspect.getsource(func).encode()
        except (OSError, TypeError):
            code = getattr(func, "__code__", None)
            text = repr((code.co_code, code.co_consts, code.co_names)).encode() if code is not None else spec.id.encode()
        known = hashlib.sha256(text).hexdigest()[:16]
        _CODE_HASHES[id(func)] = known
    return known


def key_document(
    spec: ComponentSpec, params: dict[str, Any], workdir: Path, fingerprints: FileFingerprints, used: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything a node's cache key covers except its inputs' content hashes.

    ``used`` receives each file or folder fingerprinted, as :attr:`FileFingerprints.used` describes it
    (a remote one as ``"remote"``).
    """
    files = {}
    for param in spec.params:
        value = params.get(param.name)
        if param.meta.file == "input" and isinstance(value, str):
            if "://" in value:
                files[param.name] = remote_fingerprint(value)
                if used is not None:  # a remote version cannot be checked by a stat
                    used[value] = "remote"
            else:
                path = workdir / os.path.expanduser(value)
                files[param.name] = fingerprints(path)
                if used is not None:
                    used[str(path)] = fingerprints.used[str(path)]
    return {
        "component": spec.id,
        "version": spec.version,
        "code": code_fingerprint(spec),
        "params": params,
        "files": files,
    }


def key_from(document: dict[str, Any], input_hashes: dict[str, str]) -> str:
    """The cache key of a :func:`key_document` given the content hash of each input (port -> hash)."""
    return hashlib.sha256(canonical_json({**document, "inputs": input_hashes}).encode()).hexdigest()


def cache_key(
    spec: ComponentSpec,
    params: dict[str, Any],
    input_hashes: dict[str, str],
    workdir: Path,
    fingerprints: FileFingerprints,
) -> str:
    return key_from(key_document(spec, params, workdir, fingerprints), input_hashes)
