"""Sentence encoders: what a flavor hands the search, and how the search runs one.

The seam is one optional method on a registered flavor object::

    class TextEncoderFlavor:
        name = "text_encoder"
        ...
        def encoder_parts(self, model) -> EncoderParts: ...

``tidal.optimize`` sits below the layer that defines such flavors and never imports it: it finds
the flavor by the package's flavor name in :data:`tidal.models.FLAVORS` and asks it for the
parts. The parts are plain values and callables (the torch module, a tokenizer, the pooling,
the head, and a function that rebuilds a servable model around an ONNX encoder), so the search
builds, scores and packages variants without knowing how the flavor stores anything.

Every variant of an encoder answers the same way: texts are tokenized by the flavor's own
tokenizer into ``int64`` ``input_ids`` and ``attention_mask`` (padded to the longest text of the
batch, or to a fixed length), the encoder gives token vectors, the search pools them (mean over
the mask, or the first token) and scales them to unit length when the flavor does, and the head
turns the sentence embeddings into class probabilities.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.optimize._data import OptimizeRefused

POOLINGS = ("mean", "first")
#: graph input and output names of an exported encoder
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding"


@dataclass(frozen=True)
class EncoderParts:
    """What a sentence-encoder flavor gives the search (``flavor.encoder_parts(model)``).

    ``module``: a torch module called as ``module(input_ids=..., attention_mask=...)`` that returns the
    token vectors ``[N, T, H]`` (a tensor, a tuple whose first item they are, or an object with
    ``last_hidden_state``). ``tokenize(texts, length)``: ``int64`` arrays ``(input_ids,
    attention_mask)`` of shape ``[N, L]``, ``L`` = ``length`` when given (padded or cut to it), else the
    longest text of the batch, cut at ``max_length``. ``head(embeddings)``: class probabilities
    ``[N, len(classes)]``. ``rebuild(graph, session)``: a model object of flavor ``flavor`` that runs
    the ONNX encoder ``graph`` (bytes, inputs :data:`INPUTS`, output :data:`OUTPUT`, pooling inside)
    with the same tokenizer and head, and the onnxruntime session options ``session``.
    """

    column: str
    module: Any
    tokenize: Callable[[Sequence[str], int | None], tuple[np.ndarray, np.ndarray]]
    max_length: int
    pooling: str
    normalize: bool
    head: Callable[[np.ndarray], np.ndarray]
    classes: list[Any]
    flavor: str
    rebuild: Callable[[bytes, dict[str, Any]], Any]
    attention_heads: int = 0  # 0: onnxruntime's fusion reads them from the graph
    hidden_size: int = 0
    batch_size: int = 32


def encoder_parts_of(package: Any) -> EncoderParts | None:
    """The parts of ``package`` when its flavor offers them (a sentence encoder), else ``None``."""
    from tidal.models import FLAVORS

    offer = getattr(FLAVORS.get(package.flavor), "encoder_parts", None)
    if offer is None:
        return None
    parts = offer(package.model)
    if not isinstance(parts, EncoderParts):
        raise OptimizeRefused(f"flavor '{package.flavor}' offers encoder parts of type {type(parts).__name__}, "
                              "not tidal.optimize.EncoderParts")
    if parts.pooling not in POOLINGS:
        raise OptimizeRefused(f"flavor '{package.flavor}' pools with '{parts.pooling}'; the search runs "
                              f"{', '.join(POOLINGS)} pooling")
    return parts


def texts_of(frame: pd.DataFrame, column: str) -> list[str]:
    """The text column as strings; missing values read as the empty string."""
    return ["" if value is None or (isinstance(value, float) and value != value) else str(value)
            for value in frame[column].tolist()]


def check_texts(frame: pd.DataFrame, column: str) -> None:
    """Refuse a text column holding numbers or other non-text values, naming the column (never echoing values)."""
    kinds = {type(value).__name__ for value in frame[column].tolist()
             if value is not None and not isinstance(value, str) and not (isinstance(value, float) and value != value)}
    if kinds:
        raise OptimizeRefused(f"column '{column}' of the validation table must hold text, but it holds "
                              f"{', '.join(sorted(kinds))} values; give the texts the encoder reads")


def hidden_states(output: Any) -> Any:
    """The token vectors from whatever the module returned."""
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


def pool(hidden: Any, mask: Any, pooling: str, normalize: bool) -> Any:
    """Sentence vectors from token vectors: the mean over the mask, or the first token; unit length if asked."""
    import torch

    if pooling == "first":
        pooled = hidden[:, 0]
    else:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled


class EncoderRunner(ABC):
    """Texts in, sentence embeddings out; ``answer`` adds the head (what serving does for each request).
    Each way of running the encoder (eager, an ONNX session) says how it embeds."""

    def __init__(self, parts: EncoderParts) -> None:
        self.parts = parts
        self.classes = np.asarray(parts.classes, dtype=object)

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """One row of sentence embedding per text."""

    def answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        probabilities = np.asarray(self.parts.head(self.embed(texts_of(frame, self.parts.column))), dtype=np.float64)
        return self.classes[probabilities.argmax(axis=1)], probabilities


class EagerRunner(EncoderRunner):
    """The torch module run eagerly, in float32 or under CPU autocast to ``bfloat16``."""

    def __init__(self, parts: EncoderParts, autocast: str | None = None) -> None:
        super().__init__(parts)
        self.autocast = autocast

    def embed(self, texts: list[str]) -> np.ndarray:
        import contextlib

        import torch

        ids, mask = self.parts.tokenize(texts, None)
        ids_t, mask_t = torch.from_numpy(np.ascontiguousarray(ids)), torch.from_numpy(np.ascontiguousarray(mask))
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast == "bf16" else contextlib.nullcontext()
        with torch.inference_mode(), cast:
            hidden = hidden_states(self.parts.module(input_ids=ids_t, attention_mask=mask_t))
        with torch.inference_mode():
            pooled = pool(hidden.float(), mask_t, self.parts.pooling, self.parts.normalize)
        return pooled.numpy().astype(np.float32, copy=False)  # type: ignore[no-any-return]


class OnnxEncoderRunner(EncoderRunner):
    """An exported encoder (pooling inside the graph) in an onnxruntime session with the variant's options."""

    def __init__(self, parts: EncoderParts, path: Path, settings: dict[str, Any] | None = None) -> None:
        import onnxruntime

        from tidal.optimize._measure import session_options

        super().__init__(parts)
        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(str(path), session_options(settings or {}),
                                                    providers=["CPUExecutionProvider"])
        #: dynamic INT8 scales each matrix product's input by the range of the whole batch, so a text's
        #: embedding depends on the texts it is batched with
        self.batch_dependent = quantizes_dynamically(self.path)

    def embed(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.parts.tokenize(texts, None)
        produced = self.session.run([OUTPUT], {INPUTS[0]: ids, INPUTS[1]: mask})[0]
        return np.asarray(produced, dtype=np.float32)


#: operators of a dynamically quantized graph (before and after onnxruntime's fusions)
DYNAMIC_QUANTIZATION_OPS = frozenset({"DynamicQuantizeLinear", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
                                      "DynamicQuantizeLSTM"})


def quantizes_dynamically(path: Path) -> bool:
    """Whether the ONNX graph at ``path`` quantizes activations per call (its results then depend on the batch).
    Read once per file: the graph variants and the runtime options of one graph share its file."""
    stat = Path(path).stat()
    return _quantizes_dynamically(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _quantizes_dynamically(path: str, _mtime_ns: int, _size: int) -> bool:
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    return any(node.op_type in DYNAMIC_QUANTIZATION_OPS for node in graph.node)


def embed_all(runner: EncoderRunner, texts: list[str], batch_size: int) -> np.ndarray:
    """Embeddings of every text as a packaged encoder computes them: the texts ordered by their number of
    word pieces (longest first, so texts of similar length share a batch and its padding), ``batch_size``
    at a time, the rows put back in the texts' order. An optimized package (``text_encoder_onnx``) batches
    the same way, so a variant whose answers depend on the batch is measured as it will answer."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    _ids, mask = runner.parts.tokenize(texts, None)
    lengths = np.asarray(mask).sum(axis=1)
    order = np.argsort(-lengths, kind="stable")
    result: np.ndarray | None = None
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        produced = runner.embed([texts[row] for row in rows])
        if result is None:
            result = np.zeros((len(texts), produced.shape[1]), dtype=np.float32)
        result[rows] = produced
    assert result is not None
    return result


@dataclass(frozen=True)
class CosineBound:
    """How close a variant's sentence embeddings must stay to the original's: mean and smallest row cosine."""

    mean: float = 0.99
    min: float = 0.97

    def __post_init__(self) -> None:
        for name, value in (("mean", self.mean), ("min", self.min)):
            if not isinstance(value, (int, float)) or not -1.0 <= float(value) <= 1.0:
                raise OptimizeRefused(f"the cosine bound's {name} must be a number from -1 to 1, got {value!r}")

    def misses(self, mean: float | None, smallest: float | None) -> str:
        """Why a variant's cosines miss the bound, or ``""`` when they keep within it."""
        if mean is None or smallest is None:
            return "its embeddings were not compared with the original's"
        parts = []
        if mean < self.mean:
            parts.append(f"mean cosine {mean:.4f} < {self.mean:g}")
        if smallest < self.min:
            parts.append(f"smallest cosine {smallest:.4f} < {self.min:g}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "min": self.min}
