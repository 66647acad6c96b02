"""Atomic, checksummed files for a stream job: its checkpoint and its epoch intent.

A job's state (source positions, operator states, learner state, counters) is one JSON document in
which numpy arrays are stored as ``{"__array__": dtype, "shape": [...], "data": base64}``, so it
round-trips bit for bit and loads without pickle. The file is a header line (format, version,
SHA-256 of the body, body length) and the body. It is written to a temporary file in the same
folder, fsynced, renamed over the old one and the folder fsynced: a reader sees the old file or the
new one, never a torn one. A file whose checksum does not match is refused, naming the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tidal.core._errors import TidalError

FORMAT = "tidal-stream-checkpoint"
VERSION = 1
#: the largest checkpoint file read back (bytes); learner states are bounded by their own limits
MAX_BYTES = int(os.environ.get("TIDAL_STREAM_MAX_CHECKPOINT_BYTES", str(1 << 30)))
_DTYPES = {"float64", "float32", "int64", "int32", "uint64", "bool", "int8", "uint8"}


class CheckpointError(TidalError):
    """A checkpoint or intent file that is damaged, tampered with or of an unknown format."""


def encode(value: Any) -> Any:
    """A JSON-ready copy of ``value``: arrays become tagged base64 blocks, numpy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.name not in _DTYPES:
            raise TypeError(f"cannot checkpoint an array of dtype {array.dtype}")
        return {"__array__": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value: Any, *, where: str) -> Any:
    """The inverse of :func:`encode`; array blocks are checked (dtype, shape, length)."""
    if isinstance(value, dict):
        if "__array__" in value:
            dtype, shape = str(value.get("__array__")), value.get("shape")
            if dtype not in _DTYPES or not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
                raise CheckpointError(f"{where}: an array entry has an unknown dtype {dtype!r} or a bad shape")
            raw = base64.b64decode(str(value.get("data", "")), validate=True)
            count = int(np.prod(shape)) if shape else 1
            if len(raw) != count * np.dtype(dtype).itemsize:
                raise CheckpointError(f"{where}: an array entry holds {len(raw)} bytes, its shape {shape} needs {count * np.dtype(dtype).itemsize}")
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return {key: decode(item, where=where) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item, where=where) for item in value]
    return value


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename (then fsync the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def save(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` (arrays allowed) as a checksummed file, atomically."""
    body = json.dumps(encode(document), separators=(",", ":"), allow_nan=True).encode("utf-8")
    header = json.dumps({"format": FORMAT, "version": VERSION, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)})
    write_atomic(path, header.encode("ascii") + b"\n" + body)


def load(path: Path) -> dict[str, Any] | None:
    """The document in ``path``; ``None`` when there is no file. Damaged or tampered files raise :class:`CheckpointError`."""
    if not path.exists():
        return None
    size = path.stat().st_size
    hint = "restore it from a backup, or delete the job's folder to start the job over from the beginning of its source"
    if size > MAX_BYTES:
        raise CheckpointError(f"checkpoint {path} is {size:,} bytes, over the limit of {MAX_BYTES:,} (TIDAL_STREAM_MAX_CHECKPOINT_BYTES)")
    raw = path.read_bytes()
    header_line, _, body = raw.partition(b"\n")
    try:
        header = json.loads(header_line)
    except ValueError:
        raise CheckpointError(f"checkpoint {path} has no valid header line: it is not a Tidal stream checkpoint; {hint}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} is not a {FORMAT} version {VERSION} file; {hint}")
    if header.get("bytes") != len(body) or header.get("sha256") != hashlib.sha256(body).hexdigest():
        raise CheckpointError(f"checkpoint {path} does not match its checksum: it was damaged or edited; {hint}")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise CheckpointError(f"checkpoint {path}: its body is not valid JSON ({error}); {hint}") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"checkpoint {path}: its body must be a JSON object; {hint}")
    decoded = decode(document, where=f"checkpoint {path}")
    assert isinstance(decoded, dict)
    return decoded
