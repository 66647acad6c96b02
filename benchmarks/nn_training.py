"""Training steps of ``nn.train`` against a plain PyTorch loop and Lightning Fabric's, on the digits
CNN (examples/nn/digits_cnn.yaml) and a small transformer (examples/nn/sequence_transformer.yaml).

Needs Lightning Fabric, which Tidal itself does not use: ``pip install -e .[bench]`` (or
``.venv/bin/python -m pip install lightning==2.6.6``; use pip, not uv, and check that torch stays
the pinned CPU build).

Every loop starts from the same weights and takes the same batches (see nn_training_peers.py):

* plain PyTorch, float32 and with bf16 autocast around the forward: the reference a user writes;
* Lightning Fabric at ``32-true`` and ``bf16-mixed``;
* Tidal's steps (what ``nn.train`` runs) for each fixed ``acceleration``: eager float32, eager
  bf16 autocast, ``torch.compile`` (inductor) float32 and compile + bf16; the first step's time
  (the compile) is reported apart.

Rounds interleave the loops so that load on the machine hits them alike; each round times
``--steps`` steps after ``--warmup`` untimed ones, by the wall clock and by the process's CPU time.
With one torch thread (``--threads 1``) the CPU time is the work the steps do, and moves much less
than the wall time when other jobs share the machine: the ratios are taken on it, as the median
of per-round ratios (each round's loops ran back to back). The table gives steps per second (wall
and CPU), the ratio to the plain float32 loop, the CPU time per step above the plain loop, the mean
relative gap of the losses to plain float32's over the same steps, and the held-out accuracy after a
fixed budget (``--budget-epochs`` epochs of full batches from the same weights) with its change in
points against plain float32. The wrapper overhead is Tidal's steps and Fabric's against the plain
loop at the same precision.

Before the networks, a probe of per-step overhead: the same loops on a one-layer network (8 -> 4,
batch 16), where a wrapper's own Python work shows as microseconds of CPU time per step (the
minimum over ``--probe-rounds`` rounds, the cost least disturbed by other jobs).

Then whole trainings (``--epochs`` epochs, ``--whole-rounds`` interleaved rounds after one that warms
up): the plain loop and Fabric's from the table to trained weights, against ``train_network`` with no
validation set and no checkpoints (the same work) and with its defaults (a validation set scored
every epoch and the last 5 epochs' weights kept). Last, ``nn.train`` with ``acceleration: auto``
reports its choice, and whether that variant is within 5% of the fastest fixed variant measured
above (among those within 0.5 points of eager float32's accuracy).

    .venv/bin/python benchmarks/nn_training.py [--network cnn,transformer,wide] [--steps 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from nn_training_peers import (  # noqa: E402
    FabricLoop,
    PlainLoop,
    Task,
    TidalLoop,
    accuracy,
    digits_task,
    plain_training,
    restart,
    sequence_task,
)

from tidal.nn import load_network, parse_network  # noqa: E402
from tidal.nn._accelerate import Variant, cpu_facts, first_line  # noqa: E402
from tidal.nn._build import build_module  # noqa: E402
from tidal.nn._train import TrainSettings, train_network  # noqa: E402

EXAMPLES = ROOT.parent / "examples" / "nn"
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
TIDAL_VARIANTS = [
    Variant(None, "fp32"),
    Variant(None, "bf16"),
    Variant("inductor", "fp32"),
    Variant("inductor", "bf16"),
]
#: per network: epochs of the accuracy budget, epochs of the whole trainings
DEFAULT_EPOCHS = {"cnn": (20, 10), "wide": (10, 3), "transformer": (4, 3)}
PLAIN, PLAIN_BF16 = "plain PyTorch fp32", "plain PyTorch + bf16 autocast"
FABRIC, FABRIC_BF16 = "Lightning Fabric 32-true", "Lightning Fabric bf16-mixed"
EAGER, COMPILED_BF16 = "Tidal eager+fp32", "Tidal compile:inductor+bf16"


def machine() -> None:
    import lightning

    facts = cpu_facts()
    described = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in described.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
    print(
        f"machine: {platform.machine()}, {fields.get('Model name', '?').strip()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, torch {torch.__version__}, lightning {lightning.__version__}"
    )
    print(
        "lscpu flags: "
        + ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in wanted)
        + f"; torch CPU capability {facts['capability']}, native bf16 (oneDNN) {facts['bf16_native']}"
    )
    print(f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


def make_task(network: str, rows: int) -> Task:
    if network == "transformer":
        return sequence_task(load_network(EXAMPLES / "sequence_transformer.yaml"), rows, batch=64)
    if network == "wide":
        return digits_task(parse_network(WIDE), "wide", 256, (-1, 64))
    return digits_task(load_network(EXAMPLES / "digits_cnn.yaml"), "cnn", 64, (-1, 1, 8, 8))


def make_loops(task: Task, reference: Any) -> list[Any]:
    def fresh() -> Any:
        return copy.deepcopy(reference).train()

    loops: list[Any] = [
        PlainLoop(fresh(), task.lr),
        PlainLoop(fresh(), task.lr, "bf16"),
        FabricLoop(fresh(), task.lr),
        FabricLoop(fresh(), task.lr, "bf16-mixed"),
    ]
    loops += [TidalLoop(fresh(), task.lr, variant, task.spec) for variant in TIDAL_VARIANTS]
    return loops


def per_round(rates: dict[str, list[float]], name: str, base: str) -> float:
    """The median over rounds of name's rate / base's in the same round: below 1 is slower than base."""
    return statistics.median(
        ours / theirs for ours, theirs in zip(rates[name], rates[base], strict=True)
    )


def clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time (all its threads): with one torch thread the CPU time
    is the work a step does, much less moved by other jobs on the machine than the wall time."""
    return time.perf_counter(), time.process_time()


def steps_table(task: Task, options: Any, threads: int) -> dict[str, Any]:
    torch.manual_seed(0)
    reference = build_module(task.spec)
    start = {key: value.clone() for key, value in reference.state_dict().items()}
    batches = task.batches()
    loops, first = [], {}
    for loop in make_loops(task, reference):
        torch.set_num_threads(threads)  # whatever a wrapper set
        started = time.perf_counter()
        loop.step(*batches[0])
        first[loop.name] = time.perf_counter() - started
        failure = getattr(getattr(loop, "stepper", None), "failure", None)
        if failure:
            print(f"{loop.name}: torch.compile failed ({failure}); left out")
            continue
        loops.append(loop)
    assert torch.get_num_threads() == threads
    wall: dict[str, list[float]] = {loop.name: [] for loop in loops}
    cpu: dict[str, list[float]] = {loop.name: [] for loop in loops}
    losses: dict[str, list[float]] = {}
    shuffler = random.Random(0)
    for round_index in range(options.rounds):
        for loop in shuffler.sample(
            loops, len(loops)
        ):  # a new order each round: no loop always runs first
            restart(loop, start)
            for index in range(options.warmup):
                loop.step(*batches[index % len(batches)])
            wall_start, cpu_start = clocks()
            values = [
                loop.step(*batches[(options.warmup + index) % len(batches)])
                for index in range(options.steps)
            ]
            wall_end, cpu_end = clocks()
            wall[loop.name].append(options.steps / (wall_end - wall_start))
            cpu[loop.name].append(options.steps / (cpu_end - cpu_start))
            if round_index == 0:
                losses[loop.name] = values
    budget_epochs = options.budget_epochs or DEFAULT_EPOCHS[task.name][0]
    budget = [pair for epoch in range(budget_epochs) for pair in task.batches(seed=1 + epoch)]
    accuracies = {}
    for loop in loops:
        restart(loop, start)
        for inputs, target in budget:
            loop.step(inputs, target)
        accuracies[loop.name] = accuracy(loop.module, task.test_inputs, task.test_targets)
    median = {name: statistics.median(values) for name, values in cpu.items()}
    print(
        f"\n{task.name}: {sum(value.numel() for value in reference.parameters()):,} parameters, batch "
        f"{task.batch}, {len(task.inputs)} training rows, {len(task.test_inputs)} held out; "
        f"{options.rounds} rounds of {options.steps} steps; accuracy after {len(budget)} steps "
        f"({budget_epochs} epochs); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| loop | first step | steps/s wall (median) | steps per CPU-second (median) | rounds (CPU) "
        "| vs plain fp32 (CPU, per round) | ms/step over plain fp32 (CPU) | loss gap | held-out accuracy "
        "| vs plain fp32 (points) |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for loop in loops:
        name = loop.name
        gap = np.mean(np.abs(np.subtract(losses[name], losses[PLAIN])) / np.abs(losses[PLAIN]))
        extra = 1000 / median[name] - 1000 / median[PLAIN]
        print(
            f"| {name} | {first[name]:.2f} s | {statistics.median(wall[name]):.1f} | {median[name]:.1f} "
            f"| {', '.join(f'{rate:.0f}' for rate in cpu[name])} | {per_round(cpu, name, PLAIN):.3f}x "
            f"| {extra:+.3f} | {gap:.4f} | {accuracies[name]:.4f} | "
            f"{100 * (accuracies[name] - accuracies[PLAIN]):+.2f} |"
        )
    print(
        "\nwrapper overhead against the plain loop at the same precision (medians of per-round ratios):"
    )
    for name, base in (
        (EAGER, PLAIN),
        (FABRIC, PLAIN),
        ("Tidal eager+bf16", PLAIN_BF16),
        (FABRIC_BF16, PLAIN_BF16),
    ):
        if name in cpu:
            ratio, wall_ratio = per_round(cpu, name, base), per_round(wall, name, base)
            print(
                f"  {name}: {ratio:.3f}x of {base}'s steps per CPU-second ({100 * (1 / ratio - 1):+.1f}% "
                f"CPU time per step); wall {wall_ratio:.3f}x"
            )
    return {"rates": median, "raw": cpu, "accuracy": accuracies, "reference": reference}


def whole_trainings(task: Task, options: Any, reference: Any) -> None:
    epochs = options.epochs or DEFAULT_EPOCHS[task.name][1]
    common = dict(
        epochs=epochs,
        batch_size=task.batch,
        optimizer="adamw",
        lr=task.lr,
        weight_decay=0.01,
        threads=options.threads,
    )
    same = TrainSettings(validation_fraction=0.0, keep_checkpoints=0, **common)
    defaults = TrainSettings(**common)
    runs = {
        "plain PyTorch fp32 loop": lambda: plain_training(
            task, copy.deepcopy(reference).train(), epochs
        ),
        "Lightning Fabric 32-true loop": lambda: plain_training(
            task, copy.deepcopy(reference).train(), epochs, True
        ),
        "train_network, no validation, no checkpoints": lambda: train_network(
            task.spec, task.train, label="target", settings=same
        ),
        "train_network, its defaults (10% validation, 5 checkpoints)": lambda: train_network(
            task.spec, task.train, label="target", settings=defaults
        ),
    }
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(options.whole_rounds + 1):  # round 0 warms up (imports, first allocations)
        for name, run in runs.items():
            torch.set_num_threads(options.threads)
            wall_start, cpu_start = clocks()
            run()
            wall_end, cpu_end = clocks()
            if index:
                wall[name].append(wall_end - wall_start)
                cpu[name].append(cpu_end - cpu_start)
    print(
        f"\nwhole trainings, {epochs} epochs of {task.name} (table to trained weights), "
        f"{options.whole_rounds} interleaved rounds after one to warm up; load average {os.getloadavg()[0]:.1f}:"
    )
    print(
        "| training | wall seconds (median) | CPU seconds (median) | rounds (CPU) "
        "| time vs plain loop (CPU, per round) | time vs plain loop (wall, per round) |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    base = "plain PyTorch fp32 loop"
    for name in runs:
        print(
            f"| {name} | {statistics.median(wall[name]):.2f} | {statistics.median(cpu[name]):.2f} "
            f"| {', '.join(f'{value:.2f}' for value in cpu[name])} | {per_round(cpu, name, base):.3f}x "
            f"| {per_round(wall, name, base):.3f}x |"
        )


def auto_choice(task: Task, options: Any, measured: dict[str, Any]) -> dict[str, Any]:
    epochs = options.epochs or DEFAULT_EPOCHS[task.name][1]
    settings = TrainSettings(
        epochs=epochs,
        batch_size=task.batch,
        optimizer="adamw",
        lr=task.lr,
        weight_decay=0.01,
        validation_fraction=0.0,
        keep_checkpoints=0,
        threads=options.threads,
        acceleration="auto",
    )
    started = time.perf_counter()
    result = train_network(task.spec, task.train, label="target", settings=settings)
    seconds = time.perf_counter() - started
    used = f"Tidal {result.acceleration['used']}"
    print(
        f"\nnn.train acceleration auto ({epochs} epochs, {seconds:.1f} s with measuring and compiling) chose {used}"
        + (f" ({result.acceleration['fallback']})" if "fallback" in result.acceleration else "")
    )
    for row in result.acceleration["candidates"]:
        print(
            f"  {row['candidate']}: {row['steps_per_second']} steps/s over {result.acceleration['measured_steps']} steps, "
            f"loss gap {row['loss_gap']}, kept {row['kept']}, chosen {row['chosen']} {row['note']}"
        )
    rates, accuracies = measured["rates"], measured["accuracy"]
    fixed = [
        f"Tidal {variant.name}" for variant in TIDAL_VARIANTS if f"Tidal {variant.name}" in rates
    ]
    fair = [name for name in fixed if accuracies[name] >= accuracies[EAGER] - 0.005]
    best = max(fair, key=lambda name: rates[name])
    share = rates.get(used, float("nan")) / rates[best]
    print(
        f"  the best fixed variant within 0.5 pt of eager's accuracy is {best} ({rates[best]:.1f} steps/s); "
        f"auto's pick runs {share:.3f}x of it: {'within' if share >= 0.95 else 'NOT within'} 5%"
    )
    return {"used": used, "best": best, "share": share}


def overhead_probe(options: Any) -> dict[str, float]:
    """Each loop's CPU time per step on a network too small to hide anything (one linear layer,
    8 -> 4, batch 16): what a wrapper adds around the step shows up as microseconds. The minimum
    over rounds is the cost with the least interference from other jobs; the median is also given."""
    inputs, target = torch.randn(16, 8), torch.randint(0, 4, (16,))

    def tiny() -> Any:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(8, 4))

    loops: list[Any] = [
        PlainLoop(tiny(), 1e-3),
        FabricLoop(tiny(), 1e-3),
        TidalLoop(tiny(), 1e-3, Variant()),
        PlainLoop(tiny(), 1e-3, "bf16"),
        FabricLoop(tiny(), 1e-3, "bf16-mixed"),
        TidalLoop(tiny(), 1e-3, Variant(None, "bf16")),
    ]
    torch.set_num_threads(options.threads)
    micro: dict[str, list[float]] = {loop.name: [] for loop in loops}
    shuffler = random.Random(1)
    for _ in range(options.probe_rounds):
        for loop in shuffler.sample(loops, len(loops)):
            for _ in range(20):
                loop.step(inputs, target)
            started = time.process_time()
            for _ in range(200):
                loop.step(inputs, target)
            micro[loop.name].append((time.process_time() - started) / 200 * 1e6)
    least = {name: min(values) for name, values in micro.items()}
    print(
        f"\nper-step overhead on a one-layer network (8 -> 4, batch 16), CPU microseconds per step, "
        f"{options.probe_rounds} interleaved rounds of 200 steps; load average {os.getloadavg()[0]:.1f}:"
    )
    print("| loop | minimum | median | minimum over the plain loop at its precision |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in micro.items():
        base = PLAIN if "fp32" in name or "32-true" in name else PLAIN_BF16
        print(
            f"| {name} | {least[name]:.1f} | {statistics.median(values):.1f} | {least[name] - least[base]:+.1f} |"
        )
    return least


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--network", default="cnn,transformer", help="comma-separated: cnn, transformer, wide"
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--budget-epochs", type=int, default=0, help="epochs before the accuracy (0: per network)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=0,
        help="epochs of the whole trainings and auto's (0: per network)",
    )
    parser.add_argument("--whole-rounds", type=int, default=3)
    parser.add_argument(
        "--probe-rounds", type=int, default=15, help="rounds of the one-layer overhead probe"
    )
    parser.add_argument("--rows", type=int, default=4000, help="training rows of the sequence set")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    machine()
    print(f"threads {options.threads}")
    least = overhead_probe(options)
    verdicts = [
        f"per-step overhead over the plain loop (one-layer probe, minimum CPU time): Tidal "
        f"{least[EAGER] - least[PLAIN]:+.1f} us, Fabric {least[FABRIC] - least[PLAIN]:+.1f} us at fp32; "
        f"Tidal {least['Tidal eager+bf16'] - least[PLAIN_BF16]:+.1f} us, Fabric "
        f"{least[FABRIC_BF16] - least[PLAIN_BF16]:+.1f} us with bf16 (goal Tidal's <= Fabric's: "
        f"{'met' if least[EAGER] <= least[FABRIC] and least['Tidal eager+bf16'] <= least[FABRIC_BF16] else 'not met'})"
    ]
    for network in options.network.split(","):
        task = make_task(network.strip(), options.rows)
        measured = steps_table(task, options, options.threads)
        whole_trainings(task, options, measured["reference"])
        auto = auto_choice(task, options, measured)
        rates, accuracies = measured["rates"], measured["accuracy"]
        if COMPILED_BF16 in rates:
            speedup = rates[COMPILED_BF16] / rates[EAGER]
            loss = 100 * (accuracies[EAGER] - accuracies[COMPILED_BF16])
            verdicts.append(
                f"{task.name}: compile+bf16 {speedup:.2f}x eager fp32 at {loss:+.2f} pt accuracy loss "
                f"(goal >= 1.3x at <= 0.5 pt: {'met' if speedup >= 1.3 and loss <= 0.5 else 'not met'})"
            )
        verdicts.append(
            f"{task.name}: auto chose {auto['used']}, {auto['share']:.3f}x of {auto['best']} "
            f"(goal within 5%: {'met' if auto['share'] >= 0.95 else 'not met'})"
        )
        tidal, fabric = (
            per_round(measured["raw"], EAGER, PLAIN),
            per_round(measured["raw"], FABRIC, PLAIN),
        )
        verdicts.append(
            f"{task.name}: steps/s vs the plain loop, Tidal {tidal:.3f}x, Fabric {fabric:.3f}x "
            f"(goal Tidal's overhead <= Fabric's: {'met' if tidal >= fabric else 'not met'})"
        )
    print(f"\nload average at the end {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print("\n".join(verdicts))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a benchmark run reports what broke, on one line
        print(first_line(error))
        raise
