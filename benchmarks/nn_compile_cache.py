"""Cold against warm ``torch.compile``: what the per-network compile cache saves a rerun.

``nn.train`` trains the digits CNN (examples/nn/digits_cnn.yaml) for one epoch with
``acceleration: {compile: inductor}`` in a new process each time, and the script times the
``train_network`` call (the process start and imports are outside the figure):

* cold: an empty ``TIDAL_COMPILE_CACHE`` (inductor compiles every graph);
* warm: the same cache again, as a rerun of the pipeline would find it;
* eager: ``acceleration: off``, the same epoch without compiling, for reference.

Inductor's precompiled header (shared by every network, kept in its default folder under
``TMPDIR``) is built once before the first round, so cold measures the network's own compilation.
Rounds alternate cold, warm and eager; the table gives medians and warm / cold.

    .venv/bin/python benchmarks/nn_compile_cache.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = """
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
from sklearn.datasets import load_digits
import pandas as pd
from tidal.nn._spec import load_network
from tidal.nn._train import TrainSettings, train_network
digits = load_digits()
frame = pd.DataFrame(digits.data, columns=[f"image_{i}" for i in range(64)])
frame["digit"] = digits.target
acceleration = "off" if sys.argv[1] == "eager" else {"compile": "inductor"}
started = time.perf_counter()
result = train_network(load_network(sys.argv[3]), frame, label="digit", settings=TrainSettings(
    epochs=1, batch_size=64, validation_fraction=0, threads=int(sys.argv[2]), acceleration=acceleration))
print(json.dumps({"seconds": time.perf_counter() - started, "cache": result.acceleration.get("compile_cache")}))
"""


def run(kind: str, cache: Path, tmp: Path, threads: int) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TIDAL_COMPILE_CACHE": str(cache), "TMPDIR": str(tmp)}
    environment.pop("TORCHINDUCTOR_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", TRAIN, kind, str(threads), str(ROOT / "examples/nn/digits_cnn.yaml")],
                          capture_output=True, text=True, env=environment, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tidal-bench-compile-"))
    tmp = scratch / "tmp"
    tmp.mkdir()
    run("cold", scratch / "header-warmup", tmp, options.threads)  # builds inductor's shared precompiled header
    times: dict[str, list[float]] = {"cold": [], "warm": [], "eager": []}
    for index in range(options.rounds):
        cache = scratch / f"cache-{index}"
        cold = run("cold", cache, tmp, options.threads)
        warm = run("warm", cache, tmp, options.threads)
        eager = run("eager", cache, tmp, options.threads)
        assert cold["cache"]["misses"] > 0 and warm["cache"]["misses"] == 0, (cold, warm)
        for name, row in (("cold", cold), ("warm", warm), ("eager", eager)):
            times[name].append(row["seconds"])
        print(f"round {index + 1}: cold {cold['seconds']:.1f} s ({cold['cache']['misses']} graphs compiled), "
              f"warm {warm['seconds']:.1f} s ({warm['cache']['hits']} found), eager {eager['seconds']:.1f} s", flush=True)
    cold_s, warm_s, eager_s = (statistics.median(times[name]) for name in ("cold", "warm", "eager"))
    import torch

    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{options.threads} thread(s), medians of {options.rounds} rounds\n")
    print("| one epoch of the digits CNN, compile: inductor | seconds | vs cold |")
    print("| --- | ---: | ---: |")
    print(f"| cold (empty compile cache) | {cold_s:.1f} | 1.00 |")
    print(f"| warm (the network's cache from the cold run) | {warm_s:.1f} | {warm_s / cold_s:.2f} |")
    print(f"| eager, for reference | {eager_s:.1f} | {eager_s / cold_s:.2f} |")
    print(f"\ncompile time (minus eager): cold {cold_s - eager_s:.1f} s, warm {warm_s - eager_s:.1f} s "
          f"({(warm_s - eager_s) / max(cold_s - eager_s, 1e-9):.0%} of cold)")


if __name__ == "__main__":
    main()
