"""Stream jobs over Redis Streams on a real redis-server: source, sink, crash replay, the server killed mid-job."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest
from stream_job_helpers import LEARN, job, make_events, read_parts

from tidal.core._errors import DataError
from tidal.stream._job_spec import JobError, parse
from tidal.stream._runner import StreamJob

redis = pytest.importorskip("redis")


def _add(url: str, stream: str, entries: list[dict]) -> list[str]:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for fields in entries:
        pipe.xadd(stream, fields)
    ids = [raw.decode() for raw in pipe.execute()]
    client.close()
    return ids


def _events(frame: pd.DataFrame) -> list[dict]:
    return [{"data": json.dumps(record)} for record in frame.to_dict("records")]


def _sink_rows(url: str, stream: str) -> list[dict]:
    client = redis.Redis.from_url(url)
    rows = [json.loads(fields[b"data"]) for _id, fields in client.xrange(stream)]
    client.close()
    return rows


def _dead(spec) -> list[dict]:
    return [json.loads(line) for path in sorted((spec.folder / "dead-letter").glob("*.jsonl")) for line in path.read_text().splitlines()]


def _crash_once(stream: StreamJob, monkeypatch) -> None:
    """Epoch ``n`` runs to its sinks, then the process 'dies' before the checkpoint."""
    monkeypatch.setattr(StreamJob, "_commit", lambda self, position: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        stream.step()
    stream.close()
    monkeypatch.undo()


def test_redis_job_reads_every_entry_once_and_dead_letters_malformed_ones(tmp_path, redis_url):
    events = make_events(3000, seed=1)
    entries = _events(events)
    bad = {17: {"data": "{not json"}, 1200: {"data": "[1, 2]"}, 2500: {"other": "1"}}
    for index, fields in sorted(bad.items()):
        entries.insert(index, fields)
    ids = _add(redis_url, "clicks", entries)
    spec = parse(job("redis-clicks", {"kind": "redis", "url": redis_url, "stream": "clicks"}, [LEARN],
                     [{"kind": "files", "path": "out"}, {"kind": "redis", "url": redis_url, "stream": "clicks-scored"}],
                     max_rows=700), tmp_path)
    stream = StreamJob(spec)
    try:
        progress = stream.run(until_idle=True)
        assert stream.source.lag() == 0
    finally:
        stream.close()
    assert progress.rows == len(events)
    assert sorted(read_parts(tmp_path / "out")["id"]) == list(range(len(events)))
    scored = _sink_rows(redis_url, "clicks-scored")
    assert [row["id"] for row in scored] == read_parts(tmp_path / "out")["id"].tolist()   # same rows, same order, once
    dead = _dead(spec)
    assert sorted(d["offset"] for d in dead) == sorted(ids[index] for index in bad)
    reasons = {d["offset"]: d["reason"] for d in dead}
    assert "not valid JSON" in reasons[ids[17]] and "not an object" in reasons[ids[1200]] and "no field 'data'" in reasons[ids[2500]]
    assert all(d["source"] == "redis:clicks" for d in dead)


def test_entry_fields_as_the_row(tmp_path, redis_url):
    _add(redis_url, "fields", [{"id": str(i), "x": f"{i / 4}", "name": f"n{i}"} for i in range(50)])
    spec = parse(job("redis-fields", {"kind": "redis", "url": redis_url, "stream": "fields", "format": "fields"}, [],
                     [{"kind": "files", "path": "out"}], max_rows=20), tmp_path)
    stream = StreamJob(spec)
    stream.run(until_idle=True)
    stream.close()
    rows = read_parts(tmp_path / "out")
    assert rows["id"].tolist() == list(range(50)) and rows["x"].tolist() == [i / 4 for i in range(50)]
    assert rows["name"].iloc[3] == "n3"


def test_a_crash_between_sinks_and_checkpoint_adds_nothing_twice_to_the_redis_sink(tmp_path, redis_url, monkeypatch):
    events = make_events(2000, seed=3)
    _add(redis_url, "replay-in", _events(events.iloc[:1500]))

    def spec(folder, out):
        return parse(job("to-redis", {"kind": "redis", "url": redis_url, "stream": "replay-in"}, [LEARN],
                         [{"kind": "redis", "url": redis_url, "stream": out}], max_rows=400), folder)
    calm = StreamJob(spec(tmp_path / "calm", "replay-calm"))
    crashing = StreamJob(spec(tmp_path / "crash", "replay-crash"))
    assert crashing.step()                                              # epoch 0 committed
    _crash_once(crashing, monkeypatch)                                  # epoch 1 in the sink, not checkpointed
    assert len(_sink_rows(redis_url, "replay-crash")) == 800
    _add(redis_url, "replay-in", _events(events.iloc[1500:]))           # more arrives while it is down
    calm.run(until_idle=True)
    calm.close()
    resumed = StreamJob(spec(tmp_path / "crash", "replay-crash"))
    assert resumed.epoch == 1
    resumed.run(until_idle=True)
    resumed.close()
    crashed, quiet = _sink_rows(redis_url, "replay-crash"), _sink_rows(redis_url, "replay-calm")
    assert [row["id"] for row in crashed] == list(range(2000))           # none twice, none missing, in order
    assert crashed == quiet                                             # and the very values of a run never interrupted


def test_a_replayed_epoch_whose_entries_were_trimmed_is_refused(tmp_path, redis_url, monkeypatch):
    _add(redis_url, "trimmed", _events(make_events(600, seed=4)))
    spec = parse(job("trim", {"kind": "redis", "url": redis_url, "stream": "trimmed"}, [], [{"kind": "files", "path": "out"}],
                     max_rows=200), tmp_path)
    stream = StreamJob(spec)
    stream.step()
    _crash_once(stream, monkeypatch)
    client = redis.Redis.from_url(redis_url)
    client.xtrim("trimmed", maxlen=300)                                  # drops entries 200-299 of the epoch being replayed
    client.close()
    resumed = StreamJob(spec)
    with pytest.raises(DataError, match="trimmed or deleted"):
        resumed.step()
    resumed.close()


def test_a_redis_sink_marker_ahead_of_the_job_is_refused(tmp_path, redis_url):
    _add(redis_url, "ahead-in", _events(make_events(100)))
    spec = parse(job("ahead", {"kind": "redis", "url": redis_url, "stream": "ahead-in"}, [],
                     [{"kind": "redis", "url": redis_url, "stream": "ahead-out"}], max_rows=50), tmp_path)
    client = redis.Redis.from_url(redis_url)
    client.set("tidal:stream-sink:ahead:ahead-out", 7)                   # an earlier life of the job reached epoch 7
    client.close()
    stream = StreamJob(spec)
    with pytest.raises(DataError, match="started over"):
        stream.step()
    stream.close()


def test_redis_killed_mid_job_stops_with_a_clear_error_then_resumes_without_loss(tmp_path):
    from servers import redis_server

    events = make_events(2400, seed=8)
    with redis_server(persistent=True) as server:
        _add(server.url, "in", _events(events.iloc[:1200]))
        source = {"kind": "redis", "url": server.url, "stream": "in", "retry_seconds": 0.3}
        sinks = [{"kind": "files", "path": "out"}, {"kind": "redis", "url": server.url, "stream": "out", "retry_seconds": 0.3}]
        spec = parse(job("outage", source, [LEARN], sinks, max_rows=300), tmp_path)
        stream = StreamJob(spec)
        stream.run(max_batches=2)
        server.kill()
        with pytest.raises(DataError, match="cannot be reached") as caught:
            stream.run(until_idle=True)
        assert "resumes" in str(caught.value)
        stream.close()
        status = json.loads((spec.folder / "status.json").read_text())
        assert status["state"] == "failed" and status["epoch"] == 2          # the finished epochs are kept
        server.start()                                                      # back, with its appended data
        _add(server.url, "in", _events(events.iloc[1200:]))
        resumed = StreamJob(spec)
        assert resumed.epoch == 2
        resumed.run(until_idle=True)
        resumed.close()
        assert sorted(read_parts(tmp_path / "out")["id"]) == list(range(2400))
        assert [row["id"] for row in _sink_rows(server.url, "out")] == list(range(2400))


def test_a_short_outage_is_ridden_out_by_retrying(tmp_path):
    from servers import redis_server

    with redis_server(persistent=True) as server:
        _add(server.url, "in", _events(make_events(400, seed=2)))
        spec = parse(job("blip", {"kind": "redis", "url": server.url, "stream": "in", "retry_seconds": 60}, [],
                         [{"kind": "files", "path": "out"}], max_rows=200), tmp_path)
        stream = StreamJob(spec)
        assert stream.step() == 200
        server.kill()
        back = threading.Event()
        restarter = threading.Thread(target=lambda: (back.wait(0.5), server.start()))
        restarter.start()
        assert stream.step() == 200                                          # retried until the server answered again
        restarter.join()
        stream.close()
        assert sorted(read_parts(tmp_path / "out")["id"]) == list(range(400))


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "redis", "stream": "s"}, "needs 'url'"),
    ({"kind": "redis", "url": "http://x", "stream": "s"}, "needs 'url'"),
    ({"kind": "redis", "url": "redis://127.0.0.1:1/0", "stream": "s", "format": "xml"}, "format must be json"),
    ({"kind": "redis", "url": "redis://127.0.0.1:1/0", "stream": "s", "retry_seconds": -1}, "retry_seconds"),
])
def test_bad_redis_sources_are_refused_naming_the_field(tmp_path, source, message):
    with pytest.raises(JobError, match=message):
        parse(job("bad", source, [], [{"kind": "files", "path": "out"}]), tmp_path)
