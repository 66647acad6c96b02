"""Per-column statistics of a Parquet table (DuckDB), checked against pandas on awkward columns."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tidal.studio._stats import column_stats


def test_stats_match_pandas_on_mixed_types(tmp_path):
    frame = pd.DataFrame({
        "x": [1.5, None, 3.0, float("nan"), 5.0],
        "n": pd.array([1, 2, None, 2, 7], dtype="Int64"),
        "s": ["a", "b", None, "b", "c"],
        "flag": [True, False, None, True, True],
        "day": [dt.date(2024, 1, d) for d in (5, 1, 3, 2, 4)],
        'we"ird name': [0, 0, 0, 0, 0],
    })
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    rows, found = column_stats(path)
    stats = {item["name"]: item for item in found}
    assert rows == 5
    assert stats["n"] == {**stats["n"], "count": 4, "nulls": 1, "distinct": 3, "min": 1, "max": 7, "mean": 3.0}
    assert stats["s"]["count"] == 4 and stats["s"]["min"] == "a" and stats["s"]["max"] == "c" and stats["s"]["mean"] is None
    assert stats["day"]["min"] == "2024-01-01" and stats["day"]["max"] == "2024-01-05"
    assert stats['we"ird name']["distinct"] == 1
    assert stats["flag"]["count"] == 4
    # pandas NaN is written as a Parquet null
    assert stats["x"]["nulls"] == 2 and stats["x"]["min"] == 1.5 and stats["x"]["max"] == 5.0
    assert math.isclose(stats["x"]["mean"], frame["x"].mean())


def test_stats_on_empty_and_nested_tables(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64()), "l": pa.array([], pa.list_(pa.int64()))}), path)
    rows, found = column_stats(path)
    assert rows == 0 and found[0] == {"name": "a", "type": "BIGINT", "count": 0, "nulls": 0, "distinct": 0,
                                      "min": None, "max": None, "mean": None}
    assert found[1]["min"] is None and found[1]["type"].endswith("[]")
