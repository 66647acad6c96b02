"""Core benchmarks: (a) the demo pipeline on generated rows against a plain scikit-learn script;
(b) per-node overhead of no-op chains and fan-outs against Dask's local schedulers.

    python benchmarks/core_overhead.py [--rows 1000000] [--nodes 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
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


def plain_sklearn(path: Path) -> float:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(path)
    train, test = train_test_split(frame, train_size=0.8, random_state=42)
    features = [name for name in frame.columns if name != "label"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    model.fit(train[features], train["label"])
    scores = model.predict_proba(test[features])[:, 1]
    return float(roc_auc_score(test["label"], scores))


def tidal_pipeline(folder: Path, workers: int) -> float:
    import tidal

    pipeline = tidal.Pipeline("bench")
    pipeline.add("io.read_csv", "read", params={"path": "data.csv"})
    pipeline.add("data.split", "split", inputs={"data": "read"}, params={"fraction": 0.8, "seed": 42})
    pipeline.add("classification.logistic_regression", "train", inputs={"data": "split.train"}, params={"label": "label"})
    pipeline.add("model.predict", "score", inputs={"model": "train", "data": "split.test"})
    pipeline.add("evaluation.binary_classification", "eval", inputs={"data": "score"}, params={"label": "label"})
    result = tidal.run(pipeline, workspace=folder, workers=workers, cache=False)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    return float(result.metrics("eval")["auc"])


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        make_data(folder, args.rows)
        print(f"(a) generated {args.rows:,} rows x 30 features in {time.perf_counter() - started:.1f}s")
        auc_plain = plain_sklearn(folder / "data.csv")
        auc_tidal = tidal_pipeline(folder, args.workers)
        plain = median_time(lambda: plain_sklearn(folder / "data.csv"), args.repeats)
        tidal_time = median_time(lambda: tidal_pipeline(folder, args.workers), args.repeats)
        print(f"(a) plain scikit-learn script: {plain:.2f}s (AUC {auc_plain:.4f})")
        print(f"(a) tidal run, {args.workers} workers:  {tidal_time:.2f}s (AUC {auc_tidal:.4f})")
        print(f"(a) ratio tidal / plain: {tidal_time / plain:.3f}  (goal <= 1.10)")

    for shape in ("chain", "fanout"):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            tidal_shape(folder, shape, 2, args.workers)  # warm the workspace (schema, imports)
            small = median_time(lambda: tidal_shape(folder, shape, 1, args.workers), args.repeats)
            full = median_time(lambda: tidal_shape(folder, shape, args.nodes, args.workers), args.repeats)
            inline = median_time(lambda: tidal_shape(folder, shape, args.nodes, 0), args.repeats)
        per_node = (full - small) / (args.nodes - 1) * 1000
        per_node_inline = inline / (args.nodes + 1) * 1000
        print(f"(b) {shape} of {args.nodes}: tidal {args.workers} workers {full:.2f}s total, "
              f"{per_node:.2f} ms/node beyond a 1-node run (start-up {small:.2f}s); "
              f"in-process {per_node_inline:.2f} ms/node")
        for scheduler in ("sync", "threads", "processes"):
            elapsed = median_time(lambda scheduler=scheduler: dask_shape(shape, args.nodes, scheduler), args.repeats)
            print(f"(b) {shape} of {args.nodes}: dask {scheduler:9s} {elapsed:.3f}s total, {elapsed / (args.nodes + 1) * 1000:.3f} ms/node")


if __name__ == "__main__":
    main()
