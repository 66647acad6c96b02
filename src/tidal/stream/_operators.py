"""Stream operators: pure steps from (state, micro-batch) to (state, output), with serializable state.

Every operator has ``process(frame) -> StepOutput`` (the rows it passes on, and rows it set aside
as late, with the reason), ``state()`` (numbers, strings, lists and numpy arrays only) and
``load(state)``. The job runner checkpoints the states of all steps together with the source
position after each micro-batch, so a restarted job continues exactly where the checkpoint was.

Event time: the windows and the deduplication read a numeric ``time`` column (seconds, or any
unit, as long as window sizes use the same one). The watermark is the largest event time seen,
minus ``delay`` (the out-of-orderness tolerated); it moves after each micro-batch. A window
``[start, start + size)`` is emitted, once, when the watermark reaches ``start + size +
lateness``; a row arriving for a window already emitted is late and goes to the dead letters.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.stream import _sql

AGGREGATE = re.compile(r"^\s*(count|sum|mean|min|max)\s*\(\s*([^()]*?)\s*\)\s*$", re.IGNORECASE)
_WIDTH = {"count": 1, "sum": 1, "mean": 2, "min": 1, "max": 1}


@dataclass
class StepOutput:
    frame: pd.DataFrame
    late: pd.DataFrame | None = None
    reason: str = ""


def _columns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _require(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    absent = [name for name in columns if name not in frame.columns]
    if absent:
        raise DataError(f"{where}: column {', '.join(map(repr, absent))} not in the stream (columns: {', '.join(map(str, frame.columns[:20]))})")


class Operator:
    id = ""

    def __init__(self, where: str) -> None:
        self.where = where

    def process(self, frame: pd.DataFrame) -> StepOutput:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def load(self, state: dict[str, Any]) -> None:
        pass


class SqlStep(Operator):
    """select / filter / map: one SELECT over the micro-batch in a sandboxed DuckDB."""

    def __init__(self, where: str, query: str) -> None:
        super().__init__(where)
        _sql.check_select(query, where=where)
        self.query, self.con = query, _sql.connect()

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty and not len(frame.columns):
            return StepOutput(frame)
        return StepOutput(_sql.run(self.con, self.query, frame, where=self.where))


def select(where: str, *, columns: list[str]) -> SqlStep:
    if not columns:
        raise DataError(f"{where}: parameter 'columns' needs at least one column or SQL expression")
    return SqlStep(where, f"SELECT {', '.join(columns)} FROM batch")


def filter_rows(where: str, *, condition: str) -> SqlStep:
    return SqlStep(where, f"SELECT * FROM batch WHERE ({condition})")


def map_columns(where: str, *, columns: dict[str, str]) -> SqlStep:
    if not columns:
        raise DataError(f"{where}: parameter 'columns' needs at least one 'name: SQL expression'")
    parts = ", ".join(f"({expression}) AS {_quote(name)}" for name, expression in columns.items())
    return MapStep(where, parts, list(columns))


class MapStep(SqlStep):
    """New or replaced columns: existing ones keep their place."""

    def __init__(self, where: str, parts: str, names: list[str]) -> None:
        super().__init__(where, f"SELECT *, {parts} FROM batch")
        self.parts, self.names = parts, names

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty and not len(frame.columns):
            return StepOutput(frame)
        replaced = [name for name in self.names if name in frame.columns]
        if replaced:
            kept = f"* EXCLUDE ({', '.join(map(_quote, replaced))})"
            result = _sql.run(self.con, f"SELECT {kept}, {self.parts} FROM batch", frame, where=self.where)
            order = [name for name in frame.columns] + [name for name in self.names if name not in frame.columns]
            return StepOutput(result[order])
        return super().process(frame)


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _aggregations(spec: dict[str, str], where: str) -> list[tuple[str, str, str]]:
    if not spec:
        raise DataError(f"{where}: parameter 'aggregations' needs at least one 'name: fn(column)' (fn: count, sum, mean, min, max)")
    parsed = []
    for name, text in spec.items():
        match = AGGREGATE.match(str(text))
        if not match:
            raise DataError(f"{where}: aggregation {name!r} = {text!r} is not fn(column) with fn one of count, sum, mean, min, max")
        parsed.append((str(name), match.group(1).lower(), match.group(2).strip().strip('"')))
    return parsed


class EventTime(Operator):
    """Shared event-time handling: the time column, the watermark and its delay."""

    def __init__(self, where: str, time: str, delay: float) -> None:
        super().__init__(where)
        if delay < 0:
            raise DataError(f"{where}: parameter 'delay' must be >= 0, got {delay}")
        self.time, self.delay, self.watermark = time, float(delay), -math.inf

    def times(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Event times as floats, and the mask of rows that have none (they are dead letters)."""
        _require(frame, [self.time], self.where)
        column = frame[self.time]
        if pd.api.types.is_datetime64_any_dtype(column):  # datetimes count in seconds since 1970
            stamps = pd.to_datetime(column, utc=True)
            values = ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
            return values, ~np.isfinite(values)
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return values, ~np.isfinite(values)

    def flush(self) -> pd.DataFrame:
        """End of the stream (a bounded table): the watermark goes to infinity, every open window is emitted."""
        self.watermark = math.inf
        return self._emit()

    def _emit(self) -> pd.DataFrame:
        return pd.DataFrame()

    def advance(self, times: np.ndarray) -> None:
        if len(times):
            self.watermark = max(self.watermark, float(times.max()) - self.delay)


class Window(EventTime):
    """Tumbling (``slide`` = ``size``) or sliding windows, per key, with aggregations."""

    def __init__(self, where: str, *, time: str, size: float, slide: float | None = None, key: Any = None,
                 aggregations: dict[str, str], delay: float = 0.0, lateness: float = 0.0) -> None:
        super().__init__(where, time, delay)
        self.size, self.slide = float(size), float(slide if slide is not None else size)
        if self.size <= 0 or self.slide <= 0 or lateness < 0:
            raise DataError(f"{where}: 'size' and 'slide' must be > 0 and 'lateness' >= 0")
        ratio = self.size / self.slide
        if abs(ratio - round(ratio)) > 1e-9:
            raise DataError(f"{where}: 'size' ({size}) must be a whole multiple of 'slide' ({slide})")
        self.copies, self.lateness = int(round(ratio)), float(lateness)
        self.key, self.aggs = _columns(key), _aggregations(aggregations, where)
        self.windows: dict[tuple[str, float], np.ndarray] = {}

    def _empty(self) -> np.ndarray:
        parts = []
        for _name, fn, _column in self.aggs:
            parts += {"count": [0.0], "sum": [0.0], "mean": [0.0, 0.0], "min": [math.inf], "max": [-math.inf]}[fn]
        return np.array(parts)

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty:
            return StepOutput(self._emit(), None)
        times, missing = self.times(frame)
        _require(frame, self.key + [c for _n, fn, c in self.aggs if c not in ("*", "")], self.where)
        rows = np.repeat(np.arange(len(frame)), self.copies)
        starts = np.floor(times[rows] / self.slide) * self.slide - np.tile(np.arange(self.copies) * self.slide, len(frame))
        closed = starts + self.size + self.lateness <= self.watermark
        use = ~closed & ~missing[rows]
        late_rows = np.ones(len(frame), dtype=bool)
        np.logical_and.at(late_rows, rows, closed)
        late = frame[late_rows & ~missing]
        pairs = pd.DataFrame({"__start": starts[use]})
        picked = frame.iloc[rows[use]].reset_index(drop=True)
        for name in self.key:
            pairs[name] = picked[name].to_numpy()
        for index, (_name, fn, column) in enumerate(self.aggs):
            pairs[f"__v{index}"] = 1.0 if fn == "count" and column in ("*", "") else pd.to_numeric(picked[column], errors="coerce").to_numpy(dtype=np.float64)
        self._merge(pairs)
        self.advance(times[~missing])
        dead = frame[missing] if missing.any() else None
        late_all = pd.concat([x for x in (late, dead) if x is not None and len(x)]) if (len(late) or dead is not None) else None
        return StepOutput(self._emit(), late_all, "late: its window was already emitted (or it has no event time)")

    def _merge(self, pairs: pd.DataFrame) -> None:
        if pairs.empty:
            return
        groups = pairs.groupby(["__start", *self.key], sort=True, dropna=False)
        summary: dict[str, Any] = {}
        for index, (_name, fn, _column) in enumerate(self.aggs):
            values = groups[f"__v{index}"]
            if fn == "count":
                summary[f"c{index}"] = values.count()
            elif fn in ("sum", "mean"):
                summary[f"s{index}"] = values.sum()
                summary[f"c{index}"] = values.count()
            else:
                summary[f"m{index}"] = values.min() if fn == "min" else values.max()
        table = pd.DataFrame(summary)
        for group, row in zip(table.index, table.itertuples(index=False), strict=True):
            start, *key = group if isinstance(group, tuple) else (group,)
            ident = (json.dumps([_plain(k) for k in key]), float(start))
            acc = self.windows.get(ident)
            if acc is None:
                acc = self.windows[ident] = self._empty()
            values = row._asdict()
            position = 0
            for index, (_name, fn, _column) in enumerate(self.aggs):
                if fn == "count":
                    acc[position] += values[f"c{index}"]
                elif fn == "sum":
                    acc[position] += values[f"s{index}"]
                elif fn == "mean":
                    acc[position] += values[f"s{index}"]
                    acc[position + 1] += values[f"c{index}"]
                elif fn == "min":
                    acc[position] = min(acc[position], values[f"m{index}"])
                else:
                    acc[position] = max(acc[position], values[f"m{index}"])
                position += _WIDTH[fn]

    def _emit(self) -> pd.DataFrame:
        ready = sorted(ident for ident in self.windows if ident[1] + self.size + self.lateness <= self.watermark)
        records = []
        for ident in ready:
            acc = self.windows.pop(ident)
            record: dict[str, Any] = dict(zip(self.key, json.loads(ident[0]), strict=True))
            record.update(window_start=ident[1], window_end=ident[1] + self.size)
            position = 0
            for name, fn, _column in self.aggs:
                if fn == "mean":
                    record[name] = acc[position] / acc[position + 1] if acc[position + 1] else math.nan
                elif fn == "count":
                    record[name] = int(acc[position])
                else:
                    record[name] = acc[position]
                position += _WIDTH[fn]
            records.append(record)
        return pd.DataFrame.from_records(records, columns=[*self.key, "window_start", "window_end", *[n for n, _f, _c in self.aggs]])

    def state(self) -> dict[str, Any]:
        idents = sorted(self.windows)
        width = sum(_WIDTH[fn] for _n, fn, _c in self.aggs)
        return {"watermark": self.watermark, "keys": [ident[0] for ident in idents],
                "starts": np.array([ident[1] for ident in idents], dtype=np.float64),
                "values": np.array([self.windows[ident] for ident in idents], dtype=np.float64).reshape(len(idents), width)}

    def load(self, state: dict[str, Any]) -> None:
        self.watermark = float(state["watermark"])
        self.windows = {(str(key), float(start)): np.array(values, dtype=np.float64)
                        for key, start, values in zip(state["keys"], state["starts"], state["values"], strict=True)}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Deduplicate(EventTime):
    """Drops a row whose key was already seen within ``horizon`` (event time) before it."""

    def __init__(self, where: str, *, key: Any, time: str, horizon: float) -> None:
        super().__init__(where, time, 0.0)
        self.key = _columns(key)
        if not self.key or horizon <= 0:
            raise DataError(f"{where}: 'key' needs a column and 'horizon' must be > 0")
        self.horizon = float(horizon)
        self.seen: dict[str, float] = {}

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty:
            return StepOutput(frame)
        _require(frame, self.key, self.where)
        times, missing = self.times(frame)
        keys = [json.dumps([_plain(v) for v in row]) for row in frame[self.key].itertuples(index=False, name=None)]
        keep = np.zeros(len(frame), dtype=bool)
        for index, (key, moment) in enumerate(zip(keys, times, strict=True)):
            if missing[index]:
                continue
            last = self.seen.get(key)
            if last is None or moment - last > self.horizon:
                keep[index] = True
                self.seen[key] = moment
        self.advance(times[~missing])
        cutoff = self.watermark - self.horizon
        self.seen = {key: moment for key, moment in self.seen.items() if moment >= cutoff}
        return StepOutput(frame[keep].reset_index(drop=True), frame[missing] if missing.any() else None, "no event time")

    def state(self) -> dict[str, Any]:
        keys = sorted(self.seen)
        return {"watermark": self.watermark, "keys": keys, "times": np.array([self.seen[k] for k in keys], dtype=np.float64)}

    def load(self, state: dict[str, Any]) -> None:
        self.watermark = float(state["watermark"])
        self.seen = {str(k): float(t) for k, t in zip(state["keys"], state["times"], strict=True)}


class JoinTable(Operator):
    """Enriches each row from a batch table (loaded when the job starts; its digest is checkpointed)."""

    def __init__(self, where: str, *, table: pd.DataFrame, key: Any, how: str = "left", columns: list[str] | None = None,
                 digest: str = "") -> None:
        super().__init__(where)
        if how not in ("left", "inner"):
            raise DataError(f"{where}: 'how' must be left or inner, got {how!r}")
        self.key, self.how, self.digest = _columns(key), how, digest
        if not self.key:
            raise DataError(f"{where}: 'key' needs the column(s) to join on")
        _require(table, self.key + list(columns or []), f"{where} (the table)")
        if columns:
            table = table[self.key + [c for c in columns if c not in self.key]]
        self.table = table.drop_duplicates(self.key, keep="last")

    @classmethod
    def from_file(cls, where: str, path: Path, **params: Any) -> JoinTable:
        if not path.is_file():
            raise DataError(f"{where}: the table {path} does not exist")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        return cls(where, table=table, digest=digest, **params)

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty:
            return StepOutput(frame)
        _require(frame, self.key, self.where)
        return StepOutput(frame.merge(self.table, on=self.key, how=self.how, suffixes=("", "_table")))  # type: ignore[arg-type]

    def state(self) -> dict[str, Any]:
        return {"digest": self.digest}

    def load(self, state: dict[str, Any]) -> None:
        if state.get("digest") != self.digest:
            raise DataError(f"{self.where}: the join table changed since the checkpoint; replaying with another table would "
                            "not give the same outputs. Restore the table, or delete the job's folder to start over")


class SessionWindow(EventTime):
    """Per key, a session is a run of rows with gaps under ``gap``; emitted when the watermark passes its end + gap + lateness.

    Rows are taken in event-time order within a micro-batch. A row before its key's open session,
    within ``gap`` of its start, extends it backwards; further back it is late.
    """

    def __init__(self, where: str, *, time: str, gap: float, key: Any = None, aggregations: dict[str, str],
                 delay: float = 0.0, lateness: float = 0.0) -> None:
        super().__init__(where, time, delay)
        if gap <= 0 or lateness < 0:
            raise DataError(f"{where}: 'gap' must be > 0 and 'lateness' >= 0")
        self.gap, self.lateness, self.key = float(gap), float(lateness), _columns(key)
        self.aggs = _aggregations(aggregations, where)
        self.open: dict[str, list[float]] = {}      # key -> [start, last, count, then per aggregation: value or sum, count]
        self.closed: list[tuple[str, list[float]]] = []

    def _fresh(self, moment: float) -> list[float]:
        acc = [moment, moment]
        for _name, fn, _column in self.aggs:
            acc += {"count": [0.0], "sum": [0.0], "mean": [0.0, 0.0], "min": [math.inf], "max": [-math.inf]}[fn]
        return acc

    def _add(self, acc: list[float], values: list[float]) -> None:
        position = 2
        for (_name, fn, _column), value in zip(self.aggs, values, strict=True):
            if fn == "count":
                acc[position] += 1.0 if not math.isnan(value) else 0.0
            elif fn == "sum":
                acc[position] += value
            elif fn == "mean":
                acc[position] += value
                acc[position + 1] += 1.0
            elif fn == "min":
                acc[position] = min(acc[position], value)
            else:
                acc[position] = max(acc[position], value)
            position += _WIDTH[fn]

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty:
            return StepOutput(self._emit())
        times, missing = self.times(frame)
        _require(frame, self.key + [c for _n, _f, c in self.aggs if c not in ("*", "")], self.where)
        columns = [np.ones(len(frame)) if c in ("*", "") else pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
                   for _n, _f, c in self.aggs]
        keys = [json.dumps([_plain(v) for v in row]) for row in frame[self.key].itertuples(index=False, name=None)] if self.key \
            else ["[]"] * len(frame)
        late = np.zeros(len(frame), dtype=bool)
        for index in np.argsort(times, kind="stable"):
            if missing[index]:
                continue
            moment, key = float(times[index]), keys[index]
            acc = self.open.get(key)
            if acc is not None and moment > acc[1] + self.gap:
                self.closed.append((key, acc))
                acc = None
            if acc is None:
                if moment + self.gap + self.lateness <= self.watermark:
                    late[index] = True
                    continue
                acc = self.open[key] = self._fresh(moment)
            elif moment < acc[0] - self.gap:
                late[index] = True
                continue
            acc[0], acc[1] = min(acc[0], moment), max(acc[1], moment)
            self._add(acc, [float(column[index]) for column in columns])
        self.advance(times[~missing])
        aside = frame[late | missing]
        return StepOutput(self._emit(), aside if len(aside) else None, "late: before its key's session, beyond the gap (or no event time)")

    def _emit(self) -> pd.DataFrame:
        for key, acc in list(self.open.items()):
            if acc[1] + self.gap + self.lateness <= self.watermark:
                self.closed.append((key, self.open.pop(key)))
        ready = [item for item in self.closed if item[1][1] + self.gap + self.lateness <= self.watermark]
        self.closed = [item for item in self.closed if item[1][1] + self.gap + self.lateness > self.watermark]
        records = []
        for key, acc in sorted(ready, key=lambda item: (item[1][0], item[0])):
            record: dict[str, Any] = dict(zip(self.key, json.loads(key), strict=True))
            record.update(session_start=acc[0], session_end=acc[1])
            position = 2
            for name, fn, _column in self.aggs:
                record[name] = (acc[position] / acc[position + 1] if acc[position + 1] else math.nan) if fn == "mean" else \
                    (int(acc[position]) if fn == "count" else acc[position])
                position += _WIDTH[fn]
            records.append(record)
        return pd.DataFrame.from_records(records, columns=[*self.key, "session_start", "session_end", *[n for n, _f, _c in self.aggs]])

    def state(self) -> dict[str, Any]:
        keys = sorted(self.open)
        width = 2 + sum(_WIDTH[fn] for _n, fn, _c in self.aggs)
        return {"watermark": self.watermark, "keys": keys,
                "values": np.array([self.open[k] for k in keys], dtype=np.float64).reshape(len(keys), width),
                "closed_keys": [key for key, _acc in self.closed],
                "closed_values": np.array([acc for _key, acc in self.closed], dtype=np.float64).reshape(len(self.closed), width)}

    def load(self, state: dict[str, Any]) -> None:
        self.watermark = float(state["watermark"])
        self.open = {str(k): [float(x) for x in values] for k, values in zip(state["keys"], state["values"], strict=True)}
        self.closed = [(str(k), [float(x) for x in values]) for k, values in zip(state["closed_keys"], state["closed_values"], strict=True)]
