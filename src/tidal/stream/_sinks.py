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


class KafkaSink:
    """Rows as JSON messages on a Kafka topic, keyed ``JOB:EPOCH:INDEX``, delivered before the checkpoint.

    Kafka cannot rewrite a message, so a replayed epoch (after a kill between the sink and the
    checkpoint) produces its messages again: with the same keys and the same values, since the
    epoch has the same rows and state. A topic with ``cleanup.policy=compact``, or a consumer that
    keeps the last message per key, sees each output exactly once; a plain consumer may see the
    messages of the one replayed epoch twice. (A transactional producer committed with the
    checkpoint would avoid that; librdkafka's mock cluster, which the tests use, does not filter
    aborted transactions, so it is not built on it.)
    """

    def __init__(self, *, bootstrap: str, topic: str, job: str, settings: dict[str, Any] | None = None) -> None:
        try:
            from confluent_kafka import Producer
        except ImportError:
            from tidal.core._errors import DataError

            raise DataError("the Kafka sink needs confluent-kafka: pip install 'tidal-ml[kafka]'") from None
        self.topic, self.job = topic, job
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                                  **(settings or {})})
        self.failures: list[str] = []

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None:
            self.failures.append(str(error))

    def write(self, epoch: int, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        lines = frame.to_json(orient="records", lines=True, double_precision=15, date_format="iso").splitlines()
        for index, line in enumerate(lines):
            self.producer.produce(self.topic, line.encode("utf-8"), key=f"{self.job}:{epoch}:{index}".encode(),
                                  on_delivery=self._delivered)
            if index % 10_000 == 0:
                self.producer.poll(0)
        remaining = self.producer.flush(60)
        if remaining or self.failures:
            from tidal.core._errors import DataError

            raise DataError(f"Kafka sink {self.topic!r}: {remaining} message(s) not delivered"
                            f"{' (' + self.failures[0] + ')' if self.failures else ''}; the epoch is not committed and will be replayed")
        return len(lines)
