"""Stream-stream join within a time bound, checked against DuckDB's batch join of the full data: the same pairs, none twice."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from stream_job_helpers import job, read_parts

from tidal.components.stream_jobs import join_stream
from tidal.core._errors import DataError
from tidal.stream._job_spec import JobError, parse
from tidal.stream._runner import StreamJob


def _streams(n: int = 1500, seed: int = 0, jitter: float = 2.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def one(offset: int) -> pd.DataFrame:
        t = np.round(np.sort(rng.uniform(0, 150, n)) + rng.uniform(0, jitter, n), 3)    # a little out of order
        return pd.DataFrame({"id": np.arange(n) + offset, "k": rng.integers(0, 20, n), "t": t, "v": rng.normal(size=n)})
    return one(0), one(100_000)


def _reference(left: pd.DataFrame, right: pd.DataFrame, within: float) -> list[tuple[int, int]]:
    con = duckdb.connect()
    con.register("left_rows", left)
    con.register("right_rows", right)
    found = con.execute(f"SELECT l.id, r.id FROM left_rows l JOIN right_rows r ON l.k = r.k AND abs(l.t - r.t) <= {within}").fetchall()
    con.close()
    return sorted((int(a), int(b)) for a, b in found)


@pytest.mark.parametrize("batch_size", [13, 37, 100_000])
def test_the_component_gives_the_batch_joins_pairs_each_once(batch_size):
    left, right = _streams(400, seed=batch_size)
    joined = join_stream(left, right, key=["k"], time="t", within=0.8, batch_size=batch_size)
    pairs = list(zip(joined["id_left"].astype(int), joined["id_right"].astype(int), strict=True))
    assert len(pairs) == len(set(pairs))                                        # none twice
    assert sorted(pairs) == _reference(left, right, 0.8) and len(pairs) > 30    # the same pairs
    assert list(joined.columns) == ["k", "id_left", "t_left", "v_left", "id_right", "t_right", "v_right"]
    row = joined.iloc[0]
    assert row["v_left"] == left.set_index("id").loc[int(row["id_left"]), "v"]  # carried values are the rows' own


def _write(path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))


def _spec(root, delay: float):
    source = {"kind": "union", "sources": {"clicks": {"kind": "file", "path": "data/clicks.jsonl"},
                                           "views": {"kind": "file", "path": "data/views.jsonl"}}}
    step = {"id": "join", "component": "stream.join_stream",
            "params": {"key": "k", "time": "t", "within": 0.8, "left": "clicks", "right": "views", "delay": delay}}
    return parse(job("joined", source, [step], [{"kind": "files", "path": "out"}], max_rows=200), root)


def test_a_job_joining_two_files_survives_a_crash_and_matches_the_batch_join(tmp_path, monkeypatch):
    clicks, views = _streams()
    _write(tmp_path / "data" / "clicks.jsonl", clicks)
    _write(tmp_path / "data" / "views.jsonl", views)
    spec = _spec(tmp_path, delay=20.0)                                         # more than the disorder: nothing is late
    stream = StreamJob(spec)
    for _ in range(4):
        stream.step()
    monkeypatch.setattr(StreamJob, "_commit", lambda self, position: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        stream.step()                                                          # epoch 4 written, its state not committed
    stream.close()
    monkeypatch.undo()
    resumed = StreamJob(spec)
    assert resumed.epoch == 4
    resumed.run(until_idle=True)
    resumed.close()
    out = read_parts(tmp_path / "out")
    pairs = list(zip(out["id_clicks"].astype(int), out["id_views"].astype(int), strict=True))
    assert len(pairs) == len(set(pairs))
    assert sorted(pairs) == _reference(clicks, views, 0.8)
    assert resumed.dead_count == 0
    assert set(out.columns) == {"k", "id_clicks", "t_clicks", "v_clicks", "id_views", "t_views", "v_views"}


def test_rows_behind_the_watermark_go_to_the_dead_letters_and_no_pair_is_invented(tmp_path):
    clicks, views = _streams(seed=4, jitter=6.0)
    _write(tmp_path / "data" / "clicks.jsonl", clicks)
    _write(tmp_path / "data" / "views.jsonl", views)
    spec = _spec(tmp_path, delay=0.0)                                          # no tolerance for disorder
    stream = StreamJob(spec)
    stream.run(until_idle=True)
    stream.close()
    dead = [json.loads(line) for path in sorted((spec.folder / "dead-letter").glob("*.jsonl")) for line in path.read_text().splitlines()]
    late = pd.DataFrame([json.loads(d["row"]) for d in dead])
    assert len(late) and all("late" in d["reason"] for d in dead)
    on_time = clicks[~clicks["id"].isin(late["id"])], views[~views["id"].isin(late["id"])]
    out = read_parts(tmp_path / "out")
    pairs = sorted(zip(out["id_clicks"].astype(int), out["id_views"].astype(int), strict=True))
    assert pairs == _reference(*on_time, 0.8)                                  # exactly the pairs of the rows kept
    assert stream.rows == 3000 and stream.dead_count == len(late)


def test_bad_join_parameters_and_sources_name_the_problem(tmp_path):
    union = {"kind": "union", "sources": {"a": {"kind": "file", "path": "a"}, "b": {"kind": "file", "path": "b"}}}
    same = {"id": "join", "component": "stream.join_stream", "params": {"key": "k", "time": "t", "within": 1, "left": "a", "right": "a"}}
    with pytest.raises(DataError, match="'left' and 'right' name the two streams"):
        StreamJob(parse(job("j", union, [same], [{"kind": "files", "path": "out"}]), tmp_path))
    with pytest.raises(DataError, match="'within' must be a finite number"):
        join_stream(*_streams(10), key=["k"], time="t", within=float("inf"))
    with pytest.raises(JobError, match="two or more named sources"):
        parse(job("j", {"kind": "union", "sources": {"a": {"kind": "file", "path": "a"}}}, [], []), tmp_path)
    with pytest.raises(JobError, match="must be a mapping with kind kafka, file, redis"):
        parse(job("j", {"kind": "union", "sources": {"a": {"kind": "file", "path": "a"},
                                                     "b": {"kind": "http", "token_env": "T"}}}, [], []), tmp_path)
