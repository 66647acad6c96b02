"""The stream job file (``tidal-stream: 1``): a source, a chain of ``stream.*`` steps, sinks.

::

    tidal-stream: 1
    name: clicks
    source: {kind: kafka, bootstrap: 127.0.0.1:9092, topic: clicks}     # or {kind: file, path: data/events.jsonl, format: jsonl}
    # or {kind: redis, url: redis://127.0.0.1:6379/0, stream: clicks}, {kind: http, port: 8700, token_env: CLICKS_TOKEN},
    # or {kind: union, sources: {clicks: {...}, views: {...}}} (rows tagged with a 'stream' column, for stream.join_stream)
    batch: {max_rows: 5000, poll_seconds: 0.2}
    steps:
      - {id: learn, component: stream.learn_ftrl, params: {label: clicked, features: [x1, x2], snapshot_every: 10000}}
      - {id: minute, component: stream.window_tumbling, params: {time: ts, size: 60, aggregations: {n: count(*), p: mean(probability)}}}
    sinks:
      - {kind: files, path: out/minutes, format: jsonl}                # the last step's output
      - {kind: files, path: out/scored, format: parquet, after: learn}  # or a named step's
      - {kind: kafka, bootstrap: 127.0.0.1:9092, topic: minutes}        # keyed JOB:EPOCH:INDEX
      - {kind: redis, url: redis://127.0.0.1:6379/0, stream: minutes}  # an epoch per transaction, with its marker
    dead_letter: {path: out/dead}
    model: {name: clicks-ftrl}            # accepted snapshots become versions of this registered model

It is not a pipeline (``tidal: 1``): a pipeline is a DAG run once, node by node, with cached
outputs; a stream job is a long-running chain whose steps keep state between micro-batches and
checkpoint it with the source position. Every path (file source, sinks, join tables) is relative
to the workspace and must stay inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError
from tidal.core._yaml import load_yaml_file

FORMAT_VERSION = 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP = {"tidal-stream", "name", "description", "source", "batch", "steps", "sinks", "dead_letter", "model"}


class JobError(TidalError):
    """A stream job file that cannot run as written."""


@dataclass
class Step:
    id: str
    component: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobSpec:
    name: str
    source: dict[str, Any]
    steps: list[Step]
    sinks: list[dict[str, Any]]
    workspace: Path
    max_rows: int = 5000
    poll_seconds: float = 0.2
    dead_letter: Path | None = None
    model_name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.workspace / ".tidal" / "streams" / self.name


def inside(workspace: Path, value: Any, where: str) -> Path:
    """``value`` resolved against the workspace; refused when it leaves it (.., absolute paths, links)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise JobError(f"{where}: a path relative to the workspace is needed, got {value!r}")
    root = workspace.resolve()
    path = (root / value).resolve()
    if path != root and root not in path.parents:
        raise JobError(f"{where}: {value!r} is outside the workspace {root}; stream jobs read and write only inside "
                       "their workspace: give a path relative to it")
    return path


def parse(data: Any, workspace: Path, *, source_name: str = "the job file") -> JobSpec:
    where = source_name
    if not isinstance(data, dict):
        raise JobError(f"{where}: a stream job file must be a mapping with 'tidal-stream: 1', 'name', 'source', 'steps' and 'sinks'")
    if data.get("tidal-stream") != FORMAT_VERSION:
        raise JobError(f"{where}: unsupported or missing format version {data.get('tidal-stream')!r}; this Tidal reads 'tidal-stream: 1'")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise JobError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP))}")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise JobError(f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-' (it names the job's folder), got {name!r}")
    source = data.get("source")
    _check_source(source, workspace, where, "source", union_allowed=True)
    assert isinstance(source, dict)
    steps = []
    for index, raw in enumerate(data.get("steps") or []):
        if not isinstance(raw, dict) or not isinstance(raw.get("component"), str) or not str(raw["component"]).startswith("stream."):
            raise JobError(f"{where}: steps[{index}] must be a mapping with 'component: stream.<name>' (and 'id', 'params')")
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise JobError(f"{where}: steps[{index}].params must be a mapping")
        steps.append(Step(str(raw.get("id") or f"step{index}"), raw["component"], dict(params)))
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids):
        raise JobError(f"{where}: step ids must be unique; repeated: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    sinks = data.get("sinks") or []
    if not isinstance(sinks, list):
        raise JobError(f"{where}: 'sinks' must be a list")
    for index, sink in enumerate(sinks):
        if isinstance(sink, dict) and sink.get("kind") == "kafka":
            if not (isinstance(sink.get("bootstrap"), str) and isinstance(sink.get("topic"), str)):
                raise JobError(f"{where}: sinks[{index}]: a kafka sink needs 'bootstrap' (host:port) and 'topic'")
        elif isinstance(sink, dict) and sink.get("kind") == "redis":
            _check_redis(sink, f"{where}: sinks[{index}]")
            if sink.get("maxlen") is not None and not (isinstance(sink["maxlen"], int) and sink["maxlen"] >= 1):
                raise JobError(f"{where}: sinks[{index}].maxlen must be a whole number >= 1 (entries the stream keeps, about)")
        elif not isinstance(sink, dict) or sink.get("kind") != "files":
            raise JobError(f"{where}: sinks[{index}] must be {{kind: files, path: FOLDER, format: jsonl|parquet}}, "
                           "{kind: kafka, bootstrap: HOST:PORT, topic: NAME} or {kind: redis, url: redis://HOST:PORT/DB, stream: NAME}")
        else:
            inside(workspace, sink.get("path"), f"{where}: sinks[{index}].path")
        if sink.get("after") is not None and sink["after"] not in [step.id for step in steps]:
            raise JobError(f"{where}: sinks[{index}].after names no step ({sink['after']!r}); steps: {', '.join(s.id for s in steps)}")
        if sink.get("format", "jsonl") not in ("jsonl", "parquet"):
            raise JobError(f"{where}: sinks[{index}].format must be jsonl or parquet")
    batch = data.get("batch") or {}
    max_rows = batch.get("max_rows", 5000)
    if not isinstance(max_rows, int) or not 1 <= max_rows <= 10_000_000:
        raise JobError(f"{where}: batch.max_rows must be a whole number from 1 to 10,000,000, got {max_rows!r}")
    dead = data.get("dead_letter") or {}
    model = data.get("model") or {}
    return JobSpec(
        name=name, source=dict(source), steps=steps, sinks=[dict(s) for s in sinks], workspace=workspace.resolve(),
        max_rows=max_rows, poll_seconds=float(batch.get("poll_seconds", 0.2)),
        dead_letter=inside(workspace, dead["path"], f"{where}: dead_letter.path") if dead.get("path") else None,
        model_name=str(model["name"]) if model.get("name") else None, raw=data)


SOURCE_KINDS = ("kafka", "file", "redis", "http", "union")


def _check_redis(config: dict[str, Any], where: str) -> None:
    url, stream = config.get("url"), config.get("stream")
    if not (isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://")) and isinstance(stream, str) and stream):
        raise JobError(f"{where}: a redis {'source' if 'sinks' not in where else 'sink'} needs 'url' (redis://HOST:PORT/DB) and 'stream' (a stream key)")
    if not isinstance(config.get("field", "data"), str):
        raise JobError(f"{where}: 'field' must name the entry field that holds the JSON object")
    retry = config.get("retry_seconds", 30)
    if isinstance(retry, bool) or not isinstance(retry, int | float) or not 0 <= retry <= 86_400:
        raise JobError(f"{where}: 'retry_seconds' (how long to retry while Redis is unreachable) must be 0 to 86400, got {retry!r}")


def _check_source(source: Any, workspace: Path, where: str, name: str, *, union_allowed: bool) -> None:
    kinds = SOURCE_KINDS if union_allowed else ("kafka", "file", "redis")
    if not isinstance(source, dict) or source.get("kind") not in kinds:
        raise JobError(f"{where}: '{name}' must be a mapping with kind {', '.join(kinds)} (see docs/stream.md)")
    kind = source["kind"]
    if kind == "kafka" and not (isinstance(source.get("bootstrap"), str) and isinstance(source.get("topic"), str)):
        raise JobError(f"{where}: a kafka source needs 'bootstrap' (host:port) and 'topic'")
    if kind == "file":
        inside(workspace, source.get("path"), f"{where}: {name}.path")
        if source.get("format", "jsonl") not in ("jsonl", "csv"):
            raise JobError(f"{where}: {name}.format must be jsonl or csv, got {source.get('format')!r}")
    if kind == "redis":
        _check_redis(source, f"{where}: {name}")
        if source.get("format", "json") not in ("json", "fields"):
            raise JobError(f"{where}: {name}.format must be json (a JSON object in 'field') or fields (the entry's fields)")
    if kind == "http":
        token_env, port = source.get("token_env"), source.get("port", 0)
        if not (isinstance(token_env, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env)):
            raise JobError(f"{where}: an http source needs 'token_env': the name of the environment variable holding the bearer token")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise JobError(f"{where}: {name}.port must be 0 to 65535 (0: any free port), got {port!r}")
        if not isinstance(source.get("host", "127.0.0.1"), str):
            raise JobError(f"{where}: {name}.host must be an address to bind (default 127.0.0.1, loopback only)")
        limit = source.get("max_body_bytes", 10 << 20)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1 << 30:
            raise JobError(f"{where}: {name}.max_body_bytes must be 1 to 1073741824, got {limit!r}")
    if kind == "union":
        subs = source.get("sources")
        if not isinstance(subs, dict) or len(subs) < 2 or not all(isinstance(k, str) and NAME.match(k) for k in subs):
            raise JobError(f"{where}: a union source needs 'sources': two or more named sources, e.g. "
                           "{clicks: {kind: kafka, ...}, views: {kind: file, ...}} (names: letters, digits, '.', '_', '-')")
        if not isinstance(source.get("tag", "stream"), str):
            raise JobError(f"{where}: {name}.tag must be the name of the column that says which source a row came from")
        for sub_name, sub in subs.items():
            _check_source(sub, workspace, where, f"{name}.sources.{sub_name}", union_allowed=False)


def read(path: str | Path, workspace: str | Path) -> JobSpec:
    """The job in a ``tidal-stream: 1`` file; its paths resolve against ``workspace``."""
    return parse(load_yaml_file(path), Path(workspace), source_name=str(path))


def read_job(path: str | Path, workspace: str | Path = ".") -> JobSpec:
    """Public name of :func:`read`: the job in ``path``, its paths relative to ``workspace`` (default: here)."""
    return read(path, workspace)


def parse_job(data: Any, workspace: str | Path = ".") -> JobSpec:
    """A job from an already-parsed mapping (the same checks as a file)."""
    return parse(data, Path(workspace))
