"""A stream job end to end through librdkafka's mock Kafka cluster: window + FTRL, dead letters with offsets."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from stream_job_helpers import (
    LEARN,
    WINDOW,
    job,
    jsonl,
    make_events,
    produce,
    read_parts,
    step_with_data,
)

from tidal.stream._ftrl import FTRLLogisticRegression
from tidal.stream._job_spec import parse
from tidal.stream._runner import StreamJob


@pytest.fixture(scope="module")
def clicks(kafka_bootstrap):
    events = make_events(20_000)
    messages = jsonl(events)
    bad = {137: b"{not json", 4242: b"[1, 2, 3]", 15_000: b"\xff\xfe"}
    for index, raw in bad.items():
        messages.insert(index, raw)
    produce(kafka_bootstrap, "clicks", messages)
    return events, bad


def test_kafka_job_window_and_learner(tmp_path, kafka_bootstrap, clicks):
    events, bad = clicks
    spec = parse(job("clicks", {"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": "clicks"}, [LEARN, WINDOW],
                     [{"kind": "files", "path": "out/windows"}, {"kind": "files", "path": "out/scored", "after": "learn"}],
                     max_rows=2500), tmp_path)
    stream = StreamJob(spec)
    try:
        progress = stream.run(until_idle=True)
    finally:
        stream.close()
    assert progress.rows == len(events)
    scored = read_parts(tmp_path / "out" / "scored")
    assert sorted(scored["id"]) == list(range(len(events)))           # every event once: none missing, none twice
    windows = read_parts(tmp_path / "out" / "windows")
    closed = events[events["ts"] < np.floor((events["ts"].max() - 0.1) / 5.0) * 5.0]
    expected = closed.groupby([(closed["ts"] // 5.0) * 5.0, "user"]).agg(n=("id", "size"), clicks=("y", "sum")).reset_index()
    got = windows.sort_values(["window_start", "user"]).reset_index(drop=True)
    dead = [json.loads(line) for path in sorted((spec.folder / "dead-letter").glob("*.jsonl")) for line in path.read_text().splitlines()]
    # two partitions read unevenly move the watermark past some rows of the slower one: those are late,
    # in the dead letters; every event of a closed window is counted in it or there, never both
    late = pd.DataFrame([json.loads(d["row"]) for d in dead if d.get("step") == "window"])
    assert len(late) and all("late" in d["reason"] for d in dead if d.get("step") == "window")
    counted: dict[tuple[float, int], int] = {}
    for start, user, n in zip(got["window_start"], got["user"], got["n"], strict=True):
        counted[(float(start), int(user))] = int(n)
    for ts, user in zip(late["ts"], late["user"], strict=True):
        key = (float(ts // 5.0 * 5.0), int(user))
        counted[key] = counted.get(key, 0) + 1
    assert [counted[(float(a), int(b))] for a, b in zip(expected["ts"], expected["user"], strict=True)] == expected["n"].tolist()
    assert got["p"].between(0, 1).all()
    # the learner learned every event: the same as one FTRL fed the events in the job's order
    learner = FTRLLogisticRegression.from_state(stream.learner_state())
    assert learner.n_seen == len(events)
    # the malformed messages went to the dead letters, each with its reason, partition and offset
    dead = [d for d in dead if "step" not in d]
    assert len(dead) == len(bad)
    assert {(d["partition"], d["offset"]) for d in dead} == {(index % 2, index // 2) for index in bad}
    assert any("not valid JSON" in d["reason"] for d in dead) and any("not an object" in d["reason"] for d in dead)
    # snapshots through the quality gate
    snapshots = sorted((spec.folder / "snapshots").glob("snapshot-*.json"))
    assert len(snapshots) == 8                       # a proposal whenever 2000 rows were scored since the last one
    decisions = [json.loads(path.read_text()) for path in snapshots]
    assert decisions[0]["accepted"] and decisions[0]["reason"] == "first snapshot"
    accepted = [d for d in decisions if d["accepted"]]
    assert len(list((spec.folder / "snapshots").glob("model-*"))) == len(accepted)


def test_restart_resumes_from_checkpoint_offsets(tmp_path, kafka_bootstrap, clicks):
    events, _bad = clicks
    spec = parse(job("resume", {"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": "clicks"}, [LEARN],
                     [{"kind": "files", "path": "out"}], max_rows=3000), tmp_path)
    first = StreamJob(spec)
    first.run(max_batches=2)
    first.close()
    second = StreamJob(spec)                         # a new process would do the same: seek to the checkpoint
    assert second.epoch == 2
    second.run(until_idle=True)
    second.close()
    assert sorted(read_parts(tmp_path / "out")["id"]) == list(range(len(events)))


def test_a_crash_between_sinks_and_checkpoint_replays_the_same_kafka_range(tmp_path, kafka_bootstrap, monkeypatch):
    events = make_events(3000, seed=5)
    produce(kafka_bootstrap, "replay", jsonl(events.iloc[:2000]))
    spec = parse(job("crashy", {"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": "replay"}, [LEARN],
                     [{"kind": "files", "path": "out"}], max_rows=700), tmp_path)
    crashing = StreamJob(spec)
    step_with_data(crashing)                                           # epoch 0 committed
    monkeypatch.setattr(StreamJob, "_commit", lambda self, position: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        step_with_data(crashing)                                       # epoch 1: intent, sinks written, no checkpoint
    crashing.close()
    monkeypatch.undo()
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["part-0000000000.jsonl", "part-0000000001.jsonl"]
    crashed_epoch = len(pd.read_json(tmp_path / "out" / "part-0000000001.jsonl", lines=True))
    produce(kafka_bootstrap, "replay", jsonl(events.iloc[2000:]))      # more data arrives while it is down
    resumed = StreamJob(spec)
    assert resumed.epoch == 1
    resumed.run(until_idle=True)
    resumed.close()
    scored = read_parts(tmp_path / "out")
    assert sorted(scored["id"]) == list(range(3000))                   # none twice, none missing
    part_one = pd.read_json(tmp_path / "out" / "part-0000000001.jsonl", lines=True)
    assert len(part_one) == crashed_epoch > 0                          # the replayed epoch kept its range


def _topic_messages(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", "log_level": 3})
    partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    got: list[tuple[str, str]] = []
    seen = dict.fromkeys(partitions, 0)
    while any(seen[p] < ends[p] for p in partitions):
        for message in consumer.consume(1000, timeout=2.0):
            if message.error() is None:
                got.append((message.key().decode(), message.value().decode()))
                seen[message.partition()] = message.offset() + 1
    consumer.close()
    return got


def test_kafka_sink_replays_an_epoch_with_the_same_keys_and_values(tmp_path, kafka_bootstrap, monkeypatch):
    produce(kafka_bootstrap, "sink-in", jsonl(make_events(2000, seed=9)))

    def spec(folder, topic):
        return parse(job("to-kafka", {"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": "sink-in"}, [LEARN],
                         [{"kind": "kafka", "bootstrap": kafka_bootstrap, "topic": topic}], max_rows=500), folder)
    calm = StreamJob(spec(tmp_path / "calm", "sink-calm"))
    calm.run(until_idle=True)
    calm.close()
    crashing = StreamJob(spec(tmp_path / "crash", "sink-crash"))
    step_with_data(crashing)
    monkeypatch.setattr(StreamJob, "_commit", lambda self, position: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        step_with_data(crashing)                               # epoch 1 delivered to Kafka, never checkpointed
    crashing.close()
    monkeypatch.undo()
    resumed = StreamJob(spec(tmp_path / "crash", "sink-crash"))
    resumed.run(until_idle=True)
    resumed.close()
    calm_messages, crash_messages = _topic_messages(kafka_bootstrap, "sink-calm"), _topic_messages(kafka_bootstrap, "sink-crash")
    assert len(calm_messages) == 2000 and len(dict(calm_messages)) == 2000
    # the two runs may cut their epochs at other rows (a poll under load can end one short of 500) and
    # interleave the two partitions otherwise, so their keys (job:epoch:index) and the learner's scores
    # differ; the rows a consumer keeping the last value per key reads must not
    def rows(values):
        return sorted((json.loads(value) for value in values), key=lambda row: row["id"])
    last, calm_rows = rows(dict(crash_messages).values()), rows(value for _key, value in calm_messages)
    assert [row["id"] for row in last] == list(range(2000))
    assert all(0.0 <= row.pop("probability") <= 1.0 for row in last + calm_rows)
    assert last == calm_rows
    first: dict[str, str] = {}
    for key, value in crash_messages:
        assert first.setdefault(key, value) == value, f"{key} was sent again with another value"
    counts = Counter(key for key, _value in crash_messages)
    replayed = [key for key, count in counts.items() if count > 1]
    assert set(counts.values()) <= {1, 2} and 0 < len(replayed) <= 500
    assert len(crash_messages) == 2000 + len(replayed)           # every output once, the replayed epoch twice
    assert {key.split(":")[1] for key in replayed} == {"1"}       # only the epoch delivered and never checkpointed
