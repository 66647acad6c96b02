"""An encoder's ONNX graphs: the export, onnxruntime's transformer fusions, and which matrix products
cost the most cosine when quantized.

* :func:`export_encoder`: the module with the pooling inside, exported by PyTorch's TorchScript
  exporter (opset 17; the graph shape onnxruntime's BERT fusions recognise), the dynamo exporter
  where that fails; batch and sequence axes dynamic. The attention runs as plain operators
  (``set_attn_implementation("eager")`` on a copy, where the module has it), and the example batch
  is padded, so the graph keeps the attention mask. The graph is checked against the module on the
  validation texts before any variant uses it.
* :func:`fuse_encoder`: ``onnxruntime.transformers.optimizer.optimize_model(model_type="bert")``,
  which fuses attention, LayerNorm (with the residual add) and GELU into onnxruntime's own kernels.
* :func:`linear_costs`: each ``Linear`` layer's cost in cosine when it alone is quantized the way
  dynamic INT8 quantizes it (activations uint8 per tensor, weights int8 per tensor or channel),
  simulated in the torch module on the validation texts; :func:`nodes_of_linears` finds the graph
  nodes that hold those layers' weights, so the costliest can stay in float32 (``nodes_to_exclude``).
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tidal.optimize._encoder import INPUTS, OUTPUT, CosineBound, EncoderParts, hidden_states, pool

OPSET = 17
#: a graph whose embeddings differ more than this (1 - smallest cosine) from the module's is refused
EXPORT_TOLERANCE = 1e-4


def _wrapper(parts: EncoderParts) -> Any:
    import torch

    module = copy.deepcopy(parts.module)
    if hasattr(module, "set_attn_implementation"):
        try:
            module.set_attn_implementation("eager")
        except Exception:  # a module that has no eager attention: exported as it is
            pass
    module.eval()

    class Embedder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = module

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = hidden_states(self.encoder(input_ids=input_ids, attention_mask=attention_mask))
            return pool(hidden, attention_mask, parts.pooling, parts.normalize)

    return Embedder().eval()


def _example(parts: EncoderParts) -> tuple[Any, Any]:
    """Two texts of different lengths: the mask has padding, so the exporter keeps it."""
    import torch

    ids, mask = parts.tokenize(["a short one", "a somewhat longer example sentence for the export"], None)
    return torch.from_numpy(np.ascontiguousarray(ids)), torch.from_numpy(np.ascontiguousarray(mask))


def export_encoder(parts: EncoderParts, target: Path) -> str:
    """Write the encoder (pooling inside) to ``target``; returns which exporter wrote it."""
    import torch

    wrapper, example = _wrapper(parts), _example(parts)
    axes = {INPUTS[0]: {0: "batch", 1: "sequence"}, INPUTS[1]: {0: "batch", 1: "sequence"}, OUTPUT: {0: "batch"}}
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in quiet]
    try:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(wrapper, example, str(target), input_names=list(INPUTS), output_names=[OUTPUT],
                                  opset_version=OPSET, dynamo=False, dynamic_axes=axes, do_constant_folding=True)
                return f"torch {torch.__version__} TorchScript exporter, opset {OPSET}"
            except Exception as first:  # no TorchScript exporter, or a layer it cannot trace: try dynamo
                batch, sequence = torch.export.Dim("batch", min=1), torch.export.Dim("sequence", min=2)
                shapes = ({0: batch, 1: sequence}, {0: batch, 1: sequence})
                try:
                    program = torch.onnx.export(wrapper, example, input_names=list(INPUTS), output_names=[OUTPUT],
                                                opset_version=18, dynamo=True, dynamic_shapes=shapes, optimize=True)
                    assert program is not None
                    program.save(str(target))
                except Exception as second:
                    raise RuntimeError(f"neither ONNX exporter could write the encoder: TorchScript: "
                                       f"{_first_line(first)}; dynamo: {_first_line(second)}") from None
                return f"torch {torch.__version__} dynamo exporter, opset 18"
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:200]


def check_export(reference: np.ndarray, exported: np.ndarray) -> None:
    """Refuse a graph whose embeddings are not the module's (a dropped mask, a traced constant)."""
    rows = np.sum(reference * exported, axis=1) / np.maximum(
        np.linalg.norm(reference, axis=1) * np.linalg.norm(exported, axis=1), 1e-30)
    if reference.shape != exported.shape or float(rows.min()) < 1 - EXPORT_TOLERANCE:
        worst = float(rows.min()) if reference.shape == exported.shape else float("nan")
        raise RuntimeError(f"the exported graph does not reproduce the encoder (smallest cosine {worst:.6f} on the "
                           "validation texts); the export is not used")


def fuse_encoder(parts: EncoderParts, source: Path, target: Path) -> dict[str, int]:
    """onnxruntime's BERT fusions of ``source`` into ``target``; the fused operators and their counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    from tidal.optimize._quantize import quiet

    with quiet():
        # opt_level 0: the fusions alone (onnxruntime's own graph passes run when a session loads the graph)
        fused = optimize_model(str(source), model_type="bert", num_heads=parts.attention_heads,
                               hidden_size=parts.hidden_size, opt_level=0, use_gpu=False)
        fused.save_model_to_file(str(target), use_external_data_format=False)
        counts = fused.get_fused_operator_statistics()
    found = {name: int(count) for name, count in counts.items() if count}
    if not any(name in found for name in ("Attention", "MultiHeadAttention", "SkipLayerNormalization")):
        raise RuntimeError(f"onnxruntime's BERT fusions found nothing to fuse in this graph (fused: {found or 'none'})")
    return found


def _fake_quantized(linear: Any, per_channel: bool, reduce_range: bool,
                    calibrated: tuple[float, float] | None = None) -> Any:
    """A forward for ``linear`` that quantizes its input (uint8, per tensor, from the call's range, as
    onnxruntime's dynamic INT8 does, or from the ``calibrated`` range, as its static INT8 does) and its
    weight (int8, symmetric, per tensor or per output channel)."""
    import torch

    levels = 63.0 if reduce_range else 127.0
    weight = linear.weight.detach()
    largest = weight.abs().amax(dim=1, keepdim=True) if per_channel else weight.abs().max()
    scale_w = torch.clamp(largest / levels, min=1e-12)
    weight_q = torch.round(weight / scale_w) * scale_w

    def forward(inputs: Any) -> Any:
        found = (inputs.min(), inputs.max()) if calibrated is None else (torch.tensor(calibrated[0]),
                                                                          torch.tensor(calibrated[1]))
        low, high = torch.clamp(found[0], max=0.0), torch.clamp(found[1], min=0.0)
        scale = torch.clamp((high - low) / 255.0, min=1e-12)
        zero = torch.round(-low / scale)
        quantized = (torch.clamp(torch.round(inputs / scale) + zero, 0, 255) - zero) * scale
        return torch.nn.functional.linear(quantized, weight_q, linear.bias)

    return forward


def input_ranges(parts: EncoderParts, texts: list[str]) -> dict[str, tuple[float, float]]:
    """Each ``Linear`` layer's smallest and largest input value over ``texts``: the ranges a MinMax
    calibration of static INT8 gives its activations."""
    import torch

    from tidal.optimize._encoder import EagerRunner, embed_all

    ranges: dict[str, tuple[float, float]] = {}

    def recorder(name: str) -> Any:
        def hook(_module: Any, inputs: tuple[Any, ...]) -> None:
            low, high = float(inputs[0].min()), float(inputs[0].max())
            seen = ranges.get(name, (low, high))
            ranges[name] = (min(seen[0], low), max(seen[1], high))
        return hook

    handles = [layer.register_forward_pre_hook(recorder(name)) for name, layer in parts.module.named_modules()
               if isinstance(layer, torch.nn.Linear)]
    try:
        embed_all(EagerRunner(parts), texts, parts.batch_size)
    finally:
        for handle in handles:
            handle.remove()
    return ranges


def linear_costs(parts: EncoderParts, texts: list[str], reference: np.ndarray, bound: CosineBound,
                 per_channel: bool, reduce_range: bool, static: bool = False) -> list[tuple[str, float]]:
    """Each ``Linear`` layer of the module with its cost when it alone is quantized, costliest first:
    dynamically, or with ``static`` its input's range fixed ahead (MinMax over ``texts``).

    The cost is the larger of the two shortfalls the bound watches, each as a share of what the bound
    allows: ``(1 - mean cosine) / (1 - bound.mean)`` and ``(1 - smallest) / (1 - bound.min)``.
    """
    import torch

    from tidal.optimize._data import cosine
    from tidal.optimize._encoder import EagerRunner, embed_all

    linears = [(name, layer) for name, layer in parts.module.named_modules() if isinstance(layer, torch.nn.Linear)]
    ranges = input_ranges(parts, texts) if static else {}
    runner = EagerRunner(parts)
    costs = []
    for name, layer in linears:
        layer.forward = _fake_quantized(layer, per_channel, reduce_range,  # type: ignore[method-assign]
                                        ranges.get(name) if static else None)
        try:
            similarity = cosine(reference, embed_all(runner, texts, parts.batch_size))
        finally:
            del layer.forward  # back to the class's own forward
        mean, smallest = similarity if similarity is not None else (0.0, 0.0)
        costs.append((name, max((1 - mean) / max(1 - bound.mean, 1e-9), (1 - smallest) / max(1 - bound.min, 1e-9))))
    return sorted(costs, key=lambda entry: -entry[1])


def nodes_of_linears(parts: EncoderParts, graph_path: Path) -> dict[str, list[str]]:
    """For each ``Linear`` layer of the module, the graph nodes holding its weight (a transposed copy, or a
    block of columns of a packed one, such as a fused attention's query, key and value)."""
    import onnx
    import torch
    from onnx import numpy_helper

    weights = {name: layer.weight.detach().numpy().T for name, layer in parts.module.named_modules()
               if isinstance(layer, torch.nn.Linear)}
    model = onnx.load(str(graph_path))
    tensors = {item.name: item for item in model.graph.initializer}
    found: dict[str, list[str]] = {name: [] for name in weights}
    for node in model.graph.node:
        for name in node.input:
            tensor = tensors.get(name)
            if tensor is None or len(tensor.dims) != 2:
                continue
            owners = [owner for owner, weight in weights.items()
                      if tensor.dims[0] == weight.shape[0] and tensor.dims[1] % weight.shape[1] == 0]
            if not owners:
                continue
            values = numpy_helper.to_array(tensor)
            for owner in owners:
                if _holds(values, weights[owner]) and node.name not in found[owner]:
                    found[owner].append(node.name)
    return found


def _holds(values: np.ndarray, weight: np.ndarray) -> bool:
    """``values`` is ``weight`` or holds it as a block of columns."""
    if values.shape[0] != weight.shape[0] or values.shape[1] % weight.shape[1]:
        return False
    width = weight.shape[1]
    return any(np.array_equal(values[:, start:start + width], weight) for start in range(0, values.shape[1], width))
