"""The ``text_encoder`` model flavor: a sentence encoder with a linear classifier head, in safe files only.

::

    model/
      MANIFEST.json              flavor text_encoder, task, signature (one BYTES text input)
      text_encoder.json          the payload: column, pooling, max length, classes, file names
      encoder/config.json        the BERT architecture
      encoder/model.safetensors  the encoder's weights
      encoder/tokenizer.json     its tokenizer (read with ``tokenizers``, never from outside the folder)
      head.safetensors           the classifier head: ``weight`` [classes or 1, dimensions] and ``bias``

Loading never unpickles: a package holding any other file (``pytorch_model.bin``, a pickle, a
``vocab.txt`` that a slow tokenizer would read) is refused, every file name is checked to stay in
the folder, and the weights are checked against the config before they are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.components._text_encoders import (
    DEFAULT_MAX_LENGTH,
    ENCODER_FILES,
    SentenceEncoder,
    load_encoder,
    texts_of,
)
from tidal.core._errors import DataError
from tidal.models._archive import MANIFEST, PackageRefused, check_folder_links, contained
from tidal.models._flavors import register_flavor

FLAVOR = "text_encoder"
SETTINGS = "text_encoder.json"
HEAD = "head.safetensors"
ENCODER = "encoder"
ALLOWED_FILES = frozenset({MANIFEST, SETTINGS, HEAD, *(f"{ENCODER}/{name}" for name in ENCODER_FILES)})
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_CLASSES = 10_000


@dataclass
class TextClassifier:
    """Frozen sentence embeddings and a linear head (multinomial, or one logit for two classes)."""

    encoder: SentenceEncoder
    column: str
    weight: np.ndarray
    bias: np.ndarray
    classes: list[Any]
    batch_size: int = 32

    def embeddings(self, features: Any) -> np.ndarray:
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame({self.column: list(features)})
        return self.encoder.embed(texts_of(frame, self.column), batch_size=self.batch_size)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return head_probabilities(embeddings, self.weight, self.bias)

    def predict_proba(self, features: Any) -> np.ndarray:
        return self.probabilities(self.embeddings(features))

    def predict(self, features: Any) -> np.ndarray:
        return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[
            self.predict_proba(features).argmax(axis=1)]


def head_probabilities(embeddings: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Class probabilities from sentence embeddings: a sigmoid over one logit, or a softmax."""
    scores = embeddings.astype(np.float64) @ weight.T.astype(np.float64) + bias.astype(np.float64)
    if scores.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _tensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    return save({key: np.ascontiguousarray(value) for key, value in tensors.items()}, metadata={"format": "np"})


class TextEncoderFlavor:
    """Classifiers over a sentence encoder (``text.encoder_classifier``): safetensors, a tokenizer file and JSON."""

    name = FLAVOR
    libraries = ("transformers", "tokenizers", "torch", "safetensors")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, TextClassifier)

    def save(self, model: Any, folder: Path) -> str:
        (folder / ENCODER).mkdir()
        model.encoder.write(folder / ENCODER)
        (folder / HEAD).write_bytes(_tensors_bytes({"weight": model.weight, "bias": model.bias}))
        settings = {"format": 1, "encoder": {"name": model.encoder.name, "folder": ENCODER, "pooling": "mean",
                                             "normalize": True, "max_length": model.encoder.max_length},
                    "column": model.column, "classes": model.classes, "head": HEAD, "batch_size": model.batch_size}
        (folder / SETTINGS).write_text(json.dumps(settings, indent=1))
        return SETTINGS

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        check_folder_links(folder)
        _check_files(folder)
        settings = _read_settings(folder, payload)
        encoder_folder = contained(folder, settings["encoder"]["folder"], field="encoder.folder")
        encoder = load_encoder(encoder_folder, shown=folder, max_length=settings["encoder"]["max_length"],
                               name=str(settings["encoder"].get("name", "")))
        weight, bias = _read_head(folder, settings["head"], encoder.dimensions, len(settings["classes"]))
        return TextClassifier(encoder, settings["column"], weight, bias, settings["classes"], settings["batch_size"])

    def encoder_parts(self, model: TextClassifier) -> Any:
        """What ``tidal optimize`` needs to build, score and package variants of this encoder (the seam of
        :class:`tidal.optimize.EncoderParts`); the optimized package is of flavor ``text_encoder_onnx``."""
        import functools

        from tidal.components._text_encoder_onnx import FLAVOR as ONNX_FLAVOR
        from tidal.components._text_encoder_onnx import onnx_classifier
        from tidal.components._text_encoders import token_arrays
        from tidal.optimize import EncoderParts

        encoder = model.encoder
        limit = min(int(encoder.max_length), int(encoder.config["max_position_embeddings"]))
        return EncoderParts(
            column=model.column, module=encoder.module,
            tokenize=functools.partial(token_arrays, encoder.tokenizer, limit, int(encoder.config["pad_token_id"])),
            max_length=limit, pooling="mean", normalize=True, head=model.probabilities, classes=list(model.classes),
            flavor=ONNX_FLAVOR, rebuild=functools.partial(onnx_classifier, model),
            attention_heads=int(encoder.config["num_attention_heads"]), hidden_size=int(encoder.config["hidden_size"]),
            batch_size=model.batch_size)


def _check_files(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() or relative in ALLOWED_FILES:
            continue
        kind = ("a pickle, which runs code when loaded" if relative.endswith((".bin", ".pkl", ".pickle", ".pt", ".pth"))
                else "a file a text encoder package never holds")
        raise PackageRefused(f"{folder}: the text encoder package holds '{relative}' ({kind}); it may hold only "
                             f"{', '.join(sorted(ALLOWED_FILES))}. Convert PyTorch weights to safetensors first")


def _read_settings(folder: Path, payload: str) -> dict[str, Any]:
    path = contained(folder, payload, field="payload")
    if payload != SETTINGS or not path.is_file():
        raise PackageRefused(f"{folder}: a text encoder package's payload is {SETTINGS}, got {payload!r}")
    if path.stat().st_size > MAX_SETTINGS_BYTES:
        raise PackageRefused(f"{folder}: {SETTINGS} is larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is not valid JSON: {error}") from None
    try:
        if not isinstance(settings, dict) or settings.get("format") != 1:
            raise ValueError("it must be an object with 'format': 1")
        encoder = settings.get("encoder")
        if not isinstance(encoder, dict) or encoder.get("pooling") != "mean" or encoder.get("normalize") is not True:
            raise ValueError("'encoder' must be an object with 'pooling': 'mean' and 'normalize': true")
        if type(encoder.get("max_length", DEFAULT_MAX_LENGTH)) is not int or not 2 <= encoder.get("max_length", 2) <= 8192:
            raise ValueError("'encoder.max_length' must be a whole number from 2 to 8192")
        encoder.setdefault("max_length", DEFAULT_MAX_LENGTH)
        if not isinstance(settings.get("column"), str) or not settings["column"]:
            raise ValueError("'column' must name the text column")
        classes = settings.get("classes")
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES or not all(
                type(value) in (str, int, bool) for value in classes):
            raise ValueError(f"'classes' must list 2 to {MAX_CLASSES} strings or whole numbers")
        if type(settings.setdefault("batch_size", 32)) is not int or not 1 <= settings["batch_size"] <= 4096:
            raise ValueError("'batch_size' must be a whole number from 1 to 4096")
        if settings.get("head") != HEAD or encoder.get("folder") != ENCODER:
            raise ValueError(f"'head' must be {HEAD!r} and 'encoder.folder' {ENCODER!r}")
    except ValueError as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is malformed: {error}") from None
    return settings  # type: ignore[no-any-return]


def _read_head(folder: Path, name: str, dimensions: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = contained(folder, name, field="head")
    if not path.is_file():
        raise PackageRefused(f"{folder}: {name} is missing from the package")
    try:
        tensors = load(path.read_bytes())
    except (SafetensorError, ValueError) as error:
        raise PackageRefused(f"{folder}: {name} is not a valid safetensors file: {error}") from None
    outputs = 1 if n_classes == 2 else n_classes
    weight, bias = tensors.get("weight"), tensors.get("bias")
    if (set(tensors) != {"weight", "bias"} or weight is None or bias is None or weight.shape != (outputs, dimensions)
            or bias.shape != (outputs,) or weight.dtype.kind != "f" or bias.dtype.kind != "f"):
        raise PackageRefused(f"{folder}: {name} must hold float 'weight' [{outputs}, {dimensions}] and 'bias' [{outputs}] "
                             f"for {n_classes} classes and {dimensions}-dimensional embeddings")
    return weight, bias


def classifier_package(model: TextClassifier, label: str | None) -> Any:
    from tidal.models import ModelPackage

    if not model.classes:
        raise DataError("a classifier needs at least two classes")
    task = "binary" if len(model.classes) == 2 else "multiclass"
    return ModelPackage(model=model, task=task, features=[model.column], flavor=FLAVOR, label=label,
                        classes=list(model.classes), feature_types={model.column: "object"},
                        params={"encoder": model.encoder.name, "max_length": model.encoder.max_length},
                        metadata={"encoder": model.encoder.name, "dimensions": model.encoder.dimensions,
                                  "pooling": "mean", "head": "logistic regression on frozen embeddings"})


register_flavor(TextEncoderFlavor())
