"""Stream job steps as components: the operators of ``tidal stream run`` over a table replayed as a stream.

Each component here is the step of the same id in a stream job file (``tidal-stream: 1``), run
eagerly on a table: the rows are fed in order, ``batch_size`` at a time, through the operator,
and at the end of the table the watermark goes to infinity, so every window still open is
emitted. In a job the same operator keeps its state across micro-batches and checkpoints it with
the source offsets (see ``docs/stream.md``). SQL runs in a sandboxed DuckDB that can read only the
micro-batch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd

from tidal.core import Column, Columns, Param, component
from tidal.core._errors import DataError
from tidal.stream import _operators as ops
from tidal.stream._join_stream import JoinStream
from tidal.stream._learn_step import LearnFTRL

BATCH = Annotated[int, Param(ge=1, le=10_000_000, help="rows per micro-batch (the watermark moves after each)")]
AGGREGATIONS = Annotated[dict[str, str], Param(help="output column -> fn(column), fn one of count, sum, mean, min, max; "
                                                    "e.g. {\"n\": \"count(*)\", \"spend\": \"sum(amount)\"}")]
DELAY = Annotated[float, Param(ge=0, help="out-of-orderness tolerated: the watermark is the largest event time seen minus this")]
LATENESS = Annotated[float, Param(ge=0, help="how long after the watermark passes a window's end it still takes rows")]


def _table(data: Any, name: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input '{name}' must be a table, got {type(data).__name__}")
    if data.empty:
        raise DataError(f"input '{name}' is empty: there are no rows to stream")
    return data


def _replay(operator: ops.Operator, data: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """Feed ``data`` through ``operator`` in micro-batches; at the end, flush the windows still open."""
    outputs = []
    for start in range(0, len(data), batch_size):
        outputs.append(operator.process(data.iloc[start:start + batch_size].reset_index(drop=True)).frame)
    if isinstance(operator, ops.EventTime):
        outputs.append(operator.flush())
    kept = [frame for frame in outputs if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else outputs[-1].iloc[0:0]


@component("stream.select", title="Stream Select", tags={"sample": "numeric", "sample_params": {"columns": ["x1", "x2 * 2 AS double_x2"]}})
def select(
    data: pd.DataFrame,
    *,
    columns: Annotated[list[str], Param(widget="sql", help="columns or SQL expressions, e.g. [\"user\", \"price * qty AS total\"]")],
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Keep and compute columns with SQL expressions (DuckDB), micro-batch by micro-batch.

    Examples
    --------
    >>> import pandas as pd
    >>> select(pd.DataFrame({"price": [2.0, 3.0], "qty": [1, 4]}), columns=["price * qty AS total"])["total"].tolist()
    [2.0, 12.0]
    """
    return _replay(ops.select("stream.select", columns=list(columns)), _table(data), batch_size)


@component("stream.filter", title="Stream Filter", tags={"sample": "numeric", "sample_params": {"condition": "x1 > 0"}})
def filter_rows(
    data: pd.DataFrame,
    *,
    condition: Annotated[str, Param(widget="sql", help="a SQL condition over the columns, e.g. amount > 0 AND country = 'NO'")],
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Keep the rows for which a SQL condition holds (DuckDB), in order.

    Examples
    --------
    >>> import pandas as pd
    >>> filter_rows(pd.DataFrame({"amount": [5, -1, 7]}), condition="amount > 0")["amount"].tolist()
    [5, 7]
    """
    return _replay(ops.filter_rows("stream.filter", condition=condition), _table(data), batch_size)


@component("stream.map", title="Stream Map", tags={"sample": "numeric", "sample_params": {"columns": {"x5": "x1 + x2", "x1": "x1 * 10"}}})
def map_columns(
    data: pd.DataFrame,
    *,
    columns: Annotated[dict[str, str], Param(widget="sql", help="new or replaced column -> SQL expression, e.g. {\"total\": \"price * qty\"}")],
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Add or replace columns computed with SQL expressions; the other columns stay as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> map_columns(pd.DataFrame({"price": [2.0, 3.0], "qty": [1, 4]}), columns={"total": "price * qty"}).columns.tolist()
    ['price', 'qty', 'total']
    """
    return _replay(ops.map_columns("stream.map", columns=dict(columns)), _table(data), batch_size)


WINDOW_SAMPLE = {"time": "time", "key": ["group"], "aggregations": {"n": "count(*)", "mean_value": "mean(value)"}}


@component("stream.window_tumbling", title="Tumbling Window", tags={"sample": "timeseries", "sample_params": {**WINDOW_SAMPLE, "size": 604800.0}})
def window_tumbling(
    data: pd.DataFrame,
    *,
    time: Annotated[Column, Param(help="event time: a datetime column (counted in seconds) or numbers in the unit of 'size'")],
    size: Annotated[float, Param(gt=0, help="window length, in the event time's unit (seconds for datetimes)")],
    aggregations: AGGREGATIONS,
    key: Annotated[Columns, Param(help="group windows by these columns; empty: one window per period")] = None,
    delay: DELAY = 0.0,
    lateness: LATENESS = 0.0,
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Fixed, non-overlapping event-time windows per key, with aggregations; rows later than the watermark allows are dropped.

    Windows are emitted when the watermark (largest event time minus ``delay``) passes their end
    plus ``lateness``; rows arriving for an emitted window are late (a job sends them to its dead
    letters). One row per window: the key, ``window_start``, ``window_end`` and the aggregations.

    Examples
    --------
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"t": [1, 4, 12, 13, 25], "user": ["a", "a", "a", "b", "a"], "spend": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> window_tumbling(clicks, time="t", size=10, key=["user"], aggregations={"n": "count(*)", "spend": "sum(spend)"}).to_dict("records")[:2]
    [{'user': 'a', 'window_start': 0.0, 'window_end': 10.0, 'n': 2, 'spend': 3.0}, {'user': 'a', 'window_start': 10.0, 'window_end': 20.0, 'n': 1, 'spend': 3.0}]
    """
    operator = ops.Window("stream.window_tumbling", time=time, size=size, key=key, aggregations=dict(aggregations), delay=delay, lateness=lateness)
    return _replay(operator, _table(data), batch_size)


@component("stream.window_sliding", title="Sliding Window", tags={"sample": "timeseries",
           "sample_params": {**WINDOW_SAMPLE, "size": 1209600.0, "slide": 604800.0}})
def window_sliding(
    data: pd.DataFrame,
    *,
    time: Annotated[Column, Param(help="event time: a datetime column (counted in seconds) or numbers in the unit of 'size'")],
    size: Annotated[float, Param(gt=0, help="window length, in the event time's unit")],
    slide: Annotated[float, Param(gt=0, help="how far each window starts after the previous one; 'size' must be a whole multiple of it")],
    aggregations: AGGREGATIONS,
    key: Annotated[Columns, Param(help="group windows by these columns")] = None,
    delay: DELAY = 0.0,
    lateness: LATENESS = 0.0,
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Overlapping event-time windows (each row is in ``size / slide`` of them) per key, with aggregations.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"t": [1, 3, 5, 7]})
    >>> window_sliding(rows, time="t", size=4, slide=2, aggregations={"n": "count(*)"})[["window_start", "n"]].values.tolist()
    [[-2.0, 1.0], [0.0, 2.0], [2.0, 2.0], [4.0, 2.0], [6.0, 1.0]]
    """
    operator = ops.Window("stream.window_sliding", time=time, size=size, slide=slide, key=key, aggregations=dict(aggregations),
                          delay=delay, lateness=lateness)
    return _replay(operator, _table(data), batch_size)


@component("stream.window_session", title="Session Window", tags={"sample": "timeseries",
           "sample_params": {**WINDOW_SAMPLE, "gap": 172800.0}})
def window_session(
    data: pd.DataFrame,
    *,
    time: Annotated[Column, Param(help="event time: a datetime column (counted in seconds) or numbers in the unit of 'gap'")],
    gap: Annotated[float, Param(gt=0, help="a session ends when its key is silent for longer than this")],
    aggregations: AGGREGATIONS,
    key: Annotated[Columns, Param(help="sessions per value of these columns (e.g. a user id)")] = None,
    delay: DELAY = 0.0,
    lateness: LATENESS = 0.0,
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Sessions per key: runs of rows whose gaps are at most ``gap``, with aggregations.

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({"t": [0, 2, 3, 20, 21], "user": ["a", "a", "a", "a", "a"]})
    >>> window_session(visits, time="t", gap=5, key=["user"], aggregations={"n": "count(*)"}).to_dict("records")
    [{'user': 'a', 'session_start': 0.0, 'session_end': 3.0, 'n': 3}, {'user': 'a', 'session_start': 20.0, 'session_end': 21.0, 'n': 2}]
    """
    operator = ops.SessionWindow("stream.window_session", time=time, gap=gap, key=key, aggregations=dict(aggregations),
                                 delay=delay, lateness=lateness)
    return _replay(operator, _table(data), batch_size)


@component("stream.deduplicate", title="Stream Deduplicate", tags={"sample": "mixed",
           "sample_params": {"key": ["cat"], "time": "when", "horizon": 259200.0}})
def deduplicate(
    data: pd.DataFrame,
    *,
    key: Annotated[Columns, Param(help="the columns that identify a duplicate (e.g. an event id)")],
    time: Annotated[Column, Param(help="event time (datetime, or numbers in the unit of 'horizon')")],
    horizon: Annotated[float, Param(gt=0, help="a key seen again within this much event time is a duplicate")],
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Drop rows whose key was already kept within ``horizon`` before them (state older than that is forgotten).

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"id": [1, 2, 1, 1], "t": [0, 1, 3, 50]})
    >>> deduplicate(events, key=["id"], time="t", horizon=10)["t"].tolist()
    [0, 1, 50]
    """
    if not key:
        raise DataError("parameter 'key': name the column(s) that identify a duplicate")
    return _replay(ops.Deduplicate("stream.deduplicate", key=list(key), time=time, horizon=horizon), _table(data), batch_size)


@component("stream.join_table", title="Stream-Table Join", tags={"sample": "mixed", "sample_params": {"key": ["id"], "columns": ["cat"]}})
def join_table(
    data: pd.DataFrame,
    table: pd.DataFrame,
    *,
    key: Annotated[Columns, Param(help="the columns to match on, in both")],
    how: Literal["left", "inner"] = "left",
    columns: Annotated[Columns, Param(help="the table's columns to add; empty: all of them")] = None,
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Enrich each streamed row from a batch table (the last row per key wins); names that clash get '_table'.

    Examples
    --------
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"user": [1, 2, 3]})
    >>> users = pd.DataFrame({"user": [1, 2], "country": ["NO", "CN"]})
    >>> join_table(clicks, users, key=["user"])["country"].fillna("?").tolist()
    ['NO', 'CN', '?']
    """
    if not key:
        raise DataError("parameter 'key': name the column(s) to join on")
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"input 'table' must be a table, got {type(table).__name__}")
    operator = ops.JoinTable("stream.join_table", table=table, key=list(key), how=how, columns=list(columns) if columns else None)
    return _replay(operator, _table(data), batch_size)


@component("stream.join_stream", title="Stream-Stream Join", tags={"sample": "timeseries",
           "sample_params": {"key": ["group"], "time": "time", "within": 172800.0}})
def join_stream(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    key: Annotated[Columns, Param(help="the columns that must be equal in a pair, in both streams")],
    time: Annotated[Column, Param(help="event time in both streams: a datetime column (seconds) or numbers in the unit of 'within'")],
    within: Annotated[float, Param(ge=0, help="the largest event-time difference of a left and a right row that join")],
    columns: Annotated[Columns, Param(help="columns to carry from each side (suffixed _left, _right); empty: all but the key")] = None,
    delay: DELAY = 0.0,
    batch_size: BATCH = 100_000,
) -> pd.DataFrame:
    """Join two streams: every left and right row with equal keys whose event times are at most ``within`` apart.

    The two tables are merged into one stream in event-time order (left before right at equal
    times) and fed through the operator of a job's ``stream.join_stream`` step, which keeps each
    side's rows until the watermark passes their time plus ``within``. The result is the same set of
    pairs as a batch join with that time condition, each once. In a job the two streams come from a
    ``union`` source, which tags each row with its stream's name (see ``docs/stream.md``).

    Examples
    --------
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"ad": [1, 1, 2], "t": [10.0, 50.0, 12.0]})
    >>> views = pd.DataFrame({"ad": [1, 2, 2], "t": [8.0, 30.0, 11.0]})
    >>> join_stream(clicks, views, key=["ad"], time="t", within=5).to_dict("records")
    [{'ad': 1, 't_left': 10.0, 't_right': 8.0}, {'ad': 2, 't_left': 12.0, 't_right': 11.0}]
    """
    if not key:
        raise DataError("parameter 'key': name the column(s) to join on")
    left, right = _table(left, "left"), _table(right, "right")
    for name, frame in (("left", left), ("right", right)):
        if time not in frame.columns:
            raise DataError(f"input '{name}': the time column {time!r} is not in it (columns: {', '.join(map(str, frame.columns[:20]))})")
    tag = "__stream"
    merged = pd.concat([left.assign(**{tag: "left"}), right.assign(**{tag: "right"})], ignore_index=True)
    order = pd.to_numeric(merged[time], errors="coerce") if not pd.api.types.is_datetime64_any_dtype(merged[time]) else merged[time]
    merged = merged.iloc[order.argsort(kind="stable")].reset_index(drop=True)
    operator = JoinStream("stream.join_stream", key=list(key), time=time, within=within, stream=tag, delay=delay,
                          columns=list(columns) if columns else [c for c in dict.fromkeys([*left.columns, *right.columns]) if c not in key])
    return _replay(operator, merged, batch_size)


@component("stream.learn_ftrl", title="FTRL Progressive Scoring", tags={"sample": "classification",
           "sample_params": {"label": "label", "features": ["x1", "x2", "x3", "x4"], "batch_size": 8}})
def learn_ftrl(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the 0/1 label column")],
    features: Annotated[Columns, Param(help="numeric feature columns")],
    alpha: Annotated[float, Param(gt=0, log=True, help="FTRL learning-rate scale")] = 0.05,
    beta: Annotated[float, Param(ge=0, help="FTRL learning-rate smoothing")] = 1.0,
    l1: Annotated[float, Param(ge=0, help="L1 penalty")] = 0.0,
    l2: Annotated[float, Param(ge=0, help="L2 penalty")] = 1.0,
    probability_column: Annotated[str, Param(help="the new column: the probability given before the row was learned")] = "probability",
    batch_size: BATCH = 256,
) -> pd.DataFrame:
    """The learner step of a stream job: each row scored by FTRL before it is learned (progressive validation).

    Rows whose label is not 0/1 or whose features are not finite numbers are left out (a job sends
    them to its dead letters). In a job the step also proposes snapshots, gated on the holdout
    window's log loss or AUC (``snapshot_every``, ``gate``, ``margin``); ``stream.ftrl_train``
    gives the model of a table.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = pd.DataFrame({"x1": rng.normal(size=2000), "x2": rng.normal(size=2000)})
    >>> rows["clicked"] = (rows["x1"] - rows["x2"] > 0).astype(int)
    >>> scored = learn_ftrl(rows, label="clicked", features=["x1", "x2"], batch_size=100)
    >>> correct = (scored["probability"] > 0.5) == scored["clicked"]
    >>> float(scored["probability"].iloc[0]), bool(correct.iloc[:100].mean() < correct.iloc[1000:].mean())
    (0.5, True)
    """
    operator = LearnFTRL("stream.learn_ftrl", label=label, features=list(features or []), alpha=alpha, beta=beta, l1=l1, l2=l2,
                         probability_column=probability_column)
    return _replay(operator, _table(data), batch_size)
