"""Digits images: a CNN through ``vision.train_classifier`` vs scikit-learn's MLPClassifier, same split, same cores.

Both train on the same stratified 80% of scikit-learn's 8x8 digits (seed 42) and are scored on the other 20%;
each side runs ``REPEATS`` times (seeds 0, 1, 2), after one untimed warm-up of each, and the medians of held-out
accuracy and training wall time are printed, with the ratio. The CNN is trained for each of ``--epochs`` (default
8, about the MLP's wall time, and 20). Both use one thread (the CNN: ``threads=1``; the MLP runs on one core via threadpoolctl).
Run it niced on a shared machine: ``nice -n 10 python benchmarks/vision_digits.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tidal.components.vision_models import train_classifier

REPEATS = 3


def machine() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()
    facts = dict(line.split(":", 1) for line in lines if ":" in line)
    flags = facts.get("Flags", "").split()
    wanted = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flag in flags]
    return f"{facts.get('Model name', '?').strip()}, {facts.get('CPU(s)', '?').strip()} CPUs, flags: {' '.join(wanted)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[8, 20], help="CNN training lengths to compare")
    args = parser.parse_args()
    frame = load_digits(as_frame=True).frame
    train, test = train_test_split(frame, train_size=0.8, random_state=42, stratify=frame["target"])
    pixels = [name for name in frame.columns if name.startswith("pixel_")]
    # imports and first-call costs (torch's, scikit-learn's), paid before anything is timed
    train_classifier(train, label="target", architecture="cnn", epochs=1, threads=1, seed=0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five iterations do not converge, and need not
        make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(10,), max_iter=5)).fit(train[pixels], train["target"])
    sides = [f"cnn-{epochs}" for epochs in args.epochs] + ["mlp"]
    results: dict[str, dict[str, list[float]]] = {name: {"accuracy": [], "seconds": []} for name in sides}
    for seed in range(REPEATS):
        for epochs in args.epochs:
            started = time.perf_counter()
            model = train_classifier(train, label="target", architecture="cnn", epochs=epochs, threads=1, seed=seed).model
            results[f"cnn-{epochs}"]["seconds"].append(time.perf_counter() - started)
            results[f"cnn-{epochs}"]["accuracy"].append(float(np.mean(model.predict(test) == test["target"].to_numpy())))
        with threadpool_limits(1):
            started = time.perf_counter()
            mlp = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), max_iter=500, random_state=seed))
            mlp.fit(train[pixels], train["target"])
            results["mlp"]["seconds"].append(time.perf_counter() - started)
        results["mlp"]["accuracy"].append(float(mlp.score(test[pixels], test["target"])))
    print(f"machine: {machine()}; python {platform.python_version()}; load average {os.getloadavg()}")
    print(f"digits: {len(train)} training images, {len(test)} held out; {REPEATS} runs each, medians")
    medians = {name: {key: statistics.median(values) for key, values in side.items()} for name, side in results.items()}
    labels = {f"cnn-{epochs}": f"vision.train_classifier cnn, {epochs} epochs" for epochs in args.epochs}
    labels["mlp"] = "MLPClassifier(100), scaled"
    for name in sides:
        side = medians[name]
        print(f"  {labels[name]:42s} accuracy {side['accuracy']:.4f}  train {side['seconds']:.2f} s  "
              f"(accuracies {', '.join(f'{value:.4f}' for value in results[name]['accuracy'])})")
    for epochs in args.epochs:
        cnn = medians[f"cnn-{epochs}"]
        print(f"cnn {epochs} epochs vs mlp: accuracy {cnn['accuracy'] - medians['mlp']['accuracy']:+.4f}, "
              f"wall time {cnn['seconds'] / medians['mlp']['seconds']:.2f}x the MLP's")


if __name__ == "__main__":
    main()
