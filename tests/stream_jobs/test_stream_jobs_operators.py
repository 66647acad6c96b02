"""Operators on hand-made sequences: watermarks and allowed lateness, sliding windows, dedup, joins, SQL steps, state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tidal.core._errors import DataError
from tidal.stream import _checkpoint
from tidal.stream._operators import Deduplicate, JoinTable, Window, filter_rows, map_columns, select


def _batch(times, keys=None, values=None):
    n = len(times)
    return pd.DataFrame({"t": times, "k": keys or ["a"] * n, "v": values or [1.0] * n})


def test_watermark_and_allowed_lateness_on_a_hand_made_sequence():
    window = Window("w", time="t", size=10, key="k", aggregations={"n": "count(*)", "total": "sum(v)"}, delay=2, lateness=3)
    out = window.process(_batch([1, 4, 12]))                 # watermark 12 - 2 = 10: [0,10) waits for lateness (until 13)
    assert out.frame.empty and window.watermark == 10
    out = window.process(_batch([9, 14], values=[5.0, 1.0]))  # t=9 is out of order but within lateness: counted
    assert out.frame.empty and window.watermark == 12
    out = window.process(_batch([15.5]))                      # watermark 13.5 >= 10 + 3: [0,10) is emitted, once
    assert out.frame.to_dict("records") == [{"k": "a", "window_start": 0.0, "window_end": 10.0, "n": 3, "total": 7.0}]
    out = window.process(_batch([8, 16]))                     # t=8 belongs to an emitted window: late, set aside
    assert out.frame.empty and out.late is not None and out.late["t"].tolist() == [8]
    out = window.process(_batch([27]))                        # watermark 25 >= 20 + 3: [10,20) emitted
    assert out.frame[["window_start", "n"]].to_dict("records") == [{"window_start": 10.0, "n": 4}]


def test_window_state_roundtrips_through_a_checkpoint(tmp_path):
    def make():
        return Window("w", time="t", size=4, slide=2, key="k", aggregations={"n": "count(*)", "hi": "max(v)", "m": "mean(v)"})
    rng = np.random.default_rng(1)
    batches = [_batch(sorted(rng.uniform(i * 5, i * 5 + 5, 20).tolist()), list(rng.choice(["a", "b"], 20)),
                      rng.normal(size=20).tolist()) for i in range(6)]
    straight, split = make(), make()
    expected = pd.concat([straight.process(b).frame for b in batches], ignore_index=True)
    first = [split.process(b).frame for b in batches[:3]]
    _checkpoint.save(tmp_path / "c", {"w": split.state()})
    restored = make()
    restored.load(_checkpoint.load(tmp_path / "c")["w"])
    rest = [restored.process(b).frame for b in batches[3:]]
    pd.testing.assert_frame_equal(pd.concat(first + rest, ignore_index=True), expected)
    # sliding windows of 4 every 2, against a brute-force count of the rows in each (the batches are in order: none late)
    rows = pd.concat(batches, ignore_index=True)
    for record in expected.to_dict("records"):
        inside = rows[(rows["k"] == record["k"]) & (rows["t"] >= record["window_start"]) & (rows["t"] < record["window_end"])]
        assert record["n"] == len(inside) and record["hi"] == inside["v"].max()
        assert record["m"] == pytest.approx(inside["v"].mean(), rel=1e-12)
    assert set(np.diff(sorted(expected["window_start"].unique()))) == {2.0}


def test_deduplicate_within_horizon():
    dedup = Deduplicate("d", key="id", time="t", horizon=10)
    out = dedup.process(pd.DataFrame({"id": [1, 2, 1, 3], "t": [0, 1, 5, 2]}))
    assert out.frame["t"].tolist() == [0, 1, 2]
    out = dedup.process(pd.DataFrame({"id": [1, 2], "t": [11, 8]}))      # 1 was last kept at 0: 11 > 10 later, kept
    assert out.frame["id"].tolist() == [1]


def test_join_table_and_sql_steps(tmp_path):
    table = tmp_path / "users.csv"
    pd.DataFrame({"k": ["a", "b"], "region": ["north", "south"]}).to_csv(table, index=False)
    joined = JoinTable.from_file("j", table, key="k").process(_batch([1, 2, 3], ["a", "b", "c"])).frame
    assert joined["region"].fillna("?").tolist() == ["north", "south", "?"]
    frame = _batch([1, 2, 3], values=[1.0, 2.0, 3.0])
    assert filter_rows("f", condition="v >= 2").process(frame).frame["v"].tolist() == [2.0, 3.0]
    assert select("s", columns=["v * 10 AS w"]).process(frame).frame["w"].tolist() == [10.0, 20.0, 30.0]
    mapped = map_columns("m", columns={"v": "v + 1", "double": "v * 2"}).process(frame).frame
    assert list(mapped.columns) == ["t", "k", "v", "double"] and mapped["v"].tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(DataError, match="not in the stream|Referenced column"):
        filter_rows("f", condition="nope > 1").process(frame)


def test_session_windows_split_on_gaps_and_survive_a_checkpoint(tmp_path):
    from tidal.stream._operators import SessionWindow

    def make():
        return SessionWindow("s", time="t", gap=3, key="k", aggregations={"n": "count(*)", "total": "sum(v)"}, delay=1)
    batches = [_batch([0, 1, 2], ["a", "b", "a"]), _batch([4, 10, 11], ["a", "a", "b"]), _batch([12, 30], ["a", "b"]), _batch([50], ["a"])]
    straight = make()
    expected = pd.concat([straight.process(b).frame for b in batches], ignore_index=True)
    assert expected[["k", "session_start", "session_end", "n"]].values.tolist() == [
        ["a", 0.0, 4.0, 3], ["b", 1.0, 1.0, 1], ["a", 10.0, 12.0, 2], ["b", 11.0, 11.0, 1], ["b", 30.0, 30.0, 1]]
    split = make()
    first = [split.process(b).frame for b in batches[:2]]
    _checkpoint.save(tmp_path / "c", {"s": split.state()})
    restored = make()
    restored.load(_checkpoint.load(tmp_path / "c")["s"])
    rest = [restored.process(b).frame for b in batches[2:]]
    pd.testing.assert_frame_equal(pd.concat(first + rest, ignore_index=True), expected)
