"""Sinks of a stream job: part files named by epoch, so a replayed epoch rewrites, never duplicates.

Epoch ``n`` of a job writes ``part-<n>.jsonl`` (or ``.parquet``) in each sink folder, atomically
(temporary file, fsync, rename), before the job checkpoints epoch ``n + 1``. A job killed between
the two replays epoch ``n`` from the same source range and state (see ``_runner``), so it writes
the same part again over the old one: the union of the parts is exactly the output of a run that
was never interrupted. An epoch with no output removes a stale part of that epoch, if any.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from tidal.stream._checkpoint import write_atomic


class FilesSink:
    def __init__(self, folder: Path, format: str = "jsonl") -> None:
        self.folder, self.format = folder, format

    def part(self, epoch: int) -> Path:
        return self.folder / f"part-{epoch:010d}.{self.format}"

    def write(self, epoch: int, frame: pd.DataFrame) -> int:
        path = self.part(epoch)
        if frame.empty:
            path.unlink(missing_ok=True)
            return 0
        buffer = io.BytesIO()
        if self.format == "parquet":
            frame.reset_index(drop=True).to_parquet(buffer, index=False)
        else:
            frame.to_json(buffer, orient="records", lines=True, double_precision=15, date_format="iso")
        write_atomic(path, buffer.getvalue())
        return len(frame)

    def read_all(self) -> pd.DataFrame:
        """Every part, in epoch order (for tests and `tidal stream status`)."""
        parts = sorted(self.folder.glob(f"part-*.{self.format}"))
        if not parts:
            return pd.DataFrame()
        if self.format == "parquet":
            return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        return pd.concat([pd.read_json(p, lines=True) for p in parts], ignore_index=True)


class DeadLetterSink:
    """Rows that could not be used, one JSON object each: the reason, where it came from, the message."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, epoch: int, records: list[dict[str, Any]]) -> int:
        path = self.folder / f"part-{epoch:010d}.jsonl"
        if not records:
            path.unlink(missing_ok=True)
            return 0
        text = "".join(json.dumps(record, default=str, sort_keys=True) + "\n" for record in records)
        write_atomic(path, text.encode("utf-8"))
        return len(records)
