"""The ``text_encoder_onnx`` model flavor: a sentence encoder run by onnxruntime, with its tokenizer and head.

``tidal optimize`` writes it when a variant of a ``text_encoder`` package wins (the float32 export,
the fused graph, an INT8 one): the same tokenizer and the same linear head as the original, the
encoder as an ONNX graph (pooling inside), and the onnxruntime session options the search measured.

::

    model/
      MANIFEST.json              flavor text_encoder_onnx, task, signature (one BYTES text input), lineage
      text_encoder_onnx.json     column, classes, max length, padding id, session options
      encoder/model.onnx         the encoder: int64 input_ids and attention_mask [N, T] -> embedding [N, H]
      encoder/tokenizer.json     its tokenizer (read with ``tokenizers``)
      head.safetensors           the classifier head: ``weight`` and ``bias``

Loading never unpickles and reads nothing outside the folder: any other file is refused, the graph
is refused before onnxruntime reads it when it names external data or declares tensors larger
than their bytes (:func:`tidal.optimize.check_onnx_file`), and its inputs and output are checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.components._text_encoder_model import (
    HEAD,
    _read_head,
    _tensors_bytes,
    head_probabilities,
)
from tidal.components._text_encoders import _cut, _tokenizer, padded, texts_of
from tidal.models._archive import MANIFEST, PackageRefused, check_folder_links
from tidal.models._flavors import register_flavor

FLAVOR = "text_encoder_onnx"
SETTINGS = "text_encoder_onnx.json"
ENCODER = "encoder"
GRAPH = f"{ENCODER}/model.onnx"
TOKENIZER = f"{ENCODER}/tokenizer.json"
ALLOWED_FILES = frozenset({MANIFEST, SETTINGS, GRAPH, TOKENIZER, HEAD})
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_CLASSES = 10_000
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding"
GRAPH_LEVELS = ("disabled", "basic", "extended", "all")


def _session_options(session: Any, where: str) -> Any:
    import onnxruntime

    if not isinstance(session, dict) or set(session) - {"graph_level", "threads", "arena"}:
        raise PackageRefused(f"{where}: 'session' must be an object with graph_level, threads and arena only")
    level, threads, arena = session.get("graph_level", "all"), session.get("threads"), session.get("arena", True)
    if level not in GRAPH_LEVELS or (threads is not None and (type(threads) is not int or not 1 <= threads <= 1024)) \
            or type(arena) is not bool:
        raise PackageRefused(f"{where}: 'session' {session!r} is not valid; graph_level is one of "
                             f"{', '.join(GRAPH_LEVELS)}, threads a whole number 1-1024, arena true or false")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = {
        "disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_cpu_mem_arena = arena
    return options


def _session(graph: bytes, settings: dict[str, Any], dimensions: int, pad: int, where: str) -> Any:
    """An onnxruntime session for the encoder graph, its inputs and output checked (declared, and on one
    two-token sequence: the output must be ``[1, dimensions]``, the head's width)."""
    import onnxruntime

    options = _session_options(settings, where)
    try:
        session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own errors: not a graph it can run
        raise PackageRefused(f"{where}: {GRAPH} cannot be loaded by onnxruntime: {str(error)[:200]}") from None
    inputs = {item.name: item for item in session.get_inputs()}
    outputs = {item.name: item for item in session.get_outputs()}
    if set(inputs) != set(INPUTS) or any(item.type != "tensor(int64)" or len(item.shape) != 2 for item in inputs.values()):
        raise PackageRefused(f"{where}: {GRAPH} must take exactly int64 [N, T] inputs {', '.join(INPUTS)}; it takes "
                             f"{', '.join(f'{name} {item.type} {item.shape}' for name, item in inputs.items())}")
    output = outputs.get(OUTPUT)
    width = output.shape[1] if output is not None and len(output.shape) == 2 else None
    if output is None or output.type != "tensor(float)" or len(output.shape) != 2 or (
            isinstance(width, int) and width != dimensions):
        raise PackageRefused(f"{where}: {GRAPH} must give a float [N, {dimensions}] output '{OUTPUT}' for the head")
    probe = np.full((1, 2), pad, dtype=np.int64)
    try:
        shape = np.shape(session.run([OUTPUT], {INPUTS[0]: probe, INPUTS[1]: np.ones_like(probe)})[0])
    except Exception as error:  # onnxruntime's own errors: the graph cannot run on a plain sequence
        raise PackageRefused(f"{where}: {GRAPH} fails on a two-token sequence: {str(error)[:200]}") from None
    if shape != (1, dimensions):
        raise PackageRefused(f"{where}: {GRAPH} must give a float [N, {dimensions}] output '{OUTPUT}' for the head; "
                             f"it gives {list(shape)}")
    return session


@dataclass
class OnnxTextClassifier:
    """A sentence encoder as an ONNX graph, its tokenizer and a linear head: predicts like ``TextClassifier``."""

    graph: bytes = field(repr=False)
    tokenizer: Any = field(repr=False)
    column: str
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    classes: list[Any]
    max_length: int
    pad_token_id: int
    vocab_size: int
    session_settings: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    name: str = ""
    where: str = FLAVOR

    def __post_init__(self) -> None:
        self.session = _session(self.graph, self.session_settings, int(self.weight.shape[1]), self.pad_token_id,
                                self.where)

    def embeddings(self, features: Any) -> np.ndarray:
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame({self.column: list(features)})
        texts = texts_of(frame, self.column)
        encodings = self.tokenizer.encode_batch(texts)
        ids = [_cut(encoding.ids, self.max_length) for encoding in encodings]
        order = np.argsort([-len(item) for item in ids], kind="stable")  # rows of similar length together
        result = np.zeros((len(texts), int(self.weight.shape[1])), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            input_ids, mask = padded([ids[row] for row in rows], self.pad_token_id)
            result[rows] = self.session.run([OUTPUT], {INPUTS[0]: input_ids, INPUTS[1]: mask})[0]
        return result

    def predict_proba(self, features: Any) -> np.ndarray:
        return head_probabilities(self.embeddings(features), self.weight, self.bias)

    def predict(self, features: Any) -> np.ndarray:
        return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[
            self.predict_proba(features).argmax(axis=1)]


def onnx_classifier(model: Any, graph: bytes, session: dict[str, Any]) -> OnnxTextClassifier:
    """``model`` (a ``TextClassifier``) with its encoder replaced by the ONNX ``graph`` run with ``session`` options."""
    encoder = model.encoder
    return OnnxTextClassifier(graph, encoder.tokenizer, model.column, model.weight, model.bias, list(model.classes),
                              min(int(encoder.max_length), int(encoder.config["max_position_embeddings"])),
                              int(encoder.config["pad_token_id"]), int(encoder.config["vocab_size"]), dict(session),
                              model.batch_size, encoder.name)


class TextEncoderOnnxFlavor:
    """Classifiers over a sentence encoder exported to ONNX (written by ``tidal optimize``)."""

    name = FLAVOR
    libraries = ("onnxruntime", "tokenizers", "safetensors")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, OnnxTextClassifier)

    def save(self, model: Any, folder: Path) -> str:
        (folder / ENCODER).mkdir()
        (folder / GRAPH).write_bytes(model.graph)
        (folder / TOKENIZER).write_text(model.tokenizer.to_str(), encoding="utf-8")
        (folder / HEAD).write_bytes(_tensors_bytes({"weight": model.weight, "bias": model.bias}))
        settings = {"format": 1, "column": model.column, "classes": model.classes, "batch_size": model.batch_size,
                    "encoder": {"name": model.name, "max_length": model.max_length, "pad_token_id": model.pad_token_id,
                                "vocab_size": model.vocab_size, "pooling": "mean", "normalize": True,
                                "inputs": list(INPUTS), "output": OUTPUT},
                    "session": model.session_settings}
        (folder / SETTINGS).write_text(json.dumps(settings, indent=1))
        return SETTINGS

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        from tidal.optimize import OptimizeRefused, check_onnx_file

        check_folder_links(folder)
        _check_files(folder)
        if payload != SETTINGS:
            raise PackageRefused(f"{folder}: a {FLAVOR} package's payload is {SETTINGS}, got {payload!r}")
        settings = _read_settings(folder)
        encoder = settings["encoder"]
        graph_path = folder / GRAPH
        if not graph_path.is_file():
            raise PackageRefused(f"{folder}: {GRAPH} is missing from the package")
        try:
            check_onnx_file(graph_path)  # external data, declared sizes: before onnxruntime reads it
        except OptimizeRefused as error:
            raise PackageRefused(str(error)) from None
        tokenizer = _tokenizer(folder / ENCODER, folder, encoder["vocab_size"])
        weight, bias = _read_head(folder, HEAD, _head_width(folder), len(settings["classes"]))
        return OnnxTextClassifier(graph_path.read_bytes(), tokenizer, settings["column"], weight, bias, settings["classes"],
                                  encoder["max_length"], encoder["pad_token_id"], encoder["vocab_size"],
                                  settings["session"], settings["batch_size"], str(encoder.get("name", "")), str(folder))


def _head_width(folder: Path) -> int:
    """The embedding width the head takes (its weight's second axis); the head is checked in full after."""
    from safetensors import SafetensorError, safe_open

    path = folder / HEAD
    if not path.is_file() or path.is_symlink():
        raise PackageRefused(f"{folder}: {HEAD} is missing from the package")
    try:
        with safe_open(str(path), framework="numpy") as tensors:
            shape = tensors.get_slice("weight").get_shape() if "weight" in tensors.keys() else []
    except (SafetensorError, OSError, ValueError) as error:
        raise PackageRefused(f"{folder}: {HEAD} is not a valid safetensors file: {error}") from None
    if len(shape) != 2 or not 1 <= int(shape[1]) <= 65536:
        raise PackageRefused(f"{folder}: {HEAD} must hold a 2-dimensional 'weight' [classes, dimensions]")
    return int(shape[1])


def _check_files(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() or relative in ALLOWED_FILES:
            continue
        kind = ("a pickle, which runs code when loaded" if relative.endswith((".bin", ".pkl", ".pickle", ".pt", ".pth"))
                else "a file this package never holds")
        raise PackageRefused(f"{folder}: the {FLAVOR} package holds '{relative}' ({kind}); it may hold only "
                             f"{', '.join(sorted(ALLOWED_FILES))}")


def _read_settings(folder: Path) -> dict[str, Any]:
    path = folder / SETTINGS
    if not path.is_file() or path.stat().st_size > MAX_SETTINGS_BYTES:
        raise PackageRefused(f"{folder}: {SETTINGS} is missing or larger than {MAX_SETTINGS_BYTES} bytes")
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
        for key, low, high in (("max_length", 2, 8192), ("pad_token_id", 0, 499_999), ("vocab_size", 1, 500_000)):
            if type(encoder.get(key)) is not int or not low <= encoder[key] <= high:
                raise ValueError(f"'encoder.{key}' must be a whole number from {low} to {high}")
        if encoder["pad_token_id"] >= encoder["vocab_size"]:
            raise ValueError("'encoder.pad_token_id' must be a token id below 'encoder.vocab_size'")
        if not isinstance(settings.get("column"), str) or not settings["column"]:
            raise ValueError("'column' must name the text column")
        classes = settings.get("classes")
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES or not all(
                type(value) in (str, int, bool) for value in classes):
            raise ValueError(f"'classes' must list 2 to {MAX_CLASSES} strings or whole numbers")
        if type(settings.setdefault("batch_size", 32)) is not int or not 1 <= settings["batch_size"] <= 4096:
            raise ValueError("'batch_size' must be a whole number from 1 to 4096")
        if not isinstance(settings.setdefault("session", {}), dict):
            raise ValueError("'session' must be an object")
    except ValueError as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is malformed: {error}") from None
    return settings  # type: ignore[no-any-return]


register_flavor(TextEncoderOnnxFlavor())
