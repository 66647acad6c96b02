"""FTRL on a drifting stream: Tidal's vectorised FTRL beside River's and scikit-learn's SGD.

Run: ``PYTHONPATH=src nice -n 10 python benchmarks/stream_ftrl.py [--rows 1000000] [--repeats 3]``

The stream (``make_stream``): rows of 20 independent standard-normal features; the label is
Bernoulli(sigmoid(x·w + b)) with w drawn once with N(0, 1) entries (so logits have a standard
deviation of about 4.5, a learnable but noisy problem) and b = 0.5. Half-way, w and b are redrawn
(an abrupt concept drift). Seed 0; the same rows for every learner.

Every learner sees the same micro-batches in the same order and is scored by progressive
validation: each batch is predicted, then learned. Throughput is rows per second over the whole
predict-and-learn loop (median of ``--repeats`` runs); log loss is over every row. River is timed on
the first 200k rows (its per-row cost does not depend on the length); everything else on all rows.

The drift figure is the log loss over the 10k rows right after the drift (200k-row stream), for
Tidal's FTRL without a detector and wired to ADWIN or Page-Hinkley (on its 0/1 errors), resetting
or forgetting, for River's FTRL, and for the oracle: a logistic regression fitted on 100k fresh rows
of the post-drift distribution.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from collections.abc import Callable
from statistics import median

import numpy as np

FEATURES = 20
PARAMS = {"alpha": 0.1, "beta": 1.0, "l1": 0.0, "l2": 1.0}


def make_stream(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES))
    before, after = rng.normal(size=FEATURES), rng.normal(size=FEATURES)
    logits = np.empty(rows)
    half = rows // 2
    logits[:half] = X[:half] @ before + 0.5
    logits[half:] = X[half:] @ after - 0.5
    y = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return X, y, (after, -0.5)


def log_loss(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))  # type: ignore[no-any-return]


def run_tidal(X: np.ndarray, y: np.ndarray, batch: int, adaptive: str | None = None) -> np.ndarray:
    from tidal.stream import ADWIN, DriftAdaptive, FTRLLogisticRegression, PageHinkley

    learner = FTRLLogisticRegression(**PARAMS)
    scores = np.empty(len(y))
    if adaptive is None:
        for start in range(0, len(y), batch):
            stop = start + batch
            scores[start:stop] = learner.predict_proba(X[start:stop])[:, 1] if start else 0.5
            learner.learn(X[start:stop], y[start:stop])
        return scores
    detector_name, action = adaptive.split("-")
    detector = ADWIN() if detector_name == "adwin" else PageHinkley(mode="up", threshold=20.0)
    wrapped = DriftAdaptive(learner, detector, action=action, factor=0.01)
    wrapped.learn(X[:1], y[:1])
    scores[0] = 0.5
    for start in range(1, len(y), batch):
        scores[start:start + batch] = wrapped.learn(X[start:start + batch], y[start:start + batch])
    return scores


def run_river(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from river import linear_model, optim

    model = linear_model.LogisticRegression(optimizer=optim.FTRLProximal(**PARAMS))
    scores = np.empty(len(y))
    names = list(range(FEATURES))
    for row in range(len(y)):
        x = dict(zip(names, X[row].tolist(), strict=True))
        scores[row] = model.predict_proba_one(x).get(True, 0.0)
        model.learn_one(x, bool(y[row]))
    return scores


def run_sklearn(X: np.ndarray, y: np.ndarray, batch: int, constant: bool) -> np.ndarray:
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01) if constant else SGDClassifier(loss="log_loss")
    scores = np.empty(len(y))
    for start in range(0, len(y), batch):
        stop = start + batch
        scores[start:stop] = model.predict_proba(X[start:stop])[:, 1] if start else 0.5
        model.partial_fit(X[start:stop], y[start:stop], classes=[0.0, 1.0])
    return scores


def timed(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    times, scores = [], np.zeros(0)
    for _ in range(repeats):
        began = time.perf_counter()
        scores = run()
        times.append(time.perf_counter() - began)
    return median(times), scores


def machine() -> str:
    model, flags = platform.processor(), ""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("Flags:"):
                flags = " ".join(sorted({flag for flag in line.split() if flag.startswith(("avx2", "avx512f", "fma"))}))
    except OSError:
        pass
    return f"{model}; {os.cpu_count()} CPUs; flags: {flags or 'n/a'}; numpy {np.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--river-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    load_before = os.getloadavg()
    X, y, _ = make_stream(options.rows)
    river_rows = min(options.river_rows, options.rows)
    results = []  # name, rows, seconds, loss over the first river_rows rows, loss over all rows

    def record(name: str, rows: int, run: Callable[[], np.ndarray]) -> None:
        seconds, scores = timed(run, options.repeats)
        losses = log_loss(scores, y[:rows])
        results.append((name, rows, seconds, float(losses[:river_rows].mean()), float(losses.mean())))
        print(f"  {name}: {rows / seconds:,.0f} rows/s", flush=True)

    record("River LogisticRegression(FTRLProximal), learn_one", river_rows, lambda: run_river(X[:river_rows], y[:river_rows]))
    for batch in (32, 256, 1024):
        record(f"Tidal FTRL, batch {batch}", options.rows, lambda batch=batch: run_tidal(X, y, batch))
    record("Tidal FTRL, mode=sample (row by row)", river_rows, lambda: _sample(X[:river_rows], y[:river_rows]))
    for batch in (256, 1024):
        record(f"scikit-learn SGDClassifier defaults, batch {batch}", options.rows, lambda batch=batch: run_sklearn(X, y, batch, False))
        record(f"scikit-learn SGDClassifier eta0=0.01 constant, batch {batch}", options.rows, lambda batch=batch: run_sklearn(X, y, batch, True))
    river_speed = next(rows / seconds for name, rows, seconds, _, _ in results if name.startswith("River"))
    river_loss = results[0][3]
    print(f"\nmachine: {machine()}\nload average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}\n")
    print(f"rows: {options.rows:,} x {FEATURES} features, drift at row {options.rows // 2:,}; medians of {options.repeats} runs\n")
    print(f"| learner | rows timed | rows/s | x River | log loss, first {river_rows // 1000}k rows | vs River loss | log loss, all rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rows, seconds, head, whole in results:
        print(f"| {name} | {rows:,} | {rows / seconds:,.0f} | {rows / seconds / river_speed:.1f} | {head:.4f} | {head / river_loss:.3f} | {whole:.4f} |")
    drift_table()


def _sample(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from tidal.stream import FTRLLogisticRegression

    learner = FTRLLogisticRegression(**PARAMS, mode="sample")
    scores = np.empty(len(y))
    for start in range(0, len(y), 256):
        scores[start:start + 256] = learner.predict_proba(X[start:start + 256])[:, 1]
        learner.learn(X[start:start + 256], y[start:start + 256])
    return scores


def drift_table(rows: int = 200_000, batch: int = 256) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y, (after, bias) = make_stream(rows)
    window = slice(rows // 2, rows // 2 + 10_000)
    rng = np.random.default_rng(1)
    fresh = rng.normal(size=(100_000, FEATURES))
    fresh_y = (rng.random(100_000) < 1 / (1 + np.exp(-(fresh @ after + bias)))).astype(float)
    oracle = LogisticRegression(max_iter=1000).fit(fresh, fresh_y).predict_proba(X[window])[:, 1]
    oracle_loss = float(log_loss(oracle, y[window]).mean())
    runs = {"River FTRL, no detector": lambda: run_river(X, y), "Tidal FTRL, no detector": lambda: run_tidal(X, y, batch)}
    for adaptive in ("adwin-reset", "adwin-forget", "ph-reset", "ph-forget"):
        runs[f"Tidal FTRL + {adaptive.replace('ph', 'Page-Hinkley').replace('adwin', 'ADWIN')}"] = lambda adaptive=adaptive: run_tidal(X, y, batch, adaptive)
    print(f"\nDrift: log loss over the 10k rows after the drift (row {rows // 2:,} of {rows:,}; batch {batch})\n")
    print("| learner | log loss | minus oracle |")
    print("| --- | ---: | ---: |")
    for name, run in runs.items():
        loss = float(log_loss(run()[window], y[window]).mean())
        print(f"| {name} | {loss:.4f} | {loss - oracle_loss:+.4f} |")
    print(f"| oracle: logistic regression fitted on 100k post-drift rows | {oracle_loss:.4f} | 0 |")


if __name__ == "__main__":
    main()
