"""Image and audio inputs given as a table column (file paths or encoded bytes) or as one file.

A cell holds a path (``str``, relative paths start at the current folder, which is the workspace
root inside a run) or the encoded file itself (``bytes``: PNG, JPEG, WAV, FLAC ...). Each input is
named in errors the way a person finds it again: ``row 3 (scans/page-3.png)`` or ``row 3 (bytes)``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from tidal.core._errors import DataError


@dataclass(frozen=True)
class MediaInput:
    """One image or audio input: where it came from and how to open it."""

    row: int
    path: str | None
    content: bytes | None

    @property
    def label(self) -> str:
        """How errors name this input: the file, or the row for bytes."""
        if self.path is not None:
            return f"file {self.path}" if self.row < 0 else f"row {self.row} (file {self.path})"
        return f"row {self.row} (bytes)"

    def open(self) -> IO[bytes]:
        """A binary stream over the input; a missing or unreadable file is refused by name."""
        if self.content is not None:
            return io.BytesIO(self.content)
        assert self.path is not None
        file = Path(os.path.expanduser(self.path))
        if not file.is_file():
            where = "does not exist" if not file.exists() else "is not a file"
            raise DataError(f"{self.label} {where} (looked in {file.resolve().parent})")
        try:
            return file.open("rb")
        except OSError as error:
            raise DataError(f"{self.label} cannot be opened: {error.strerror or error}") from None


def media_inputs(data: Any, path: str | None, column: str, kind: str) -> list[MediaInput]:
    """The inputs of one call: the cells of ``data[column]``, or the single file ``path``.

    ``kind`` ("image", "audio") is for the messages. Exactly one of ``data`` and ``path`` is given.
    """
    if data is None and path is None:
        raise DataError(f"connect a table with a column of {kind} paths or bytes to 'data', or give parameter 'path'")
    if data is not None and path is not None:
        raise DataError("give either a table on 'data' or parameter 'path', not both")
    if path is not None:
        return [MediaInput(-1, str(path), None)]
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if column not in data.columns:
        columns = ", ".join(map(str, list(data.columns)[:20]))
        raise DataError(f"input 'data' has no column '{column}' (columns: {columns}); set parameter 'column'")
    inputs = []
    for row, value in enumerate(data[column].tolist()):
        if isinstance(value, str) and value.strip():
            inputs.append(MediaInput(row, value, None))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            inputs.append(MediaInput(row, None, bytes(value)))
        else:
            shown = "a missing value" if value is None or (isinstance(value, float) and pd.isna(value)) else \
                f"a value of type {type(value).__name__}"
            article = "an" if kind[:1] in "aeiou" else "a"
            raise DataError(f"input 'data', column '{column}', row {row}: expected {article} {kind} file path or {kind} "
                            f"bytes, got {shown}")
    return inputs
