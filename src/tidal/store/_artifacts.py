"""The artifact store: content-addressed files behind an fsspec URI (a folder, or S3-compatible storage).

Metadata records hold references relative to the store's root (``objects/ab/ab12....parquet``,
``logs/RUN/NODE.1.log``), never absolute paths, so a workspace that is copied, moved, renamed or
mounted elsewhere keeps working. References written by older versions (absolute URIs under some
earlier root) are still read: the part from the store's own top-level folder on is the key.

Writes are atomic: a file is staged under a temporary name and renamed into place (or uploaded
in one PUT on object storage), so a half-written artifact is never visible under its final key.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from tidal.core._errors import NotFound, TidalError

CHUNK = 1 << 20
#: the store's top-level folders: content-addressed objects and node logs
KEY_FOLDERS = ("objects", "logs")


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Files addressed by ``objects/<hash>`` keys under one root URI."""

    def __init__(self, uri: str, storage_options: dict[str, Any] | None = None, cache_dir: str | Path | None = None) -> None:
        self.uri = uri.rstrip("/")
        try:
            self.fs, root = fsspec.core.url_to_fs(self.uri, **(storage_options or {}))
        except (ImportError, ValueError) as error:
            raise TidalError(f"cannot open artifact store {uri}: {error}") from None
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        default_cache = Path(tempfile.gettempdir()) / "tidal-artifact-cache"
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache

    # -- keys and references -----------------------------------------------------------------------
    def uri_for(self, key: str) -> str:
        """The reference recorded in metadata for ``key``: relative to the store's root."""
        return key

    def full_uri(self, reference: str) -> str:
        """The absolute URI of a reference, for people and for tools outside Tidal."""
        return f"{self.uri}/{self.key_for(reference)}"

    def key_for(self, reference: str) -> str:
        """The store key of a reference: a relative key, an absolute URI under this store, or a legacy absolute one."""
        if "://" not in reference and not reference.startswith("/"):
            key = reference
        elif reference.startswith(self.uri + "/"):
            key = reference[len(self.uri) + 1 :]
        else:
            # written by an older version under another root (a moved workspace): keep the key part
            starts = [reference.rfind(f"/{folder}/") for folder in KEY_FOLDERS]
            start = max(starts)
            if start < 0:
                raise TidalError(f"artifact {reference} is not in the store {self.uri}")
            key = reference[start + 1 :]
        parts = key.split("/")
        if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key:
            raise TidalError(f"artifact reference {reference!r} is not a key inside the store {self.uri}")
        return key

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    # -- writing ---------------------------------------------------------------------------------
    def staging_dir(self) -> Path:
        """A local folder to write new files in; on a local store it is on the same disk, so renames are atomic."""
        if self.local:
            folder = Path(self.root) / ".staging"
        else:
            folder = Path(tempfile.gettempdir()) / "tidal-staging"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def put_file(self, staged: str | Path, key: str) -> str:
        """Move a staged local file to ``key`` atomically; returns its URI."""
        staged = Path(staged)
        if self.local:
            target = Path(self._path(key))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        else:
            self.fs.put_file(str(staged), self._path(key))
            staged.unlink(missing_ok=True)
        return self.uri_for(key)

    def put_content_addressed(self, staged: str | Path, suffix: str) -> tuple[str, str, int]:
        """Store a staged file under its content hash; returns (uri, sha256, size)."""
        digest = file_digest(staged)
        size = os.path.getsize(staged)
        key = f"objects/{digest[:2]}/{digest}{suffix}"
        if self.exists(self.uri_for(key)):
            Path(staged).unlink(missing_ok=True)
            return self.uri_for(key), digest, size
        return self.put_file(staged, key), digest, size

    def put_bytes(self, data: bytes, key: str) -> str:
        staged = self.staging_dir() / f"{uuid.uuid4().hex}.tmp"
        staged.write_bytes(data)
        return self.put_file(staged, key)

    # -- reading ---------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self._path(self.key_for(uri))))

    def intact(self, uri: str, size_bytes: int | None = None) -> bool:
        """True when the artifact is there, readable, and (given ``size_bytes``) of the size recorded for it."""
        try:
            size = self.fs.size(self._path(self.key_for(uri)))
        except (OSError, TidalError):
            return False
        return size_bytes is None or size_bytes < 0 or int(size) == int(size_bytes)

    def size(self, uri: str) -> int:
        """The artifact's size in bytes; :class:`NotFound` when it is missing from the store."""
        try:
            return int(self.fs.size(self._path(self.key_for(uri))))
        except (OSError, TidalError):
            raise NotFound(f"artifact {uri} is missing from the store") from None

    def local_path(self, uri: str) -> Path:
        """A local path holding the artifact (downloaded once into a cache for remote stores)."""
        key = self.key_for(uri)
        if self.local:
            path = Path(self._path(key))
            if not path.exists():
                raise NotFound(f"artifact {uri} is missing from the store")
            return path
        cached = self.cache_dir / key
        if cached.exists():
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{uuid.uuid4().hex}.part")
        try:
            self.fs.get_file(self._path(key), str(partial))
        except FileNotFoundError:
            partial.unlink(missing_ok=True)
            raise NotFound(f"artifact {uri} is missing from the store") from None
        os.replace(partial, cached)
        return cached

    def open(self, uri: str, mode: str = "rb") -> IO[Any]:
        return self.fs.open(self._path(self.key_for(uri)), mode)  # type: ignore[no-any-return]

    def read_bytes(self, uri: str) -> bytes:
        with self.open(uri) as handle:
            return handle.read()  # type: ignore[no-any-return]

    def delete(self, uri: str) -> None:
        self.fs.rm(self._path(self.key_for(uri)))

    def clear_staging(self) -> None:
        if self.local:
            shutil.rmtree(Path(self.root) / ".staging", ignore_errors=True)
