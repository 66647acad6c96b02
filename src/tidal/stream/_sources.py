"""Sources of a stream job: a Kafka topic, a growing CSV or JSON Lines file, an in-memory table.

A source reads micro-batches from a *position* (Kafka: the next offset of each partition; a file:
the byte offset after the last whole line; a table: a row index) that the job keeps in its own
checkpoint and seeks back to on restart. ``read(max_rows, until=...)`` with ``until`` reads
exactly up to the given end position: the job replays an epoch it had started before a crash
with the very same rows. Malformed messages are not rows: they come back as dead letters with the
reason and where they were (partition and offset, or byte offset), and the job goes on.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from tidal.core._errors import DataError

#: the largest message or line taken as a row (bytes); larger ones go to the dead letters
MAX_MESSAGE_BYTES = 1 << 20


@dataclass
class SourceBatch:
    rows: list[dict[str, Any]]
    dead: list[dict[str, Any]]
    end: dict[str, int]
    lag: int | None = None
    frame: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.frame = pd.DataFrame.from_records(self.rows) if self.rows else pd.DataFrame()


def _dead(reason: str, raw: bytes | str, **where: Any) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return {"reason": reason, **where, "message": text[:1000]}


def parse_json_object(raw: bytes | str, limit: int = MAX_MESSAGE_BYTES) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object a message holds, or the reason it is not one."""
    if len(raw) > limit:
        return None, f"message of {len(raw):,} bytes is over the limit of {limit:,}"
    try:
        value = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        return None, f"not valid JSON: {error}"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object with one field per column"
    return value, None


class KafkaSource:
    """Reads JSON messages from a Kafka topic with manual offsets (no consumer-group commits)."""

    kind = "kafka"

    def __init__(self, *, bootstrap: str, topic: str, poll_seconds: float = 0.2, max_message_bytes: int = MAX_MESSAGE_BYTES,
                 settings: dict[str, Any] | None = None) -> None:
        try:
            from confluent_kafka import Consumer, TopicPartition
        except ImportError:
            raise DataError("the Kafka source needs confluent-kafka: pip install 'tidal-ml[kafka]'") from None
        self._partition_class = TopicPartition
        self.topic, self.poll_seconds, self.limit = topic, poll_seconds, max_message_bytes
        config = {"bootstrap.servers": bootstrap, "group.id": f"tidal-stream-{topic}", "enable.auto.commit": False,
                  "enable.auto.offset.store": False, "auto.offset.reset": "earliest", **(settings or {})}
        self.consumer = Consumer(config)
        metadata = self.consumer.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise DataError(f"Kafka topic {topic!r} on {bootstrap} is not available ({found.error if found else 'no metadata'})")
        self.partitions = sorted(found.partitions)
        self.position: dict[str, int] = {str(p): 0 for p in self.partitions}
        self._assign()

    def _assign(self) -> None:
        self.consumer.assign([self._partition_class(self.topic, p, self.position[str(p)]) for p in self.partitions])

    def seek(self, position: dict[str, int]) -> None:
        self.position.update({str(k): int(v) for k, v in position.items()})
        self._assign()

    def lag(self) -> int:
        total = 0
        for p in self.partitions:
            _low, high = self.consumer.get_watermark_offsets(self._partition_class(self.topic, p), timeout=5, cached=False)
            total += max(0, high - self.position[str(p)])
        return total

    def read(self, max_rows: int, until: dict[str, int] | None = None) -> SourceBatch:
        partitions: list[int] = []
        offsets: list[int] = []
        values: list[bytes] = []
        position = {int(k): v for k, v in self.position.items()}
        stop = {int(k): int(v) for k, v in until.items()} if until is not None else None
        deadline = time.monotonic() + (60.0 if stop else self.poll_seconds)

        def done() -> bool:
            if stop is not None:
                return all(position[p] >= stop.get(p, 0) for p in self.partitions)
            return len(values) >= max_rows

        while not done() and time.monotonic() < deadline:
            wanted = max_rows - len(values) if stop is None else 10_000
            fetched = [m for m in self.consumer.consume(num_messages=max(1, wanted), timeout=self.poll_seconds) if m.error() is None]
            if not fetched:
                continue
            got_partitions = np.fromiter((m.partition() for m in fetched), dtype=np.int64, count=len(fetched))
            got_offsets = np.fromiter((m.offset() for m in fetched), dtype=np.int64, count=len(fetched))
            low = np.array([position[p] for p in got_partitions.tolist()], dtype=np.int64) if len(position) > 1 \
                else np.full(len(fetched), next(iter(position.values())), dtype=np.int64)
            keep = got_offsets >= low                       # not seen already
            if stop is not None:                            # and not past the epoch being replayed
                keep &= got_offsets < np.array([stop.get(p, 0) for p in got_partitions.tolist()], dtype=np.int64)
            if not keep.all():
                fetched = [m for m, k in zip(fetched, keep.tolist(), strict=True) if k]
                got_partitions, got_offsets = got_partitions[keep], got_offsets[keep]
            partitions += got_partitions.tolist()
            offsets += got_offsets.tolist()
            values += [m.value() or b"" for m in fetched]
            for partition in np.unique(got_partitions).tolist():
                position[partition] = max(position[partition], int(got_offsets[got_partitions == partition].max()) + 1)
        if stop is not None and not done():
            raise DataError(f"Kafka topic {self.topic!r}: could not read back to the checkpointed epoch's end {until} "
                            f"(reached {position}); was the topic truncated or its retention passed?")
        self.position = {str(p): v for p, v in position.items()}
        if stop is not None:
            self.seek(self.position)  # messages fetched past the epoch's end are read again next time
        order: list[int] = np.lexsort((np.asarray(offsets, dtype=np.int64), np.asarray(partitions, dtype=np.int64))).tolist() \
            if values else []
        ordered = [values[index] for index in order]
        if ordered and max(map(len, ordered)) <= self.limit:  # the common case: every message a JSON object
            try:
                parsed = [orjson.loads(value) for value in ordered]
            except ValueError:
                parsed = []
            if parsed and all(type(value) is dict for value in parsed):
                return SourceBatch(parsed, [], dict(self.position))
        rows, dead = [], []
        for index in order:
            value, reason = parse_json_object(values[index], self.limit)
            if value is None:
                dead.append(_dead(str(reason), values[index][:1000], source=f"kafka:{self.topic}",
                                  partition=partitions[index], offset=offsets[index]))
            else:
                rows.append(value)
        return SourceBatch(rows, dead, dict(self.position))

    def close(self) -> None:
        self.consumer.close()


class FileSource:
    """Tails a CSV or JSON Lines file that may still be growing; the position is a byte offset."""

    kind = "file"

    def __init__(self, *, path: Path, format: str, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.path, self.format, self.limit = path, format, max_message_bytes
        self.position: dict[str, int] = {"offset": 0}
        self.header: list[str] | None = None

    def seek(self, position: dict[str, int]) -> None:
        self.position = {"offset": int(position.get("offset", 0))}

    def lag(self) -> int:
        return max(0, self.path.stat().st_size - self.position["offset"]) if self.path.exists() else 0

    def _read_header(self, file: io.BufferedReader) -> int:
        line = file.readline()
        if not line.endswith(b"\n"):
            return 0
        self.header = next(csv.reader([line.decode("utf-8", "replace")]))
        return len(line)

    def read(self, max_rows: int, until: dict[str, int] | None = None) -> SourceBatch:
        rows: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        offset = self.position["offset"]
        stop = until["offset"] if until else None
        if not self.path.exists():
            return SourceBatch(rows, dead, dict(self.position))
        with open(self.path, "rb") as file:
            if self.format == "csv" and self.header is None:
                file.seek(0)
                start = self._read_header(file)
                offset = max(offset, start)
            file.seek(offset)
            while (stop is None and len(rows) + len(dead) < max_rows) or (stop is not None and offset < stop):
                line = file.readline(self.limit + 2)
                if not line.endswith(b"\n"):
                    if len(line) > self.limit:  # an over-long line: skip to its end
                        rest = file.readline()
                        while rest and not rest.endswith(b"\n"):
                            rest = file.readline()
                        if not rest.endswith(b"\n"):
                            break
                        dead.append(_dead(f"line over the limit of {self.limit:,} bytes", line[:200], source=f"file:{self.path.name}", offset=offset))
                        offset += len(line) + len(rest)
                        continue
                    break  # a partial last line: wait for the writer to finish it
                row, reason = self._parse(line)
                if row is None:
                    dead.append(_dead(str(reason), line.rstrip(b"\n"), source=f"file:{self.path.name}", offset=offset))
                elif row:
                    rows.append(row)
                offset += len(line)
        self.position = {"offset": offset}
        return SourceBatch(rows, dead, dict(self.position))

    def _parse(self, line: bytes) -> tuple[dict[str, Any] | None, str | None]:
        if not line.strip():
            return {}, None
        if self.format == "jsonl":
            return parse_json_object(line, self.limit)
        assert self.header is not None
        values = next(csv.reader([line.decode("utf-8", "replace")]))
        if len(values) != len(self.header):
            return None, f"{len(values)} fields where the header has {len(self.header)}"
        return {name: _number(value) for name, value in zip(self.header, values, strict=True)}, None

    def close(self) -> None:
        pass


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


class TableSource:
    """Replays an in-memory table; the position is the next row."""

    kind = "table"

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table.reset_index(drop=True)
        self.position: dict[str, int] = {"row": 0}

    def seek(self, position: dict[str, int]) -> None:
        self.position = {"row": int(position.get("row", 0))}

    def lag(self) -> int:
        return len(self.table) - self.position["row"]

    def read(self, max_rows: int, until: dict[str, int] | None = None) -> SourceBatch:
        start = self.position["row"]
        stop = until["row"] if until else min(len(self.table), start + max_rows)
        rows = self.table.iloc[start:stop].to_dict("records")
        self.position = {"row": stop}
        return SourceBatch(rows, [], dict(self.position))

    def close(self) -> None:
        pass
