"""End-to-end ingest through the Kafka mock broker: a Tidal stream job (tumbling window + FTRL) beside a River loop.

Run: ``PYTHONPATH=src nice -n 10 python benchmarks/stream_ingest.py [--events 100000] [--repeats 3] [--batch 20000]``

The data: ``--events`` JSON messages ``{"id", "ts", "user", "x1".."x5", "y"}`` (ts 1 ms apart,
8 users, the label Bernoulli(sigmoid(x·w))), produced once to a four-partition topic of
librdkafka's mock cluster (``test.mock.num.brokers``), a real broker on loopback started by this
script. Both sides read the whole topic from offset 0 with their own consumer.

- Tidal: ``StreamJob`` with a Kafka source, steps ``stream.learn_ftrl`` (score then learn, batch
  mode) and ``stream.window_tumbling`` (1 s windows per user: count, mean probability, clicks),
  a JSON Lines sink for the windows, and the exactly-once machinery on: an intent and a
  checksummed, fsynced checkpoint per micro-batch of ``--batch`` messages.
- River: a consumer loop, ``json.loads`` per message, ``LogisticRegression(FTRLProximal)``
  ``predict_proba_one`` then ``learn_one``, and a dict of per-(user, window) counters; no
  checkpoint (River has none to take).

Events/s = events / wall time from opening the consumer to the last event processed (median of
``--repeats``). Same FTRL settings both sides (alpha 0.1, beta 1, l1 0, l2 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FEATURES = [f"x{i}" for i in range(1, 6)]
#: the mock cluster's auto-created topics have 4 partitions, each keeping about 5 MB (~30k of these messages)
PARTITIONS = 4
FTRL = {"alpha": 0.1, "beta": 1.0, "l1": 0.0, "l2": 1.0}


def produce(bootstrap: str, topic: str, events: int) -> None:
    from confluent_kafka import Producer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(events, len(FEATURES)))
    w = rng.normal(size=len(FEATURES))
    y = (rng.random(events) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
    users = rng.integers(0, 8, events)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000, "log_level": 3})
    for i in range(events):
        record = {"id": i, "ts": i / 1000, "user": int(users[i]), **{f: float(X[i, j]) for j, f in enumerate(FEATURES)}, "y": int(y[i])}
        producer.produce(topic, json.dumps(record).encode(), partition=i % PARTITIONS)
        if i % 20000 == 0:
            producer.poll(0)
    producer.flush(60)
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "log_level": 3})
    for partition in range(PARTITIONS):
        low, high = probe.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if low != 0:  # the mock broker keeps about 5 MB per partition and drops the oldest beyond that
            raise SystemExit(f"the mock broker dropped the first {low} messages of partition {partition}: use fewer --events")
    probe.close()


def run_tidal(bootstrap: str, topic: str, events: int, batch: int) -> float:
    from tidal.stream._job_spec import parse
    from tidal.stream._runner import StreamJob
    from tidal.stream._sources import KafkaSource  # noqa: F401 - imports paid before the clock starts

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / ".tidal").mkdir()
        spec = parse({"tidal-stream": 1, "name": "bench", "source": {"kind": "kafka", "bootstrap": bootstrap, "topic": topic},
                      "batch": {"max_rows": batch, "poll_seconds": 0.5},
                      "steps": [{"id": "learn", "component": "stream.learn_ftrl", "params": {"label": "y", "features": FEATURES, **FTRL}},
                                {"id": "window", "component": "stream.window_tumbling", "params": {
                                    "time": "ts", "size": 1.0, "key": "user", "delay": 0.05,
                                    "aggregations": {"n": "count(*)", "p": "mean(probability)", "clicks": "sum(y)"}}}],
                      "sinks": [{"kind": "files", "path": "out"}]}, root)
        started = time.perf_counter()
        job = StreamJob(spec)
        while job.rows < events:
            if job.step() is None:
                raise RuntimeError("the topic ran dry before every event was read")
        elapsed = time.perf_counter() - started
        job.close()
        assert job.rows == events
    return events / elapsed


def run_river(bootstrap: str, topic: str, events: int) -> float:
    from confluent_kafka import Consumer, TopicPartition
    from river import linear_model, optim

    started = time.perf_counter()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "river-bench", "enable.auto.commit": False, "log_level": 3})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    model = linear_model.LogisticRegression(optimizer=optim.FTRLProximal(**FTRL))
    windows: dict[tuple[int, float], list[float]] = {}
    seen = 0
    while seen < events:
        for message in consumer.consume(num_messages=10000, timeout=1.0):
            if message.error():
                continue
            record = json.loads(message.value())
            x = {f: record[f] for f in FEATURES}
            p = model.predict_proba_one(x).get(True, 0.5)
            model.learn_one(x, bool(record["y"]))
            acc = windows.setdefault((record["user"], float(int(record["ts"]))), [0.0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += p
            acc[2] += record["y"]
            seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return events / elapsed


def machine() -> str:
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name")), platform.processor())
        flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("Flags")), [])
        wanted = [f for f in ("avx2", "avx512f", "fma") if f in flags]
    except OSError:
        model, wanted = platform.processor(), []
    return f"{model}, {os.cpu_count()} CPUs, {' '.join(wanted)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()
    import confluent_kafka

    host = confluent_kafka.Producer({"test.mock.num.brokers": 1, "log_level": 3})
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in host.list_topics(timeout=10).brokers.values())
    print(f"machine: {machine()}; load average before: {os.getloadavg()}")
    produce(bootstrap, "events", args.events)
    tidal = [run_tidal(bootstrap, "events", args.events, args.batch) for _ in range(args.repeats)]
    river = [run_river(bootstrap, "events", args.events) for _ in range(args.repeats)]
    print(f"load average after: {os.getloadavg()}")
    print(f"confluent-kafka {confluent_kafka.version()[0]}, librdkafka {confluent_kafka.libversion()[0]}")
    print("| side | events | events/s (median) | runs | x River |")
    print("| --- | ---: | ---: | --- | ---: |")
    print(f"| Tidal stream job: learn_ftrl + window_tumbling, checkpoint per {args.batch:,} | {args.events:,} | "
          f"{median(tidal):,.0f} | {', '.join(f'{v:,.0f}' for v in tidal)} | {median(tidal) / median(river):.1f} |")
    print(f"| River loop: FTRL learn_one + dict windows | {args.events:,} | {median(river):,.0f} | "
          f"{', '.join(f'{v:,.0f}' for v in river)} | 1.0 |")


if __name__ == "__main__":
    main()
