"""Training steps of the digits CNN (examples/nn/digits_cnn.yaml) four ways: what ``nn.train``'s
``acceleration: auto`` chooses between, measured longer than ``auto`` does.

* eager float32 (``acceleration: off``), the reference;
* eager with bf16 autocast (``{precision: bf16}``);
* ``torch.compile`` with inductor, float32 (``{compile: true}``), its compile time reported apart;
* ``torch.compile`` with bf16 autocast.

Each variant starts from the same weights and takes the same batches (batch 64 of the digits
training split, standardized as ``nn.train`` does). Rounds interleave the variants so that load on
the machine hits them alike; each round times ``--steps`` steps after ``--warmup`` untimed ones;
the table gives the median round's steps per second and the ratio to eager float32, and the mean
relative gap of each variant's losses to eager float32's over the same steps (``auto`` keeps a
variant within 5%). Last, ``nn.train`` with ``acceleration: auto`` on the same data reports its
choice, and the held-out accuracy after 20 epochs with eager float32 and with the chosen variant.

With ``--network wide`` the same runs use a wide MLP (64 -> 2048 -> 2048 -> 10, batch 256), where
matrix products dominate a step and bf16 and compiled kernels have room to pay off.

    .venv/bin/python benchmarks/nn_training.py [--network cnn|wide] [--steps 50] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from tidal.components.data import split  # noqa: E402
from tidal.components.io_datasets import dataset  # noqa: E402
from tidal.nn import load_network, parse_network  # noqa: E402
from tidal.nn._accelerate import Stepper, Variant, cpu_facts, first_line  # noqa: E402
from tidal.nn._build import build_module  # noqa: E402
from tidal.nn._train import TrainSettings, train_network  # noqa: E402

WIDE = """
tidal-nn: 1
name: wide-mlp
inputs: {pixels: {shape: [batch, 64]}}
layers:
  - {id: fc1, kind: linear, inputs: [pixels], params: {out_features: 2048}}
  - {id: act1, kind: relu, inputs: [fc1]}
  - {id: fc2, kind: linear, inputs: [act1], params: {out_features: 2048}}
  - {id: act2, kind: relu, inputs: [fc2]}
  - {id: head, kind: linear, inputs: [act2], params: {out_features: 10}}
outputs: {logits: head}
"""
VARIANTS = [Variant(None, "fp32"), Variant(None, "bf16"), Variant("inductor", "fp32"), Variant("inductor", "bf16")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--network", choices=("cnn", "wide"), default="cnn")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    facts = cpu_facts()
    print(f"network: {options.network}; machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"capability {facts['capability']}, bf16 flags {facts['bf16_flags'] or 'none'}, threads {options.threads}, "
          f"load average {os.getloadavg()[0]:.1f}")
    parts = split(dataset(name="digits"), fraction=0.8, seed=42, stratify="target")
    train, test = parts.train, parts.test
    columns = [name for name in train.columns if name != "target"]
    matrix = train[columns].to_numpy(dtype=np.float64)
    spread = matrix.std(axis=0)
    wide = options.network == "wide"
    batch = 256 if wide else 64
    shape = (-1, 64) if wide else (-1, 1, 8, 8)
    inputs = torch.from_numpy(((matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)).astype(np.float32)).reshape(*shape)
    targets = torch.from_numpy(train["target"].to_numpy(dtype=np.int64).copy())
    spec = parse_network(WIDE) if wide else load_network(ROOT / "examples" / "nn" / "digits_cnn.yaml")
    torch.manual_seed(0)
    reference = build_module(spec)
    batches = [(inputs[start: start + batch], targets[start: start + batch]) for start in range(0, len(inputs) - batch + 1, batch)]

    def loss(output, target):
        return torch.nn.functional.cross_entropy(output, target)

    steppers = {}
    compile_seconds = {}
    for variant in VARIANTS:
        module = copy.deepcopy(reference).train()
        stepper = Stepper(module, torch.optim.AdamW(module.parameters(), lr=3e-3), loss, variant, lambda out: out)
        started = time.perf_counter()
        stepper.step(*batches[0])
        compile_seconds[variant.name] = time.perf_counter() - started
        if stepper.failure:
            print(f"{variant.name}: torch.compile failed ({stepper.failure}); left out")
            continue
        steppers[variant.name] = stepper
    rates: dict[str, list[float]] = {name: [] for name in steppers}
    losses: dict[str, list[float]] = {name: [] for name in steppers}
    for round_index in range(options.rounds):
        for name, stepper in steppers.items():
            stepper.module.load_state_dict(reference.state_dict())
            stepper.optimizer = torch.optim.AdamW(stepper.module.parameters(), lr=3e-3)
            for index in range(options.warmup):
                stepper.step(*batches[index % len(batches)])
            started = time.perf_counter()
            values = [stepper.step(*batches[(options.warmup + index) % len(batches)]) for index in range(options.steps)]
            rates[name].append(options.steps / (time.perf_counter() - started))
            if round_index == 0:
                losses[name] = values
    base = statistics.median(rates["eager+fp32"])
    print("\n| variant | first step (compile) | steps/s (median) | rounds | vs eager fp32 | loss gap to eager fp32 |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for name in steppers:
        gap = np.mean(np.abs(np.subtract(losses[name], losses["eager+fp32"])) / np.abs(losses["eager+fp32"]))
        print(f"| {name} | {compile_seconds[name]:.2f} s | {statistics.median(rates[name]):.1f} | "
              f"{', '.join(f'{rate:.0f}' for rate in rates[name])} | {statistics.median(rates[name]) / base:.2f}x | {gap:.4f} |")

    settings = dict(epochs=options.epochs, batch_size=batch, optimizer="adamw", lr=3e-3, weight_decay=1e-4, schedule="cosine",
                    threads=options.threads)
    started = time.perf_counter()
    auto = train_network(spec, train, label="target", settings=TrainSettings(acceleration="auto", **settings))
    auto_seconds = time.perf_counter() - started
    started = time.perf_counter()
    eager = train_network(spec, train, label="target", settings=TrainSettings(**settings))
    eager_seconds = time.perf_counter() - started
    print(f"\nnn.train acceleration auto chose {auto.acceleration['used']}"
          + (f" ({auto.acceleration['fallback']})" if "fallback" in auto.acceleration else ""))
    for row in auto.acceleration["candidates"]:
        print(f"  {row['candidate']}: {row['steps_per_second']} steps/s, loss gap {row['loss_gap']}, kept {row['kept']} {row['note']}")
    for name, result, seconds in (("off (eager fp32)", eager, eager_seconds), ("auto", auto, auto_seconds)):
        accuracy = float((result.package.predict(test) == test["target"].to_numpy()).mean())
        print(f"{name}: {options.epochs} epochs in {seconds:.1f} s (auto: measuring and compiling included), "
              f"held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a benchmark run reports what broke, on one line
        print(first_line(error))
        raise
