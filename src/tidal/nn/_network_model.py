"""A network with its weights, and how the columns of a table feed it: the payload of a ``torch`` package.

:class:`NetworkModel` holds the spec, the weights (a ``state_dict`` of CPU tensors), the one
spec input the feature columns fill (its per-row shape: ``[64]`` for a tabular MLP, ``[1, 8, 8]``
for 8x8 images whose pixels are 64 columns, read row-major), the one spec output read back, and
the *head* that turns that output into answers:

* ``softmax``: a classifier with one logit per class (``[batch, classes]``);
* ``sigmoid``: a binary classifier with one logit (``[batch, 1]``), probability of the second class;
* ``identity``: a regressor with one value per row (``[batch, 1]`` or ``[batch]``);
* ``raw``: an untrained network (``nn.network``): ``predict`` gives the output as it is.

Optional per-column standardization (mean and standard deviation learned in training) runs
before the network; a regressor trained on a standardized label scales its output back
(``target_scale``). Nothing here imports torch until a prediction or the module is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from tidal.core._errors import DataError, TidalError
from tidal.nn._spec import NetworkSpec

HEADS = ("softmax", "sigmoid", "identity", "raw")
#: rows per forward pass when predicting: bounds memory on large tables
PREDICT_BATCH = 4096


@dataclass
class NetworkModel:
    """A network spec with weights, fed from table columns; see the module notes."""

    spec: NetworkSpec
    state: dict[str, Any]
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    head: str = "raw"
    classes: list[Any] | None = None
    input_dtype: str = "float32"
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    #: a regressor's label mean and standard deviation: its output is ``value * std + mean``
    target_scale: tuple[float, float] | None = None
    #: file name -> safetensors bytes of the weights after that epoch (``checkpoints/epoch_003.safetensors``)
    checkpoints: dict[str, bytes] = field(default_factory=dict)
    _module: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        self.input_shape = tuple(int(size) for size in self.input_shape)

    @property
    def width(self) -> int:
        """How many table columns feed the input: the product of its per-row shape."""
        return prod(self.input_shape)

    def module(self) -> Any:
        """The network as a ``torch.nn.Module`` holding these weights, in eval mode (built once)."""
        if self._module is None:
            from tidal.nn._build import build_module

            module = build_module(self.spec)
            module.load_state_dict(self.state)
            self._module = module.eval()
        return self._module

    def forget_module(self) -> None:
        """Drop the built module, so that the next prediction builds it from ``state`` again."""
        self._module = None

    # -- from columns to tensors ------------------------------------------------------------------
    def matrix(self, features: Any) -> np.ndarray:
        """The feature columns as one numeric matrix, scaled as in training."""
        frame = features
        try:
            matrix = np.asarray(frame, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("a network takes numeric feature columns only; encode text and categories first") from None
        if matrix.ndim != 2 or matrix.shape[1] != self.width:
            raise DataError(f"the network's input '{self.input_name}' takes {self.width} columns per row "
                            f"(shape {list(self.input_shape)}), got {matrix.shape[1] if matrix.ndim == 2 else matrix.shape}")
        if np.isnan(matrix).any():
            row = int(np.flatnonzero(np.isnan(matrix).any(axis=1))[0])
            raise DataError(f"row {row} has a missing value; a network needs every feature filled in (impute it first)")
        if self.mean is not None and self.std is not None:
            matrix = (matrix - self.mean) / self.std
        return matrix

    def tensor(self, matrix: np.ndarray) -> Any:
        """Rows of the matrix as the network's input tensor ``[rows, *input_shape]``."""
        import torch

        if self.input_dtype == "int64":
            return torch.from_numpy(np.ascontiguousarray(matrix.astype(np.int64))).reshape(-1, *self.input_shape)
        return torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)).reshape(-1, *self.input_shape)

    def select_output(self, result: Any) -> Any:
        """The output this model reads from what the network's forward returned."""
        names = list(self.spec.output_map)
        if len(names) == 1:
            return result
        return result[names.index(self.output_name)]

    # -- answers ------------------------------------------------------------------------------------
    def outputs(self, features: Any) -> np.ndarray:
        """The chosen network output for every row, as float64 (computed in batches of :data:`PREDICT_BATCH`)."""
        import torch

        matrix = self.matrix(features)
        module = self.module()
        parts = []
        with torch.inference_mode():
            for start in range(0, len(matrix), PREDICT_BATCH):
                produced = self.select_output(module(self.tensor(matrix[start: start + PREDICT_BATCH])))
                parts.append(produced.float().numpy().astype(np.float64))
        if not parts:
            raise DataError("there are no rows to predict")
        return np.concatenate(parts)

    def predict(self, features: Any) -> np.ndarray:
        if self.head in ("softmax", "sigmoid"):
            return np.asarray(self.classes)[self.predict_proba(features).argmax(axis=1)]
        produced = self.outputs(features)
        if self.head == "identity":
            values = produced.reshape(len(produced), -1)[:, 0] if produced.ndim > 1 else produced
            if self.target_scale is not None:
                values = values * self.target_scale[1] + self.target_scale[0]
            return values
        return produced

    def predict_proba(self, features: Any) -> np.ndarray:
        if self.head not in ("softmax", "sigmoid"):
            raise TidalError("this network is not a classifier: it gives no class probabilities")
        return probabilities(self.outputs(features), self.head)


def probabilities(logits: np.ndarray, head: str) -> np.ndarray:
    """Class probabilities from logits: softmax over the last dim, or a sigmoid as ``[1 - p, p]``."""
    logits = logits.reshape(len(logits), -1)
    if head == "sigmoid":
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponent = np.exp(shifted)
    return exponent / exponent.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def input_of(spec: NetworkSpec) -> tuple[str, tuple[int, ...], str]:
    """The spec's one input, its per-row shape (all numbers) and dtype; a TidalError names what to change."""
    if len(spec.inputs) != 1:
        raise TidalError(f"network '{spec.name}' has {len(spec.inputs)} inputs ({', '.join(spec.inputs)}); "
                         "a network fed from a table takes exactly one input")
    name, tensor = next(iter(spec.inputs.items()))
    sizes = list(tensor.shape[1:])
    symbolic = [str(size) for size in sizes if not isinstance(size, int)]
    if not tensor.shape or symbolic:
        shown = "[" + ", ".join(str(size) for size in tensor.shape) + "]"
        raise TidalError(f"network '{spec.name}' input '{name}' has shape {shown}; every size after the "
                         f"batch dim must be a number to be filled from table columns (symbolic: {', '.join(symbolic)})")
    if tensor.dtype not in ("float32", "int64"):
        raise TidalError(f"network '{spec.name}' input '{name}' has dtype {tensor.dtype}; a table feeds float32 or int64")
    return name, tuple(int(size) for size in sizes), tensor.dtype


def output_of(spec: NetworkSpec, chosen: str | None = None) -> str:
    """The spec output a model reads: ``chosen``, or the only one."""
    names = list(spec.output_map)
    if chosen is not None:
        if chosen not in names:
            raise TidalError(f"network '{spec.name}' has no output '{chosen}'; its outputs are {', '.join(names)}")
        return chosen
    if len(names) != 1:
        raise TidalError(f"network '{spec.name}' has {len(names)} outputs ({', '.join(names)}); choose one with 'output'")
    return names[0]
