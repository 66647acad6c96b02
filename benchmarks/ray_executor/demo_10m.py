"""The demo pipeline (read -> split -> logistic regression -> predict -> evaluate) on 10M rows: the local
executor against the Ray executor on a two-node Ray cluster on this machine, with the plain scikit-learn
script as the floor.

    nice -n 10 python benchmarks/ray_executor/demo_10m.py [--rows 10000000] [--rounds 1]

The data is 10M rows x 30 float features and a 0/1 label, in one Parquet file (Parquet rather than the
demo's CSV: a 5.8 GB CSV would measure the disk). Each variant is a fresh process, so each pays its
interpreter start and imports:

- ``plain``: pandas + scikit-learn, the same steps (``python plain.py``);
- ``local``: ``tidal run bench.yaml --no-cache --workers 2``;
- ``ray``: a process that connects to the cluster (``ray start --head --num-cpus 1`` plus one
  ``ray start --address`` node with one CPU) and calls ``tidal.run(..., executor="ray", cache=False)``;
  its artifacts stay in the workspace's folder, which both nodes share (they run on this machine).

All three must give the same AUC. Rounds alternate the variants.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench import machine  # noqa: E402

RAY = str(Path(sys.executable).parent / "ray")
FEATURES = 30

PLAIN = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

frame = pd.read_parquet("data.parquet")
train, test = train_test_split(frame, train_size=0.8, random_state=42)
features = [name for name in frame.columns if name != "label"]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
model.fit(train[features], train["label"])
print(roc_auc_score(test["label"], model.predict_proba(test[features])[:, 1]))
"""

PIPELINE = """
tidal: 1
name: demo-10m
nodes:
  - {id: read, component: io.read_parquet, params: {path: data.parquet}}
  - {id: split, component: data.split, inputs: {data: read}, params: {fraction: 0.8, seed: 42}}
  - {id: train, component: classification.logistic_regression, inputs: {data: split.train}, params: {label: label}}
  - {id: score, component: model.predict, inputs: {model: train, data: split.test}}
  - {id: eval, component: evaluation.binary_classification, inputs: {data: score}, params: {label: label}}
"""

RAY_DRIVER = """
import json, sys, ray, tidal
ray.init(address=sys.argv[1], log_to_driver=False)
result = tidal.run("bench.yaml", executor="ray", cache=False)
assert result.ok, result.error
print(json.dumps({"auc": result.metrics("eval")["auc"]}))
"""


def make_data(folder: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    weights = rng.normal(size=FEATURES)
    writer = None
    for start in range(0, rows, 1_000_000):  # in chunks: the whole table never sits in memory twice
        count = min(1_000_000, rows - start)
        X = rng.normal(size=(count, FEATURES))
        label = (X @ weights + rng.normal(scale=4.0, size=count) > 0).astype("int64")
        table = pa.table({**{f"f{i}": X[:, i] for i in range(FEATURES)}, "label": label})
        writer = writer or pq.ParquetWriter(folder / "data.parquet", table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def timed(command: list[str], folder: Path, environment: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    text = done.stdout.strip()
    if text.startswith("{"):  # tidal run --json, or the Ray driver's line
        found = json.loads(text)
        auc = found["nodes"]["eval"]["metrics"]["auc"] if "nodes" in found else found["auc"]
    else:
        auc = float(text.splitlines()[-1])
    return elapsed, float(auc)


def ray_start(arguments: list[str], folder: Path, name: str) -> subprocess.Popen[str]:
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 - open while the node runs
    process = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *arguments], stdout=log,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 180
    while "Ray runtime started" not in (folder / f"{name}.log").read_text():
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError((folder / f"{name}.log").read_text()[-3000:])
        time.sleep(0.5)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    environment = {**os.environ, "RAY_AUTH_MODE": "disabled", "TIDAL_PLAN_MEMO": "0"}
    with tempfile.TemporaryDirectory(prefix="tidal-10m-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        make_data(folder, args.rows)
        size = (folder / "data.parquet").stat().st_size / 2**30
        print(f"data: {args.rows:,} rows x {FEATURES} features, {size:.2f} GiB Parquet, in {time.perf_counter() - started:.0f} s")
        (folder / "plain.py").write_text(PLAIN)
        (folder / "bench.yaml").write_text(PIPELINE)
        (folder / "ray_driver.py").write_text(RAY_DRIVER)
        ray_folder = Path(tempfile.mkdtemp(prefix="tr-"))  # short: Ray's socket paths live under it
        port = 6390
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", str(512 * 2**20)]
        head = ray_start(["--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", str(ray_folder / "ray"),
                          *common], ray_folder, "head")
        nodes = [head]
        try:
            nodes.append(ray_start(["--address", f"127.0.0.1:{port}", *common], ray_folder, "worker"))
            variants = {
                "plain": [sys.executable, "plain.py"],
                "local": [sys.executable, "-m", "tidal.cli", "run", "bench.yaml", "--no-cache", "--json", "--workers", "2"],
                "ray": [sys.executable, "ray_driver.py", f"127.0.0.1:{port}"],
            }
            times: dict[str, list[float]] = {name: [] for name in variants}
            aucs: dict[str, float] = {}
            for round_ in range(args.rounds):
                for name, command in (variants.items() if round_ % 2 == 0 else reversed(variants.items())):
                    elapsed, aucs[name] = timed(command, folder, environment)
                    times[name].append(elapsed)
                    print(f"  round {round_ + 1} {name:5s} {elapsed:7.1f} s  AUC {aucs[name]:.6f}", flush=True)
        finally:
            for process in reversed(nodes):
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
    medians = {name: statistics.median(values) for name, values in times.items()}
    assert len({round(value, 6) for value in aucs.values()}) == 1, f"the variants disagree: {aucs}"
    print(f"\nmedian of {args.rounds} round(s); AUC {aucs['plain']:.6f} on every variant")
    print("| variant | wall time (s) | × plain | × local |")
    print("| --- | ---: | ---: | ---: |")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {value / medians['plain']:.2f} | {value / medians['local']:.2f} |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
