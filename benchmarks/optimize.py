"""Model optimization: Tidal's pick against eager PyTorch, onnxruntime's defaults and native boosters.

(a) The digits CNN (``examples/nn/digits_cnn.yaml``) trained on 80% of scikit-learn's digits,
scored on the other 20%, at batch 1 and 32:

* eager FP32: the torch package's own ``predict_proba`` (torch's default threads, and one thread);
* ORT FP32 defaults: the checked ONNX export in an ``InferenceSession`` with default options;
* ORT INT8 defaults: ``onnxruntime.quantization.quantize_static`` with its defaults (QDQ, MinMax),
  calibrated on 256 training rows, default session;
* Tidal's pick: ``tidal.optimize.optimize_model`` with ``max_loss=0.01`` (one point of accuracy).

(b) LightGBM, 100 trees, on breast cancer: native ``predict_proba`` against the ONNX export and
Tidal's pick (which may be the native model).

The pick is timed twice: its graph in a session with the options it records (what the search
measured), and through the package's universal ``predict_proba`` (what ``tidal serve`` and batch
prediction call: column checks and a conversion per column on top). Every way is timed in the same interleaved rounds (``tidal.optimize._measure.time_runners``),
``--repeats`` times; the table gives the median p50 over the repeats, and ratios to eager (a) or
native (b). The CPU's flags and the load average are printed with the figures.

    .venv/bin/python benchmarks/optimize.py [--repeats 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tidal.optimize import Timing, cpu_info, optimize_model  # noqa: E402
from tidal.optimize._measure import OnnxRunner, PackageRunner, answer_all, time_runners  # noqa: E402

BATCHES = (1, 32)


def accuracy(runner, frame: pd.DataFrame, truth: np.ndarray) -> float:
    prediction, _ = answer_all(runner, frame)
    return float(np.mean(np.asarray(prediction).astype(str) == truth.astype(str)))


def medians(runners: dict, frame: pd.DataFrame, repeats: int, timing: Timing) -> dict[str, dict[int, float]]:
    runs = [time_runners(runners, frame, BATCHES, timing) for _ in range(repeats)]
    return {name: {size: float(np.median([run[name][size].p50_ms for run in runs])) for size in BATCHES} for name in runners}


class TorchThreads:
    """The package's predict with torch limited to ``threads`` for the call."""

    def __init__(self, package, threads: int) -> None:
        self.runner, self.threads = PackageRunner(package), threads

    def answer(self, frame):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self.runner.answer(frame)
        finally:
            torch.set_num_threads(before)


def pick_runners(result, features: list[str]) -> dict:
    """The pick as its graph file run with its session options, and through the package's own predict."""
    name = result.pick.winner
    runners = {f"Tidal pick ({name}), package predict": PackageRunner(result.package)}
    if result.package.flavor == "onnx":
        settings = result.package.model.settings
        runners[f"Tidal pick ({name}), session"] = OnnxRunner(result.package.model.path, features, True, settings["session"])
    return runners


def digits_cnn(epochs: int, repeats: int, timing: Timing, scratch: Path) -> dict:
    from onnxruntime.quantization import CalibrationDataReader, quantize_static
    from sklearn.datasets import load_digits

    import tidal.nn as tnn
    from tidal.models import export_model

    frame = load_digits(as_frame=True).frame
    frame.columns = [str(name) for name in frame.columns]
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = shuffled.iloc[:1437], shuffled.iloc[1437:].reset_index(drop=True)
    settings = tnn.TrainSettings(epochs=epochs, lr=0.003, optimizer="adamw", schedule="cosine", threads=1, seed=0)
    package = tnn.train_network(tnn.load_network(ROOT / "examples/nn/digits_cnn.yaml"), train, label="target",
                                settings=settings).package
    features, truth = list(package.features), test["target"].to_numpy()
    export_model(package, scratch / "fp32.onnx", format="onnx", data=test[features])
    batches = [{name: train[features].iloc[start:start + 32][[name]].to_numpy(np.float32) for name in features}
               for start in range(0, 256, 32)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(batches)

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(scratch / "fp32.onnx"), str(scratch / "int8.onnx"), Reader())
    result = optimize_model(package, test, label="target", max_loss=0.01, batch_sizes=BATCHES)
    runners = {"eager FP32": PackageRunner(package), "eager FP32 (1 thread)": TorchThreads(package, 1),
               "ORT FP32 defaults": OnnxRunner(scratch / "fp32.onnx", features, True),
               "ORT INT8 static defaults": OnnxRunner(scratch / "int8.onnx", features, True),
               **pick_runners(result, features)}
    scores = {name: accuracy(runner, test[features], truth) for name, runner in runners.items()}
    times = medians(runners, test[features], repeats, timing)
    result.close()
    return {"times": times, "accuracy": scores, "baseline": "eager FP32", "pick_reason": result.pick.reason}


def lightgbm_100(repeats: int, timing: Timing, scratch: Path) -> dict:
    import lightgbm
    from sklearn.datasets import load_breast_cancer

    from tidal.models import ModelPackage, export_model

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = shuffled.iloc[:455], shuffled.iloc[455:].reset_index(drop=True)
    features = [name for name in frame.columns if name != "target"]
    model = lightgbm.LGBMClassifier(n_estimators=100, verbose=-1, random_state=0).fit(train[features], train["target"])
    package = ModelPackage.from_estimator(model, train, features=features, task="binary", label="target")
    export_model(package, scratch / "lgb.onnx", format="onnx", data=test[features])
    result = optimize_model(package, test, label="target", max_loss=0.01, batch_sizes=BATCHES)
    runners = {"native predict_proba": PackageRunner(package),
               "ORT FP32 defaults": OnnxRunner(scratch / "lgb.onnx", features, True),
               **pick_runners(result, features)}
    scores = {name: accuracy(runner, test[features], test["target"].to_numpy()) for name, runner in runners.items()}
    times = medians(runners, test[features], repeats, timing)
    result.close()
    return {"times": times, "accuracy": scores, "baseline": "native predict_proba", "pick_reason": result.pick.reason}


def table(title: str, section: dict) -> str:
    base = section["times"][section["baseline"]]
    lines = [f"### {title}", "", "| way | p50 ms b1 | p50 ms b32 | x b1 | x b32 | accuracy |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, times in section["times"].items():
        lines.append(f"| {name} | {times[1]:.3f} | {times[32]:.3f} | {base[1] / times[1]:.2f} | {base[32] / times[32]:.2f} | "
                     f"{section['accuracy'][name]:.4f} |")
    lines += ["", f"pick: {section['pick_reason']}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    timing = Timing(warmup=10, rounds=5, calls=20)
    cpu = cpu_info().to_dict()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        cnn = digits_cnn(args.epochs, args.repeats, timing, Path(scratch))
        boosted = lightgbm_100(args.repeats, timing, Path(scratch))
    print(f"CPU: {cpu['model']}, {cpu['usable_cpus']} usable CPUs; flags: "
          f"{', '.join(name for name, on in cpu['flags'].items() if on)}; VNNI {cpu['vnni']}")
    print(f"load average before {tuple(round(v, 2) for v in load_before)}, after {tuple(round(v, 2) for v in os.getloadavg())}")
    print(f"medians of {args.repeats} repeats of {timing.rounds} x {timing.calls} timed calls per way and batch size\n")
    print(table("digits CNN (ratios to eager FP32)", cnn))
    print(table("LightGBM, 100 trees (ratios to native)", boosted))
    print(json.dumps({"cpu": cpu, "digits_cnn": cnn, "lightgbm": boosted}, default=str))


if __name__ == "__main__":
    main()
