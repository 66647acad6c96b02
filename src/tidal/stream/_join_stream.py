"""Stream-stream join within a time bound: left and right rows with equal keys whose event times differ by at most ``within``.

Both streams arrive in one micro-batch stream, each row tagged with the stream it came from (a
``union`` source writes the tag column, ``stream`` by default). Each side's rows stay in the
operator's state until no future row can match them: the watermark (largest event time seen minus
``delay``) bounds every future row's time from below, so a row of time ``t`` is dropped from state
once ``t + within`` falls behind the watermark. A new row is matched against the other side's state
and against the other side's new rows of the same batch (left-new x right-new once), so each pair
is emitted exactly once, when its later member arrives. A row older than the watermark is late
(its partners may be gone): it goes to the dead letters, as do rows without event time or whose
tag names neither side. The state (rows of both sides, the watermark) is checkpointed with the rest.

Output: the key columns, then each carried column once per side, suffixed with the side's name
(``ts_clicks``, ``ts_views``). It is an inner join; a row that never matched simply leaves the state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pandas as pd

from tidal.core._errors import DataError
from tidal.stream._operators import EventTime, StepOutput, _columns, _require

TIME = "__time"


def _encode(frame: pd.DataFrame) -> str:
    split = frame.to_dict("split")
    return orjson.dumps({"columns": split["columns"], "data": split["data"]},
                        option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()


def _decode(text: str) -> pd.DataFrame:
    split = orjson.loads(text)
    return pd.DataFrame(split["data"], columns=split["columns"])


def _stack(frames: list[pd.DataFrame], columns: Any) -> pd.DataFrame:
    """The non-empty frames one under the other, with ``columns`` (an empty frame with them when none has rows)."""
    kept = [frame.reindex(columns=columns) for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=columns)


class JoinStream(EventTime):
    """Inner join of two tagged streams on ``key`` within ``within`` units of event time."""

    def __init__(self, where: str, *, key: Any, time: str, within: float, left: str = "left", right: str = "right",
                 stream: str = "stream", columns: Any = None, delay: float = 0.0, max_state_rows: int = 1_000_000) -> None:
        super().__init__(where, time, delay)
        self.key = _columns(key)
        if not self.key:
            raise DataError(f"{where}: parameter 'key' needs the column(s) both streams are joined on")
        if not within >= 0 or math.isinf(within):
            raise DataError(f"{where}: parameter 'within' must be a finite number >= 0 (the largest time difference of a pair)")
        if left == right:
            raise DataError(f"{where}: 'left' and 'right' name the two streams and must differ; both are {left!r}")
        if max_state_rows < 1:
            raise DataError(f"{where}: 'max_state_rows' must be at least 1")
        self.within, self.left, self.right, self.stream = float(within), str(left), str(right), str(stream)
        self.fixed = _columns(columns) or None
        self.payload: list[str] = list(self.fixed or [])
        self.max_state_rows = int(max_state_rows)
        self.sides: dict[str, pd.DataFrame] = {self.left: self._empty(), self.right: self._empty()}

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame(columns=[*self.key, TIME, *self.payload])

    def output_columns(self) -> list[str]:
        return [*self.key, *[f"{c}_{side}" for side in (self.left, self.right) for c in self.payload]]

    def process(self, frame: pd.DataFrame) -> StepOutput:
        if frame.empty:
            return StepOutput(pd.DataFrame(columns=self.output_columns()))
        _require(frame, [*self.key, self.stream, *(self.fixed or [])], self.where)
        times, missing = self.times(frame)
        tags = frame[self.stream].astype(str).to_numpy()
        unknown = ~np.isin(tags, [self.left, self.right])
        late = ~missing & (times < self.watermark)
        aside = missing | unknown | late
        if self.fixed is None:
            self.payload += [str(c) for c in frame.columns if c not in self.payload and c not in self.key and c != self.stream]
        keyed = frame[self.key].notna().all(axis=1).to_numpy()
        use = ~aside & keyed
        rows = frame.loc[use, [*self.key, *[c for c in self.payload if c in frame.columns]]].copy()
        rows.insert(len(self.key), TIME, times[use])
        rows = rows.reindex(columns=[*self.key, TIME, *self.payload])
        new = {side: rows[tags[use] == side].reset_index(drop=True) for side in (self.left, self.right)}
        pairs = [self._match(new[self.left], _stack([self.sides[self.right], new[self.right]], rows.columns)),
                 self._match(self.sides[self.left], new[self.right])]
        for side in (self.left, self.right):
            self.sides[side] = _stack([self.sides[side], new[side]], rows.columns)
        self.advance(times[~aside])
        self._evict()
        held = sum(len(side) for side in self.sides.values())
        if held > self.max_state_rows:
            raise DataError(f"{self.where}: {held:,} rows wait for a partner, over max_state_rows ({self.max_state_rows:,}); "
                            "make 'within' or 'delay' smaller, or raise max_state_rows if the memory is there")
        output = _stack(pairs, self.output_columns())
        reason = (f"late (event time before the watermark), no event time, or a '{self.stream}' value that is neither "
                  f"{self.left!r} nor {self.right!r}")
        return StepOutput(output.reindex(columns=self.output_columns()), frame[aside] if aside.any() else None, reason)

    def _match(self, lefts: pd.DataFrame, rights: pd.DataFrame) -> pd.DataFrame:
        if lefts.empty or rights.empty:
            return pd.DataFrame()
        left_named = lefts.rename(columns={c: f"{c}_{self.left}" for c in [TIME, *self.payload]})
        right_named = rights.rename(columns={c: f"{c}_{self.right}" for c in [TIME, *self.payload]})
        merged = left_named.merge(right_named, on=self.key, how="inner")
        close = (merged[f"{TIME}_{self.left}"] - merged[f"{TIME}_{self.right}"]).abs() <= self.within
        return merged[close.to_numpy()].reset_index(drop=True)

    def _evict(self) -> None:
        for side, frame in self.sides.items():
            if len(frame):
                self.sides[side] = frame[(frame[TIME].to_numpy(dtype=np.float64) + self.within >= self.watermark)].reset_index(drop=True)

    def flush(self) -> pd.DataFrame:
        self.watermark = math.inf
        self._evict()
        return pd.DataFrame(columns=self.output_columns())

    def state(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "payload": list(self.payload),
                "left": _encode(self.sides[self.left]), "right": _encode(self.sides[self.right])}

    def load(self, state: dict[str, Any]) -> None:
        self.watermark = float(state["watermark"])
        self.payload = [str(c) for c in state["payload"]]
        self.sides = {self.left: _decode(str(state["left"])), self.right: _decode(str(state["right"]))}
