"""Per-node overhead of the Ray executor: 500 independent no-op nodes through ``tidal.run(executor="ray")``
against the same number of no-op Ray tasks called directly on the same local Ray, with the local
executor (worker processes) for reference.

    nice -n 10 python benchmarks/ray_executor/bench.py [--nodes 500] [--repeats 3] [--cpus 2] [--folder DIR]

Per-node figures for Tidal are beyond a 1-node run of the same executor (start-up and the first
worker's imports excluded), as in ``benchmarks/core_overhead.py``. Ray starts once, here; both sides
run on it, interleaved.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = HERE.parent
sys.path.insert(0, str(BENCHMARKS))
os.environ["TIDAL_PLUGINS"] = "noop_components"  # bench.start / bench.noop; Ray's workers inherit this
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCHMARKS), os.environ.get("PYTHONPATH", "")]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a Ray on this machine only, for this process


def machine() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    shown = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if flag in flags]
    model = fields.get("Model name", platform.processor()).strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{model}; {os.cpu_count()} cores; flags {' '.join(shown) or 'none of avx2/avx512'}; "
            f"Python {platform.python_version()}; load average {load:.1f} at start")


def fan_out(nodes: int):  # noqa: ANN201 - a tidal.Pipeline
    import tidal

    pipeline = tidal.Pipeline(f"fan-{nodes}")
    pipeline.add("bench.start", "start")
    for index in range(nodes):
        pipeline.add("bench.noop", f"n{index}", inputs={"previous": "start"}, params={"step": index})
    return pipeline


def tidal_run(folder: Path, nodes: int, **options: object) -> float:
    import tidal

    pipeline = fan_out(nodes)
    started = time.perf_counter()
    result = tidal.run(pipeline, workspace=folder, cache=False, **options)
    elapsed = time.perf_counter() - started
    assert result.ok, result.run.error
    return elapsed


def ray_direct(nodes: int) -> float:
    import ray

    @ray.remote
    def noop(value: int, step: int) -> int:
        return value + step

    started = time.perf_counter()
    assert sum(ray.get([noop.remote(0, index) for index in range(nodes)])) == nodes * (nodes - 1) // 2
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the workspaces go (default: a temporary folder); each node writes two files, so "
                             "the file system's cost of creating one is part of the figure")
    args = parser.parse_args()
    import ray

    print(f"machine: {machine()}")
    started = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print(f"ray {ray.__version__}: local Ray with {args.cpus} CPUs started in {time.perf_counter() - started:.1f}s")
    variants = {
        "tidal, ray executor (nodes in flight = CPUs)": {"executor": "ray", "workers": args.cpus},
        "tidal, ray executor (default: 4 in flight per CPU)": {"executor": "ray"},
        "tidal, ray executor (32 nodes in flight)": {"executor": "ray", "workers": 32},
        f"tidal, local executor ({args.cpus} worker processes)": {"executor": "local", "workers": args.cpus},
    }
    totals: dict[str, list[float]] = {name: [] for name in [*variants, "ray tasks called directly"]}
    per_node: dict[str, list[float]] = {name: [] for name in totals}
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
    print(f"workspaces under {args.folder or tempfile.gettempdir()}")
    with tempfile.TemporaryDirectory(dir=args.folder) as scratch:
        for options in variants.values():  # warm: workspace schema, imports, Ray workers
            tidal_run(Path(scratch) / "warm", 2, **options)
        ray_direct(args.nodes)
        for round_ in range(args.repeats):  # interleaved, so the machine's load hits every side alike
            for index, (name, options) in enumerate(variants.items()):
                folder = Path(scratch) / f"r{round_}-{index}"
                small = tidal_run(folder, 1, **options)
                full = tidal_run(folder, args.nodes, **options)
                totals[name].append(full)
                per_node[name].append((full - small) / (args.nodes - 1) * 1000)
            elapsed = ray_direct(args.nodes)
            totals["ray tasks called directly"].append(elapsed)
            per_node["ray tasks called directly"].append(elapsed / args.nodes * 1000)
    ray.shutdown()
    direct = statistics.median(per_node["ray tasks called directly"])
    print(f"\n{args.nodes} independent no-op nodes, medians of {args.repeats} interleaved rounds (measured under load "
          "where the load average above is high)\n")
    print("| variant | total (s) | ms per node | × direct Ray tasks |")
    print("| --- | ---: | ---: | ---: |")
    for name in totals:
        value = statistics.median(per_node[name])
        print(f"| {name} | {statistics.median(totals[name]):.2f} | {value:.2f} | {value / direct:.1f} |")
    print(f"\nall rounds, ms per node: { {name: [round(v, 2) for v in values] for name, values in per_node.items()} }")


if __name__ == "__main__":
    main()
