"""Data-parallel training on this CPU: one process with T threads against T gloo processes of one thread.

``nn.train`` trains a network on scikit-learn's digits (1,797 rows, 64 pixel columns) the same way
three times per round: ``acceleration: off`` with one thread, ``off`` with ``--processes`` threads, and
``{parallel: ddp, processes: P}`` with one thread per process. The figure is the whole
``train_network`` call, process start-up of the DDP processes included (that is what a user
waits for), and the per-epoch time once they run (from the history). Medians over rounds.

    .venv/bin/python benchmarks/nn_parallel.py [--network wide|cnn] [--epochs 5] [--rounds 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

WIDE = {"tidal-nn": 1, "name": "wide-mlp", "inputs": {"x": {"shape": ["batch", 64]}}, "layers": [
    {"id": "fc1", "kind": "linear", "inputs": ["x"], "params": {"out_features": 1024}},
    {"id": "act1", "kind": "relu", "inputs": ["fc1"]},
    {"id": "fc2", "kind": "linear", "inputs": ["act1"], "params": {"out_features": 1024}},
    {"id": "act2", "kind": "relu", "inputs": ["fc2"]},
    {"id": "head", "kind": "linear", "inputs": ["act2"], "params": {"out_features": 10}}], "outputs": {"logits": "head"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=["wide", "cnn"], default="wide")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    options = parser.parse_args()

    import pandas as pd
    import torch
    from sklearn.datasets import load_digits

    from tidal.nn._spec import NetworkSpec, load_network
    from tidal.nn._train import TrainSettings, train_network

    digits = load_digits()
    columns = [f"image_{i}" for i in range(64)] if options.network == "cnn" else [f"x_{i}" for i in range(64)]
    frame = pd.DataFrame(digits.data, columns=columns)
    frame["digit"] = digits.target
    spec = load_network(ROOT / "examples/nn/digits_cnn.yaml") if options.network == "cnn" else NetworkSpec.from_dict(WIDE)
    variants = {
        "off, 1 thread": {"threads": 1, "acceleration": "off"},
        f"off, {options.processes} threads": {"threads": options.processes, "acceleration": "off"},
        f"ddp, {options.processes} processes x 1 thread": {"threads": 1,
                                                          "acceleration": {"parallel": "ddp", "processes": options.processes}},
    }
    totals: dict[str, list[float]] = {name: [] for name in variants}
    accuracy: dict[str, float] = {}
    for index in range(options.rounds):
        for name, settings in variants.items():
            started = time.perf_counter()
            result = train_network(spec, frame, label="digit", settings=TrainSettings(
                epochs=options.epochs, batch_size=options.batch_size, lr=0.01, **settings))
            totals[name].append(time.perf_counter() - started)
            accuracy[name] = result.history[-1].get("val_accuracy", float("nan"))
        print(f"round {index + 1}: " + ", ".join(f"{name} {values[-1]:.1f} s" for name, values in totals.items()), flush=True)
    base = statistics.median(totals["off, 1 thread"])
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"capability {torch.backends.cpu.get_cpu_capability()}; network {options.network}, {options.epochs} epochs, "
          f"batch {options.batch_size}, medians of {options.rounds} rounds\n")
    print("| variant | seconds | speed vs 1 thread | validation accuracy |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in totals.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {base / median:.2f}x | {accuracy[name]:.3f} |")


if __name__ == "__main__":
    main()
