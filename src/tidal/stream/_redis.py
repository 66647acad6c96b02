"""Redis Streams as a stream job's source and sink, exactly once with the job's checkpoint.

Source: the position is the id of the last entry read (``"1700000000000-0"``; ``"0-0"`` before the
first) and the count of entries read. ``read(max_rows)`` is ``XRANGE stream (LAST + COUNT n``;
``read(until=...)`` replays an epoch with ``XRANGE stream (LAST END``, the very range its intent
recorded, and refuses (naming the ids) when entries of it were trimmed away meanwhile. An entry
holds one JSON object in a field (``field``, default ``data``) or, with ``format: fields``, its
fields are the row (numbers read as numbers). A malformed entry goes to the dead letters with its
entry id as the offset.

Sink: epoch ``n`` adds its rows (one JSON object each in ``field``) in one ``MULTI``/``EXEC``
transaction that also sets a marker key (``tidal:stream-sink:JOB:STREAM``) to ``n``, under
``WATCH`` of that key. The rows of an epoch and its marker land together or not at all; a replayed
epoch finds the marker at ``n`` and adds nothing. The marker can never be past the job's epoch
(the checkpoint commits epoch ``n`` only after its sink wrote it), so a marker ahead of the job means
the job's folder was deleted and it started over: the sink refuses rather than skip those epochs.

Redis unreachable: each command is retried with backoff for ``retry_seconds``; then the job stops
with an error that says so. Nothing committed is lost: the checkpoint still holds the last finished
epoch, and ``tidal stream run`` resumes from it once Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pandas as pd

from tidal.core._errors import DataError
from tidal.stream._sources import MAX_MESSAGE_BYTES, SourceBatch, _dead, _number, parse_json_object

T = TypeVar("T")
START = "0-0"


def _client(url: str, what: str) -> Any:
    try:
        import redis
    except ImportError:
        raise DataError(f"the Redis {what} needs the redis package: pip install 'tidal-ml[stream]'") from None
    try:
        return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    except ValueError as error:
        raise DataError(f"Redis {what}: url {url!r} is not a Redis URL ({error}); use redis://HOST:PORT/DB") from None


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def _retrying(call: Callable[[], T], *, url: str, what: str, retry_seconds: float) -> T:
    """``call()``, retried with backoff while Redis cannot be reached, at most ``retry_seconds``."""
    import redis

    deadline = time.monotonic() + retry_seconds
    pause = 0.05
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if time.monotonic() + pause > deadline:
                raise DataError(f"Redis {what} at {_safe_url(url)} cannot be reached ({error}); tried for {retry_seconds:g} s. "
                                "The job stopped; its checkpoint keeps the last finished epoch: run it again once Redis is back "
                                "and it resumes there") from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        except redis.ResponseError as error:
            raise DataError(f"Redis {what} at {_safe_url(url)}: the server refused a command ({error})") from None


def _compare(a: str, b: str) -> int:
    """-1, 0 or 1 as entry id ``a`` is before, equal to or after ``b``."""
    left, right = tuple(int(part) for part in a.split("-")), tuple(int(part) for part in b.split("-"))
    return (left > right) - (left < right)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class RedisSource:
    """Reads the entries of one Redis stream with explicit ids (no consumer group)."""

    kind = "redis"

    def __init__(self, *, url: str, stream: str, field: str = "data", format: str = "json",
                 retry_seconds: float = 30.0, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        if format not in ("json", "fields"):
            raise DataError(f"Redis source: format must be json (one JSON object in field {field!r}) or fields, got {format!r}")
        self.url, self.stream, self.field, self.format = url, stream, field, format
        self.retry_seconds, self.limit = float(retry_seconds), max_message_bytes
        self.client = _client(url, "source")
        self.position: dict[str, Any] = {"id": START, "read": 0}

    def _call(self, call: Callable[[], T]) -> T:
        return _retrying(call, url=self.url, what=f"source (stream {self.stream!r})", retry_seconds=self.retry_seconds)

    def seek(self, position: dict[str, Any]) -> None:
        self.position = {"id": str(position.get("id", START)), "read": int(position.get("read", 0))}

    def lag(self) -> int:
        """Entries added after the last one read (from XINFO STREAM; entries deleted meanwhile still count)."""
        try:
            info = self._call(lambda: self.client.xinfo_stream(self.stream))
        except DataError as error:
            if "no such key" in str(error).lower():
                return 0
            raise
        last = _text(info.get("last-generated-id", START))
        if _compare(last, self.position["id"]) <= 0:
            return 0
        added = info.get("entries-added")
        return max(0, int(added) - self.position["read"]) if added is not None else int(info.get("length", 0))

    def read(self, max_rows: int, until: dict[str, Any] | None = None) -> SourceBatch:
        last = self.position["id"]
        if until is None:
            entries = self._call(lambda: self.client.xrange(self.stream, min=f"({last}", max="+", count=max_rows))
        else:
            end = str(until["id"])
            entries = []
            start = last
            while _compare(start, end) < 0:  # the recorded range, page by page
                page = self._page(start, end)
                if not page:
                    break
                entries += page
                start = _text(page[-1][0])
            got = _text(entries[-1][0]) if entries else last
            if _compare(got, end) != 0 or len(entries) != int(until.get("read", 0)) - self.position["read"]:
                raise DataError(f"Redis stream {self.stream!r}: the checkpointed epoch ran from after {last} to {end} "
                                f"({int(until.get('read', 0)) - self.position['read']} entries) but now holds {len(entries)} "
                                f"up to {got}: entries were trimmed or deleted (XTRIM, MAXLEN, XDEL) before the job finished "
                                "the epoch. Keep entries until the job has read them, or delete the job's folder to start over")
        rows: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            row, reason, raw = self._parse(fields)
            if row is None:
                dead.append(_dead(str(reason), raw, source=f"redis:{self.stream}", offset=entry_id))
            else:
                rows.append(row)
        if entries:
            self.position = {"id": _text(entries[-1][0]), "read": self.position["read"] + len(entries)}
        return SourceBatch(rows, dead, dict(self.position))

    def _page(self, after: str, end: str) -> list[Any]:
        return self._call(lambda: self.client.xrange(self.stream, min=f"({after}", max=end, count=10_000))  # type: ignore[no-any-return]

    def _parse(self, fields: dict[Any, Any]) -> tuple[dict[str, Any] | None, str | None, bytes | str]:
        if self.format == "fields":
            size = sum(len(k) + len(v) for k, v in fields.items())
            text = orjson.dumps({_text(k): _text(v) for k, v in fields.items()})
            if size > self.limit:
                return None, f"entry of {size:,} bytes is over the limit of {self.limit:,}", text[:1000]
            return {_text(k): _number(_text(v)) for k, v in fields.items()}, None, text
        value = fields.get(self.field.encode()) if self.field.encode() in fields else fields.get(self.field)
        if value is None:
            names = ", ".join(_text(k) for k in list(fields)[:10])
            return None, f"no field {self.field!r} in the entry (fields: {names or 'none'})", orjson.dumps({_text(k): _text(v) for k, v in fields.items()})
        row, reason = parse_json_object(value, self.limit)
        return row, reason, value[:1000]

    def close(self) -> None:
        self.client.close()


class RedisSink:
    """Rows as stream entries (one JSON object in ``field``), an epoch at a time, in a transaction with its marker."""

    def __init__(self, *, url: str, stream: str, job: str, field: str = "data", maxlen: int | None = None,
                 retry_seconds: float = 30.0) -> None:
        self.url, self.stream, self.field, self.maxlen = url, stream, field, maxlen
        self.retry_seconds = float(retry_seconds)
        self.marker = f"tidal:stream-sink:{job}:{stream}"
        self.client = _client(url, "sink")

    def written(self) -> int | None:
        """The last epoch this job's sink wrote to the stream (its marker), or ``None``."""
        value = self._call(lambda: self.client.get(self.marker))
        return None if value is None else int(value)

    def _call(self, call: Callable[[], T]) -> T:
        return _retrying(call, url=self.url, what=f"sink (stream {self.stream!r})", retry_seconds=self.retry_seconds)

    def write(self, epoch: int, frame: pd.DataFrame) -> int:
        import redis

        lines = frame.to_json(orient="records", lines=True, double_precision=15, date_format="iso").splitlines() if len(frame) else []

        def transaction() -> int:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.watch(self.marker)
                done = pipe.get(self.marker)
                if done is not None and int(done) >= epoch:
                    if int(done) > epoch:
                        raise DataError(f"Redis sink {self.stream!r}: its marker {self.marker!r} says epoch {int(done)} was "
                                        f"written, but the job is at epoch {epoch}: the job's folder was deleted and it started "
                                        f"over. Delete the marker key (and the stream's old entries if unwanted) to write again")
                    return 0  # a replayed epoch: its entries are there already
                pipe.multi()
                for line in lines:
                    if self.maxlen:
                        pipe.xadd(self.stream, {self.field: line}, maxlen=self.maxlen, approximate=True)
                    else:
                        pipe.xadd(self.stream, {self.field: line})
                pipe.set(self.marker, epoch)
                pipe.execute()
                return len(lines)

        try:
            return self._call(transaction)
        except redis.WatchError:
            raise DataError(f"Redis sink {self.stream!r}: another writer changed the marker {self.marker!r} during epoch {epoch}; "
                            "is the same job running twice? The epoch is not committed and will be replayed") from None

    def close(self) -> None:
        self.client.close()
