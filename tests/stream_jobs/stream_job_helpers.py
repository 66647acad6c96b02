"""Helpers for the stream job tests: event data, producing to Kafka, job files, reading part files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def make_events(n: int, seed: int = 0) -> pd.DataFrame:
    """Click-like events: an id, event time (0.01 s apart, a little out of order), a user, 3 features, a 0/1 label."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n) > 0).astype(int)
    ts = np.round(np.arange(n) * 0.01 + rng.uniform(0, 0.05, n), 4)
    return pd.DataFrame({"id": np.arange(n), "ts": ts, "user": rng.integers(0, 4, n), "x1": X[:, 0], "x2": X[:, 1],
                         "x3": X[:, 2], "y": y})


def produce(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 3})
    for index, message in enumerate(messages):
        producer.produce(topic, message, partition=index % 2)
        if index % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def jsonl(frame: pd.DataFrame) -> list[bytes]:
    return [json.dumps(record).encode() for record in frame.to_dict("records")]


def job(name: str, source: dict, steps: list[dict], sinks: list[dict], max_rows: int = 1000) -> dict:
    return {"tidal-stream": 1, "name": name, "source": source, "batch": {"max_rows": max_rows, "poll_seconds": 0.2},
            "steps": steps, "sinks": sinks}


LEARN = {"id": "learn", "component": "stream.learn_ftrl", "params": {"label": "y", "features": ["x1", "x2", "x3"], "snapshot_every": 2000}}
WINDOW = {"id": "window", "component": "stream.window_tumbling",
          "params": {"time": "ts", "size": 5.0, "key": "user", "delay": 0.1, "lateness": 0.0,
                     "aggregations": {"n": "count(*)", "p": "mean(probability)", "clicks": "sum(y)"}}}


def step_with_data(stream, tries: int = 100) -> int:
    """One epoch that read something: a Kafka poll under load may come back empty before the fetch lands."""
    for _ in range(tries):
        count = stream.step()
        if count is not None:
            return count
    raise AssertionError(f"the source gave no rows in {tries} polls")


def read_parts(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*.jsonl"))
    return pd.concat([pd.read_json(p, lines=True) for p in parts], ignore_index=True) if parts else pd.DataFrame()
