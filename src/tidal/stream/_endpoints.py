"""A job's source and sinks, built from its file: kafka, file, redis, http and union sources; files, kafka, redis sinks.

A ``union`` source reads several sub-sources into one stream and tags each row with the name of
the one it came from (the column ``tag``, default ``stream``), which ``stream.join_stream`` joins
on. Its position is the sub-sources' positions by name, so an epoch replays exactly as each of
them would on its own.
"""

from __future__ import annotations

from typing import Any

from tidal.stream._job_spec import JobSpec, inside
from tidal.stream._sources import FileSource, KafkaSource, SourceBatch


class UnionSource:
    """Several named sources read together; each row gets its source's name in the ``tag`` column."""

    kind = "union"

    def __init__(self, sources: dict[str, Any], *, tag: str = "stream") -> None:
        self.sources, self.tag = sources, tag

    def seek(self, position: dict[str, Any]) -> None:
        for name, source in self.sources.items():
            if name in position:
                source.seek(position[name])

    def lag(self) -> int:
        return sum(int(source.lag() or 0) for source in self.sources.values())

    def read(self, max_rows: int, until: dict[str, Any] | None = None) -> SourceBatch:
        share = max(1, max_rows // len(self.sources))
        rows: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        end: dict[str, Any] = {}
        for name, source in self.sources.items():
            batch = source.read(share, until.get(name) if until is not None else None)
            for row in batch.rows:
                row[self.tag] = name
            rows += batch.rows
            dead += [{**record, self.tag: name} for record in batch.dead]
            end[name] = batch.end
        return SourceBatch(rows, dead, end)

    def close(self) -> None:
        for source in self.sources.values():
            source.close()


def open_source(source: dict[str, Any], spec: JobSpec, *, where: str = "source") -> Any:
    kind = source["kind"]
    if kind == "kafka":
        return KafkaSource(bootstrap=source["bootstrap"], topic=source["topic"], poll_seconds=spec.poll_seconds)
    if kind == "redis":
        from tidal.stream._redis import RedisSource

        return RedisSource(url=source["url"], stream=source["stream"], field=source.get("field", "data"),
                           format=source.get("format", "json"), retry_seconds=float(source.get("retry_seconds", 30)))
    if kind == "http":
        from tidal.stream._http_source import MAX_BODY_BYTES, HttpSource

        return HttpSource(folder=spec.folder, host=source.get("host", "127.0.0.1"), port=int(source.get("port", 0)),
                          token_env=source["token_env"], max_body_bytes=int(source.get("max_body_bytes", MAX_BODY_BYTES)))
    if kind == "union":
        opened: dict[str, Any] = {}
        try:
            for name, sub in source["sources"].items():
                opened[name] = open_source(sub, spec, where=f"{where}.sources.{name}")
        except BaseException:
            for done in opened.values():
                done.close()
            raise
        return UnionSource(opened, tag=source.get("tag", "stream"))
    return FileSource(path=inside(spec.workspace, source["path"], f"{where}.path"), format=source.get("format", "jsonl"))


def open_sink(sink: dict[str, Any], spec: JobSpec) -> Any:
    from tidal.stream._sinks import FilesSink, KafkaSink

    if sink.get("kind") == "kafka":
        return KafkaSink(bootstrap=sink["bootstrap"], topic=sink["topic"], job=spec.name)
    if sink.get("kind") == "redis":
        from tidal.stream._redis import RedisSink

        return RedisSink(url=sink["url"], stream=sink["stream"], job=spec.name, field=sink.get("field", "data"),
                         maxlen=sink.get("maxlen"), retry_seconds=float(sink.get("retry_seconds", 30)))
    return FilesSink(inside(spec.workspace, sink["path"], "sink"), sink.get("format", "jsonl"))
