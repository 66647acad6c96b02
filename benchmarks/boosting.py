"""Gradient boosting through Tidal against the libraries called directly.

(a) Overhead: ``classification.lightgbm`` and ``classification.xgboost`` trained on generated
rows three ways, each a median of ``--repeats`` runs, the ways interleaved so that load on the
machine hits them alike:

* direct: ``LGBMClassifier`` / ``XGBClassifier`` ``.fit`` on the training DataFrame;
* eager: the Tidal component called as a function on the same DataFrame (its checks, label
  handling and packaging included);
* pipeline: ``tidal.run`` of ``io.read_parquet -> classification.*`` (one worker process, no
  cache, in a workspace that already exists), against a direct script doing the same work: ``pd.read_parquet``, ``fit``,
  ``save_model``. The run's train node time (reading its input, fitting, writing the package)
  is shown as well as the whole run.

Both wall-clock and CPU time are reported. CPU time (this process and its finished worker
processes, all threads) is the steadier measure when other work shares the machine.

(b) Accounting: Tidal's own work timed apart from the library's fit, which is steadier than the
difference of two long, noisy fits on a shared machine. Eager: parameter validation, column
checks, feature and label checks, label encoding and packaging, around an estimator that is
already fitted. Pipeline: the fixed cost of a run (engine, worker process, reading the input
artifact, writing the package) as the difference between ``tidal.run`` and the direct script
with a single boosting round. Each estimate is added to the measured direct times.

(c) Side by side: LightGBM, XGBoost and scikit-learn's HistGradientBoosting with the same
number of rounds, learning rate and leaves: fit time (median of the direct runs) and AUC on the
held-out 20%.

    .venv/bin/python benchmarks/boosting.py [--rows 2000000] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

FEATURES = 20
ROUNDS = 100
LEARNING_RATE = 0.1


def generate(rows: int):
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=FEATURES, n_informative=10, n_redundant=4, flip_y=0.05, random_state=0)
    frame = pd.DataFrame(X.astype(np.float64), columns=[f"f{index}" for index in range(FEATURES)])
    frame["label"] = y
    cut = int(rows * 0.8)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


# Tidal parameters and the library arguments they become (the rest are the libraries' defaults).
LIBRARIES = {
    "lightgbm": ({"n_estimators": ROUNDS, "learning_rate": LEARNING_RATE, "num_leaves": 31, "seed": 0},
                 {"n_estimators": ROUNDS, "learning_rate": LEARNING_RATE, "num_leaves": 31, "random_state": 0, "verbose": -1}),
    "xgboost": ({"n_estimators": ROUNDS, "learning_rate": LEARNING_RATE, "max_depth": 6, "seed": 0},
                {"n_estimators": ROUNDS, "learning_rate": LEARNING_RATE, "max_depth": 6, "random_state": 0, "tree_method": "hist"}),
}


def library_estimator(name: str):
    import lightgbm
    import xgboost

    arguments = LIBRARIES[name][1]
    return lightgbm.LGBMClassifier(**arguments) if name == "lightgbm" else xgboost.XGBClassifier(**arguments)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes), all threads."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measured(function) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    value = function()
    return time.perf_counter() - wall, cpu_seconds() - cpu, value


def direct_fit(name: str, train, rounds: int = ROUNDS):
    features = [column for column in train.columns if column != "label"]
    return library_estimator(name).set_params(n_estimators=rounds).fit(train[features], train["label"])


def direct_script(name: str, path: Path, folder: Path, rounds: int = ROUNDS) -> None:
    """What the pipeline does, written directly: read, fit, save."""
    import pandas as pd

    model = direct_fit(name, pd.read_parquet(path), rounds)
    if name == "lightgbm":
        model.booster_.save_model(str(folder / "direct.lgb.txt"))
    else:
        model.get_booster().save_model(str(folder / "direct.xgb.json"))


def eager_fit(name: str, train):
    from tidal.components import classification

    return getattr(classification, name)(train, label="label", **LIBRARIES[name][0])


def tidal_steps(name: str, train, fitted) -> float:
    """Seconds of Tidal's own work in an eager call: everything around the library's fit."""
    from tidal.components._training import fit_supervised
    from tidal.core import registry

    class Prefitted:  # the library's fit is done; what is left is Tidal's work
        classes_ = fitted.classes_

        def fit(self, X, y, **kwargs):
            return self

    spec = registry.get(f"classification.{name}")
    native = (lambda _: fitted.booster_) if name == "lightgbm" else (lambda _: fitted.get_booster())
    started = time.perf_counter()
    values = spec.validate_params({"label": "label", **LIBRARIES[name][0]})
    spec._check_columns({"data": train}, values, None)
    fit_supervised(Prefitted(), train, label="label", features=None, kind="classification", params=values,
                   allow_missing=True, encode_labels=name == "xgboost", native=native)
    return time.perf_counter() - started


def pipeline_run(name: str, path: Path, folder: Path, rounds: int = ROUNDS) -> float:
    """Runs the pipeline; returns the train node's seconds."""
    import tidal

    pipeline = tidal.Pipeline(f"boosting-{name}")
    pipeline.add("io.read_parquet", "read", params={"path": str(path)})
    params = {"label": "label", **LIBRARIES[name][0], "n_estimators": rounds}
    pipeline.add(f"classification.{name}", "train", inputs={"data": "read"}, params=params)
    result = tidal.run(pipeline, workspace=folder, workers=1, cache=False)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    return float(result.nodes["train"].duration_s)


def auc(model, test) -> float:
    from sklearn.metrics import roc_auc_score

    features = [column for column in test.columns if column != "label"]
    return float(roc_auc_score(test["label"], model.predict_proba(test[features])[:, 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads for every library (default: theirs, all cores)")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before the libraries load; workers inherit it
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}; "
          f"threads: {args.threads or 'library default'}; load average at start: {os.getloadavg()[0]:.1f}")
    wall, _, (train, test) = measured(lambda: generate(args.rows))
    print(f"data: {args.rows:,} rows x {FEATURES} features ({len(train):,} train, {len(test):,} test), generated in {wall:.1f}s")
    print(f"boosting: {ROUNDS} rounds, learning rate {LEARNING_RATE}; medians of {args.repeats} runs; wall-clock / CPU seconds\n")
    fit_times: dict[str, float] = {}
    aucs: dict[str, float] = {}
    measured_times: dict[str, dict[str, float]] = {}
    accounting: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tidal-boosting-") as scratch:
        folder = Path(scratch)
        path = folder / "train.parquet"
        train.to_parquet(path, index=False)
        for name in LIBRARIES:  # warm up: imports, first calls and the workspace stay out of the timings
            direct_fit(name, train.iloc[:2000])
            eager_fit(name, train.iloc[:2000])
            pipeline_run(name, path, folder / "workspace", rounds=1)
        print("| library | direct fit | Tidal eager | ratio wall / CPU | direct read+fit+save | tidal.run (train node) | ratio wall / CPU |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in LIBRARIES:
            times: dict[str, list[float]] = {key: [] for key in ("direct", "direct_cpu", "eager", "eager_cpu", "script", "script_cpu", "run", "run_cpu", "node")}
            for _ in range(args.repeats):
                wall, cpu, direct = measured(lambda name=name: direct_fit(name, train))
                times["direct"].append(wall)
                times["direct_cpu"].append(cpu)
                wall, cpu, eager = measured(lambda name=name: eager_fit(name, train))
                times["eager"].append(wall)
                times["eager_cpu"].append(cpu)
                wall, cpu, _ = measured(lambda name=name: direct_script(name, path, folder))
                times["script"].append(wall)
                times["script_cpu"].append(cpu)
                wall, cpu, node = measured(lambda name=name: pipeline_run(name, path, folder / "workspace"))
                times["run"].append(wall)
                times["run_cpu"].append(cpu)
                times["node"].append(node)
            features = [column for column in test.columns if column != "label"]
            np.testing.assert_allclose(eager.predict_proba(test)[:, 1], direct.predict_proba(test[features])[:, 1], rtol=1e-5)
            m = {key: statistics.median(values) for key, values in times.items()}
            fit_times[name], aucs[name], measured_times[name] = m["direct"], auc(direct, test), m
            steps = [tidal_steps(name, train, direct) for _ in range(5)]
            fixed = []
            for _ in range(5):
                script = measured(lambda name=name: direct_script(name, path, folder, rounds=1))[0]
                run = measured(lambda name=name: pipeline_run(name, path, folder / "workspace", rounds=1))[0]
                fixed.append(run - script)
            accounting[name] = (statistics.median(steps), statistics.median(fixed))
            print(f"| {name} | {m['direct']:.1f} / {m['direct_cpu']:.1f} | {m['eager']:.1f} / {m['eager_cpu']:.1f} | "
                  f"{m['eager'] / m['direct']:.3f} / {m['eager_cpu'] / m['direct_cpu']:.3f} | {m['script']:.1f} / {m['script_cpu']:.1f} | "
                  f"{m['run']:.1f} / {m['run_cpu']:.1f} ({m['node']:.1f}) | {m['run'] / m['script']:.3f} / {m['run_cpu'] / m['script_cpu']:.3f} |")
            sys.stdout.flush()
        hist_times = []
        for _ in range(args.repeats):
            estimator = HistGradientBoostingClassifier(max_iter=ROUNDS, learning_rate=LEARNING_RATE, max_leaf_nodes=31, early_stopping=False, random_state=0)
            wall, _, hist = measured(lambda estimator=estimator: estimator.fit(train.drop(columns="label"), train["label"]))
            hist_times.append(wall)
        fit_times["sklearn HistGradientBoosting"], aucs["sklearn HistGradientBoosting"] = statistics.median(hist_times), auc(hist, test)
    print("\n| library | Tidal's own work, eager | estimated eager ratio | fixed cost of a run | estimated run ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (steps, fixed) in accounting.items():
        m = measured_times[name]
        print(f"| {name} | {steps:.3f}s | {(m['direct'] + steps) / m['direct']:.3f} | {fixed:.2f}s | {(m['script'] + fixed) / m['script']:.3f} |")
    print("\n| library | fit time (wall) | AUC (held-out 20%) |")
    print("| --- | ---: | ---: |")
    for name, seconds in fit_times.items():
        print(f"| {name} | {seconds:.1f}s | {aucs[name]:.4f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
