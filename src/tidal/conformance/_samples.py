"""Tiny datasets for the conformance suite, chosen by a component's ``sample`` tag.

Each sample gives the tables for the component's Table inputs, a model for Model inputs, and
values for column parameters by name (``label``, ``column``, ``columns`` ...). A component whose
required parameters are not covered declares ``tags={"sample_params": {...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ROWS = 60


@dataclass
class Sample:
    table: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _features(rng: np.random.Generator, rows: int = ROWS) -> pd.DataFrame:
    return pd.DataFrame({f"x{index}": rng.normal(size=rows) for index in range(1, 5)})


def _classification(classes: int) -> Sample:
    rng = np.random.default_rng(7)
    frame = _features(rng)
    signal = frame["x1"] + 0.5 * frame["x2"] + rng.normal(scale=0.3, size=ROWS)
    frame["label"] = pd.qcut(signal, classes, labels=False).astype("int64")
    return Sample(frame, {"label": "label", "column": "x1", "columns": ["x1", "x2"]}, "binary" if classes == 2 else "multiclass")


def _regression() -> Sample:
    rng = np.random.default_rng(7)
    frame = _features(rng)
    frame["label"] = 2 * frame["x1"] - frame["x3"] + rng.normal(scale=0.1, size=ROWS)
    return Sample(frame, {"label": "label", "column": "x1", "columns": ["x1", "x2"]}, "regression")


def _numeric() -> Sample:
    rng = np.random.default_rng(7)
    frame = _features(rng)
    frame.loc[: ROWS // 2, ["x1", "x2"]] += 4.0
    return Sample(frame, {"column": "x1", "columns": ["x1", "x2"]})


def _mixed() -> Sample:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype="int64"),
            "x1": rng.normal(size=ROWS),
            "x2": rng.uniform(0, 10, size=ROWS),
            "n1": rng.integers(0, 100, size=ROWS),
            "cat": rng.choice(["red", "green", "blue"], size=ROWS),
            "flag": rng.random(ROWS) > 0.5,
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="D"),
            "text": rng.choice(["the quick brown fox", "a lazy dog sleeps", "hello world again"], size=ROWS),
            "label": rng.integers(0, 2, size=ROWS),
        }
    )
    frame.loc[3, "x2"] = np.nan
    return Sample(frame, {"label": "label", "column": "x1", "columns": ["x1", "x2"], "key": "id", "text_column": "text"}, "binary")


def _text() -> Sample:
    rng = np.random.default_rng(7)
    sentences = [
        "machine learning builds models from data",
        "deep learning uses neural networks",
        "the cat sat on the mat",
        "dogs and cats are pets",
        "stock prices rose sharply today",
        "markets fell as investors sold shares",
    ]
    frame = pd.DataFrame({"id": np.arange(ROWS), "text": [sentences[i % 6] for i in range(ROWS)]})
    frame["label"] = [int(i % 6 < 2) for i in range(ROWS)]
    frame["x1"] = rng.normal(size=ROWS)
    return Sample(frame, {"column": "text", "text_column": "text", "label": "label", "id_column": "id"})


def _images() -> Sample:
    """Digits 0, 1 and 2 (scikit-learn's 8x8): PNG bytes in ``image``, the same pixels in ``pixel_<y>_<x>`` (0 to 1)."""
    import io

    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = np.flatnonzero(digits.target < 3)[:ROWS]
    grey = np.round(digits.images[rows] * (255 / 16)).astype(np.uint8)
    encoded = []
    for picture in grey:
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    frame = pd.DataFrame(grey.reshape(len(rows), -1) / 255.0, columns=[f"pixel_{y}_{x}" for y in range(8) for x in range(8)])
    frame.insert(0, "image", encoded)
    frame["label"] = digits.target[rows].astype("int64")
    return Sample(frame, {"column": "image", "label": "label"}, "multiclass")


def _timeseries() -> Sample:
    time = pd.date_range("2024-01-01", periods=ROWS, freq="D")
    values = 10 + np.sin(np.arange(ROWS) * 2 * np.pi / 7) + np.arange(ROWS) * 0.05
    frame = pd.DataFrame({"time": time, "value": values, "group": ["a", "b"] * (ROWS // 2)})
    return Sample(frame, {"time_column": "time", "value_column": "value", "column": "value", "group_column": "group"})


def _ratings() -> Sample:
    rng = np.random.default_rng(7)
    users = rng.integers(0, 12, size=ROWS * 2)
    items = rng.integers(0, 15, size=ROWS * 2)
    frame = pd.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, size=ROWS * 2).astype(float)})
    frame = frame.drop_duplicates(["user", "item"]).reset_index(drop=True)
    return Sample(frame, {"user_column": "user", "item_column": "item", "rating_column": "rating"})


def _edges() -> Sample:
    rng = np.random.default_rng(7)
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, 20, size=(50, 2)) if a != b}
    frame = pd.DataFrame(sorted(pairs), columns=["source", "target"])
    frame["weight"] = 1.0
    return Sample(frame, {"source_column": "source", "target_column": "target", "weight_column": "weight"})


def _scored(kind: str) -> Sample:
    rng = np.random.default_rng(7)
    if kind == "binary":
        label = rng.integers(0, 2, size=ROWS)
        probability = np.clip(label * 0.6 + rng.uniform(0, 0.4, size=ROWS), 0, 1)
        frame = pd.DataFrame({"label": label, "prob_0": 1 - probability, "prob_1": probability, "prediction": (probability >= 0.5).astype(int)})
    elif kind == "multiclass":
        label = rng.integers(0, 3, size=ROWS)
        scores = rng.dirichlet(np.ones(3), size=ROWS)
        scores[np.arange(ROWS), label] += 1.0
        scores /= scores.sum(axis=1, keepdims=True)
        frame = pd.DataFrame({"label": label, **{f"prob_{i}": scores[:, i] for i in range(3)}, "prediction": scores.argmax(axis=1)})
    else:
        truth = rng.normal(size=ROWS)
        frame = pd.DataFrame({"label": truth, "prediction": truth + rng.normal(scale=0.2, size=ROWS)})
    return Sample(frame, {"label": "label", "prediction_column": "prediction"}, kind)


SAMPLES = {
    "classification": lambda: _classification(2),
    "multiclass": lambda: _classification(3),
    "regression": _regression,
    "numeric": _numeric,
    "mixed": _mixed,
    "text": _text,
    "images": _images,
    "timeseries": _timeseries,
    "ratings": _ratings,
    "edges": _edges,
    "scored_binary": lambda: _scored("binary"),
    "scored_multiclass": lambda: _scored("multiclass"),
    "scored_regression": lambda: _scored("regression"),
    "none": lambda: Sample(pd.DataFrame()),
    "text_images": lambda: _media().text_images(),
    "speech_audio": lambda: _media().speech_audio(),
}


def _media() -> Any:
    from tidal.conformance import _media_samples

    return _media_samples


def sample_for(kind: str) -> Sample:
    if kind not in SAMPLES:
        raise KeyError(f"unknown sample kind {kind!r}; known: {', '.join(SAMPLES)}")
    return SAMPLES[kind]()


def sample_model(sample: Sample) -> Any:
    """A small fitted model matching the sample, for components with a Model input."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from tidal.models import ModelPackage

    features = [name for name in sample.table.columns if name.startswith("x")]
    if sample.task == "regression":
        estimator = LinearRegression().fit(sample.table[features], sample.table["label"])
        task = "regression"
    else:
        estimator = LogisticRegression(max_iter=500).fit(sample.table[features], sample.table["label"])
        task = "binary" if sample.table["label"].nunique() == 2 else "multiclass"
    return ModelPackage.from_estimator(estimator, sample.table, features=features, task=task, label="label")
