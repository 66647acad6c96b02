"""Model packages are contained: archives are checked before extraction, manifests before use.

A package comes from someone else. Before any file of it is opened:

- an archive's entries are checked (count, total and per-entry uncompressed size, compression
  ratio, links, absolute names, ``..``, backslashes, duplicates), and the extraction itself
  counts the bytes it writes, so a header that lies about sizes stops there too;
- every path its manifest names resolves inside the package, and no symbolic link in a package
  folder leads out of it;
- the manifest is small, valid JSON, and has the fields a loader needs, each of the right type.

Limits have defaults fit for models up to a few GiB and can be raised by the operator through
:class:`ArchiveLimits` or the environment (``TIDAL_PACKAGE_MAX_BYTES``,
``TIDAL_PACKAGE_MAX_ENTRIES``, ``TIDAL_PACKAGE_MAX_RATIO``).
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tidal.core._errors import TidalError

MANIFEST = "MANIFEST.json"
#: a manifest is metadata: anything larger is not one
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: entries at least this large are checked for their compression ratio
_RATIO_FLOOR_BYTES = 1024 * 1024
_CHUNK = 1024 * 1024


class PackageRefused(TidalError):
    """A model package breaks a containment rule or a limit; nothing of it was used."""


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise TidalError(f"environment variable {name}={text!r} must be a number") from None
    if value <= 0:
        raise TidalError(f"environment variable {name}={text!r} must be positive")
    return value


@dataclass(frozen=True)
class ArchiveLimits:
    """What a package archive may hold; raise them for unusually large or compressible models."""

    max_total_bytes: int = 8 * 1024**3
    max_entry_bytes: int = 8 * 1024**3
    max_entries: int = 10_000
    max_ratio: float = 200.0

    @classmethod
    def from_environment(cls) -> ArchiveLimits:
        default = cls()
        total = int(_env_number("TIDAL_PACKAGE_MAX_BYTES", default.max_total_bytes))
        return cls(
            max_total_bytes=total,
            max_entry_bytes=total,
            max_entries=int(_env_number("TIDAL_PACKAGE_MAX_ENTRIES", default.max_entries)),
            max_ratio=_env_number("TIDAL_PACKAGE_MAX_RATIO", default.max_ratio),
        )


def _check_name(source: Path, name: str) -> PurePosixPath:
    shown = name if len(name) <= 120 else name[:120] + "..."
    if not name or "\x00" in name or "\\" in name:
        raise PackageRefused(f"{source}: archive entry {shown!r} has an empty name, a NUL byte or a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PackageRefused(f"{source}: archive entry {shown!r} has an absolute name; a package holds relative paths only")
    path = PurePosixPath(name)
    if any(part in ("..", "") for part in path.parts) or ".." in name.split("/"):
        raise PackageRefused(f"{source}: archive entry {shown!r} leaves the package ('..')")
    return path


def check_archive(source: Path, archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Every entry of ``archive``, after checking the whole archive against ``limits``."""
    entries = archive.infolist()
    raise_hint = "raise the limit (ArchiveLimits, or the TIDAL_PACKAGE_MAX_* environment variables) only if you trust the package"
    if len(entries) > limits.max_entries:
        raise PackageRefused(f"{source}: the archive has {len(entries)} entries, more than the limit of "
                             f"{limits.max_entries}; {raise_hint}")
    total = 0
    seen: set[str] = set()
    for info in entries:
        path = _check_name(source, info.filename)
        key = str(path).lower()
        if key in seen:
            raise PackageRefused(f"{source}: archive entry {info.filename!r} appears more than once")
        seen.add(key)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PackageRefused(f"{source}: archive entry {info.filename!r} is a symbolic link; packages hold plain files only")
        if info.is_dir():
            continue
        if info.file_size > limits.max_entry_bytes:
            raise PackageRefused(f"{source}: archive entry {info.filename!r} unpacks to {info.file_size} bytes, more than "
                                 f"the limit of {limits.max_entry_bytes}; {raise_hint}")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise PackageRefused(f"{source}: the archive unpacks to more than {limits.max_total_bytes} bytes; {raise_hint}")
        if info.file_size >= _RATIO_FLOOR_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise PackageRefused(f"{source}: archive entry {info.filename!r} is compressed {ratio:.0f}:1 "
                                     f"(limit {limits.max_ratio:g}:1), the mark of a zip bomb; {raise_hint}")
    return entries


def extract_archive(source: Path, target: Path, limits: ArchiveLimits | None = None) -> None:
    """Extract a package archive into ``target`` after :func:`check_archive`, counting every byte written."""
    limits = limits or ArchiveLimits.from_environment()
    try:
        with zipfile.ZipFile(source) as archive:
            entries = check_archive(source, archive, limits)
            written = 0
            for info in entries:
                destination = target.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                entry_written = 0
                with archive.open(info) as reader, open(destination, "xb") as writer:
                    while chunk := reader.read(_CHUNK):
                        entry_written += len(chunk)
                        written += len(chunk)
                        if entry_written > info.file_size or written > limits.max_total_bytes:
                            raise PackageRefused(f"{source}: archive entry {info.filename!r} unpacks to more bytes "
                                                 "than its header declares; the archive is damaged or crafted")
                        writer.write(chunk)
    except zipfile.BadZipFile as error:
        raise TidalError(f"{source} is not a model package (neither a folder nor a readable zip archive: {error})") from None
    except FileExistsError:
        raise PackageRefused(f"{source}: two archive entries name the same file") from None


def contained(folder: Path, relative: Any, *, field: str, shown: Path | None = None) -> Path:
    """The path ``relative`` (from a manifest's ``field``) inside ``folder``; refused if it leads out.

    ``shown`` names the package in messages (the archive, when ``folder`` is where it was extracted).
    """
    where = shown or folder
    if not isinstance(relative, str) or not relative:
        raise PackageRefused(f"{where}: manifest field '{field}' must be a relative path inside the package, got {relative!r}")
    text = relative if len(relative) <= 120 else relative[:120] + "..."
    if "\x00" in relative or "\\" in relative or relative.startswith("/") or (len(relative) > 1 and relative[1] == ":"):
        raise PackageRefused(f"{where}: manifest field '{field}' = {text!r} is not a relative path inside the package")
    parts = PurePosixPath(relative).parts
    if ".." in parts:
        raise PackageRefused(f"{where}: manifest field '{field}' = {text!r} leaves the package ('..')")
    candidate = folder.joinpath(*parts)
    base = folder.resolve()
    resolved = candidate.resolve()
    if resolved != base and base not in resolved.parents:
        raise PackageRefused(f"{where}: manifest field '{field}' = {text!r} leads outside the package (a symbolic link)")
    return candidate


def check_folder_links(folder: Path, shown: Path | None = None) -> None:
    """Refuse a package folder holding any symbolic link (packages Tidal writes hold none)."""
    for parent, folders, files in os.walk(folder):
        for name in [*folders, *files]:
            item = Path(parent) / name
            if item.is_symlink():
                raise PackageRefused(f"{shown or folder}: '{item.relative_to(folder)}' is a symbolic link; "
                                     "a package holds plain files only")


def parse_manifest(text: bytes, where: str | Path) -> dict[str, Any]:
    """The manifest's fields, checked: refuses what is not small, valid JSON of the right shape."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise PackageRefused(f"{where}: {MANIFEST} has {len(text)} bytes, more than {MAX_MANIFEST_BYTES}; it is not a manifest")
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PackageRefused(f"{where}: {MANIFEST} is not valid JSON ({type(error).__name__}: {str(error)[:200]})") from None
    if not isinstance(manifest, dict):
        raise PackageRefused(f"{where}: {MANIFEST} must be a JSON object")
    for key in ("flavor", "payload", "task"):
        if not isinstance(manifest.get(key), str):
            raise PackageRefused(f"{where}: {MANIFEST} needs the text field '{key}'")
    signature = manifest.get("signature") or {}
    inputs = signature.get("inputs", []) if isinstance(signature, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in inputs):
        raise PackageRefused(f"{where}: {MANIFEST} field 'signature.inputs' must be a list of {{\"name\": ..., \"dtype\": ...}}")
    for key in ("params", "metadata", "lineage", "libraries"):
        if not isinstance(manifest.get(key) or {}, dict):
            raise PackageRefused(f"{where}: {MANIFEST} field '{key}' must be an object")
    if not isinstance(manifest.get("classes") or [], list):
        raise PackageRefused(f"{where}: {MANIFEST} field 'classes' must be a list")
    return manifest


def read_manifest(path: Path, shown: Path | None = None) -> dict[str, Any]:
    """A package's checked manifest, from a folder or an archive, without extracting anything."""
    try:
        if path.is_dir():
            where = shown or path
            manifest_path = contained(path, MANIFEST, field=MANIFEST, shown=where)
            if not manifest_path.is_file():
                raise TidalError(f"{where} is not a model package: it has no {MANIFEST}")
            if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
                raise PackageRefused(f"{where}: {MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes; it is not a manifest")
            return parse_manifest(manifest_path.read_bytes(), where)
        with zipfile.ZipFile(path) as archive:
            check_archive(path, archive, ArchiveLimits.from_environment())
            try:
                info = archive.getinfo(MANIFEST)
            except KeyError:
                raise TidalError(f"{path} is not a model package: it has no {MANIFEST}") from None
            if info.file_size > MAX_MANIFEST_BYTES:
                raise PackageRefused(f"{path}: {MANIFEST} unpacks to {info.file_size} bytes; it is not a manifest")
            with archive.open(info) as reader:
                return parse_manifest(reader.read(MAX_MANIFEST_BYTES + 1), path)
    except zipfile.BadZipFile as error:
        raise TidalError(f"{path} is not a model package (neither a folder nor a readable zip archive: {error})") from None
    except FileNotFoundError:
        raise TidalError(f"no model package at {path}") from None
