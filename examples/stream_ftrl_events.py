"""Click events for examples/stream_ftrl.yaml: a history table for the batch model, and a stream to a Kafka topic.

The stream's clicks follow other weights than the history's (the users changed), so FTRL, warm-started
from the batch model, has something to learn, and each accepted snapshot is a better model. The
data are the same on every run (fixed seeds).

::

    python examples/stream_ftrl_events.py history examples/data/clicks_history.csv
    python examples/stream_ftrl_events.py produce --bootstrap 127.0.0.1:9092 --topic clicks [--rows 6000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HISTORY_WEIGHTS, HISTORY_BIAS = np.array([1.0, -2.0, 0.5]), 0.0
STREAM_WEIGHTS, STREAM_BIAS = np.array([2.0, -1.0, 1.5]), -0.5


def clicks(rows: int, *, seed: int, weights: np.ndarray, bias: float, start: int = 0) -> pd.DataFrame:
    """``rows`` events: an id, three numeric features and a 0/1 ``clicked`` drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    features = np.round(rng.normal(size=(rows, 3)), 3)
    chance = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    clicked = (rng.uniform(size=rows) < chance).astype(int)
    return pd.DataFrame({"id": np.arange(start, start + rows), "x1": features[:, 0], "x2": features[:, 1],
                         "x3": features[:, 2], "clicked": clicked})


def history(rows: int = 1000) -> pd.DataFrame:
    return clicks(rows, seed=1, weights=HISTORY_WEIGHTS, bias=HISTORY_BIAS).drop(columns="id")


def stream(rows: int = 6000) -> pd.DataFrame:
    return clicks(rows, seed=2, weights=STREAM_WEIGHTS, bias=STREAM_BIAS)


def messages(frame: pd.DataFrame) -> list[bytes]:
    """One JSON object per event, as the job's Kafka source reads them."""
    return [json.dumps(record).encode() for record in frame.to_dict("records")]


def produce(bootstrap: str, topic: str, frame: pd.DataFrame) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 3})
    for message in messages(frame):
        producer.produce(topic, message)
        producer.poll(0)
    left = producer.flush(30)
    if left:
        raise SystemExit(f"{left} events were not delivered to {topic} at {bootstrap}; is Kafka running there?")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("history", help="write the history table (CSV) the batch model learns from")
    write.add_argument("path", type=Path)
    write.add_argument("--rows", type=int, default=1000)
    send = commands.add_parser("produce", help="send the stream of events to a Kafka topic")
    send.add_argument("--bootstrap", default="127.0.0.1:9092")
    send.add_argument("--topic", default="clicks")
    send.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args(argv)
    if args.command == "history":
        history(args.rows).to_csv(args.path, index=False)
    else:
        produce(args.bootstrap, args.topic, stream(args.rows))
        print(f"sent {args.rows} events to {args.topic} at {args.bootstrap}", file=sys.stderr)


if __name__ == "__main__":
    main()
