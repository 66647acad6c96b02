"""Core benchmarks: (a) the demo pipeline on generated rows against a plain scikit-learn script;
(b) per-node overhead of no-op chains and fan-outs against Dask's local schedulers.

    python benchmarks/core_overhead.py [--rows 1000000] [--nodes 200] [--repeats 3]
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
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ["TIDAL_PLUGINS"] = "noop_components"
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- (a) the demo pipeline -------------------------------------------------------------------------


def make_data(folder: Path, rows: int) -> Path:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=30, n_informative=12, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)]).astype(np.float64)
    frame["label"] = y
    path = folder / "data.csv"
    frame.to_csv(path, index=False)
    return path


PLAIN_SCRIPT = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

frame = pd.read_csv("data.csv")
train, test = train_test_split(frame, train_size=0.8, random_state=42)
features = [name for name in frame.columns if name != "label"]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
model.fit(train[features], train["label"])
scores = model.predict_proba(test[features])[:, 1]
print(roc_auc_score(test["label"], scores))
"""

PIPELINE = """
tidal: 1
name: bench
nodes:
  - {id: read, component: io.read_csv, params: {path: data.csv}}
  - {id: split, component: data.split, inputs: {data: read}, params: {fraction: 0.8, seed: 42}}
  - {id: train, component: classification.logistic_regression, inputs: {data: split.train}, params: {label: label}}
  - {id: score, component: model.predict, inputs: {model: train, data: split.test}}
  - {id: eval, component: evaluation.binary_classification, inputs: {data: score}, params: {label: label}}
"""


def plain_script(folder: Path) -> float:
    """The same steps as a user's plain script, in a fresh interpreter (imports included)."""
    (folder / "plain.py").write_text(PLAIN_SCRIPT)
    done = subprocess.run([sys.executable, "plain.py"], cwd=folder, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def tidal_cli(folder: Path, workers: int) -> float:
    """`tidal run` in a fresh process, cache off: what a user waits for."""
    (folder / "bench.yaml").write_text(PIPELINE)
    done = subprocess.run([sys.executable, "-m", "tidal.cli", "run", "bench.yaml", "--no-cache", "--json", "--workers", str(workers)],
                          cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)["nodes"]["eval"]["metrics"]["auc"])


# -- (b) per-node overhead -------------------------------------------------------------------------


def tidal_shape(folder: Path, shape: str, nodes: int, workers: int) -> None:
    import tidal

    pipeline = tidal.Pipeline(f"{shape}-{nodes}")
    pipeline.add("bench.start", "start")
    for index in range(nodes):
        source = "start" if shape == "fanout" or index == 0 else f"n{index - 1}"
        pipeline.add("bench.noop", f"n{index}", inputs={"previous": source}, params={"step": index})
    result = tidal.run(pipeline, workspace=folder, workers=workers, cache=False)
    assert result.ok


def _dask_noop(*values):
    return sum(values) + 1


def dask_shape(shape: str, nodes: int, scheduler: str) -> None:
    import dask

    graph: dict = {"start": (_dask_noop,)}
    for index in range(nodes):
        source = "start" if shape == "fanout" or index == 0 else f"n{index - 1}"
        graph[f"n{index}"] = (_dask_noop, source)
    keys = [f"n{index}" for index in range(nodes)] if shape == "fanout" else [f"n{nodes - 1}"]
    if scheduler == "threads":
        from dask.threaded import get
    elif scheduler == "processes":
        from dask.multiprocessing import get
    else:
        from dask.local import get_sync as get
    get(graph, keys)
    del dask


def ray_shape(shape: str, nodes: int) -> None:
    """The same graph as Ray tasks, each passing its result to the next as an object reference."""
    import ray

    noop = ray.remote(_dask_noop)
    start = noop.remote()
    refs, previous = [], start
    for _ in range(nodes):
        previous = noop.remote(start if shape == "fanout" else previous)
        refs.append(previous)
    ray.get(refs if shape == "fanout" else [previous])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-demo", action="store_true", help="only the per-node shapes")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray peer")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

    if not args.skip_demo:
        demo(args)
    if not args.no_ray:
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        ray_shape("chain", 10)  # start Ray's workers before timing
    for shape in ("chain", "fanout"):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            tidal_shape(folder, shape, 2, args.workers)  # warm the workspace (schema, imports)
            small = median_time(partial(tidal_shape, folder, shape, 1, args.workers), args.repeats)
            full = median_time(partial(tidal_shape, folder, shape, args.nodes, args.workers), args.repeats)
            inline = median_time(partial(tidal_shape, folder, shape, args.nodes, 0), args.repeats)
        per_node = (full - small) / (args.nodes - 1) * 1000
        per_node_inline = inline / (args.nodes + 1) * 1000
        print(f"(b) {shape} of {args.nodes}: tidal {args.workers} workers {full:.2f}s total, "
              f"{per_node:.2f} ms/node beyond a 1-node run (start-up {small:.2f}s); "
              f"in-process {per_node_inline:.2f} ms/node")
        for scheduler in ("sync", "threads", "processes"):
            elapsed = median_time(partial(dask_shape, shape, args.nodes, scheduler), args.repeats)
            print(f"(b) {shape} of {args.nodes}: dask {scheduler:9s} {elapsed:.3f}s total, {elapsed / (args.nodes + 1) * 1000:.3f} ms/node")
        if not args.no_ray:
            elapsed = median_time(partial(ray_shape, shape, args.nodes), args.repeats)
            print(f"(b) {shape} of {args.nodes}: ray tasks       {elapsed:.3f}s total, {elapsed / (args.nodes + 1) * 1000:.3f} ms/node")


def demo(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        make_data(folder, args.rows)
        print(f"(a) generated {args.rows:,} rows x 30 features in {time.perf_counter() - started:.1f}s")
        auc_plain = plain_script(folder)
        auc_tidal = tidal_cli(folder, args.workers)
        plain_times, tidal_times = [], []
        for _ in range(args.repeats):  # alternate, so load on the machine hits both alike
            plain_times.append(median_time(lambda: plain_script(folder), 1))
            tidal_times.append(median_time(lambda: tidal_cli(folder, args.workers), 1))
        plain, tidal_time = statistics.median(plain_times), statistics.median(tidal_times)
        print(f"(a) plain scikit-learn script (python plain.py): {plain:.2f}s (AUC {auc_plain:.4f}) runs {[round(t, 2) for t in plain_times]}")
        print(f"(a) tidal run --no-cache, {args.workers} workers: {tidal_time:.2f}s (AUC {auc_tidal:.4f}) runs {[round(t, 2) for t in tidal_times]}")
        print(f"(a) ratio tidal / plain: {tidal_time / plain:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()
