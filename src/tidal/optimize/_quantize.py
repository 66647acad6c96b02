"""INT8 variants of an ONNX graph, with onnxruntime's quantizer.

* dynamic: weights INT8 ahead of time, activations quantized per call (``quantize_dynamic``),
  per tensor or per channel;
* static: weights and activations INT8, activation ranges calibrated on the validation rows
  (``quantize_static``), with MinMax, Entropy or Percentile calibration, as QDQ pairs (the format
  onnxruntime fuses best) or as QOperator nodes (QLinearConv ...), per tensor or per channel;
* per-layer fallback: the quantizable nodes whose quantization costs the most accuracy are kept
  in float32 (``nodes_to_exclude``), chosen greedily by measuring (see
  :func:`tidal.optimize._search`).

Activations are uint8 and weights int8 (u8s8, what x86 kernels run fastest). Without VNNI the
u8s8 products can saturate, so ``reduce_range`` (7-bit weights) is set there.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: validation rows used to calibrate activation ranges, fed in batches of CALIBRATION_BATCH
CALIBRATION_ROWS = 512
CALIBRATION_BATCH = 64
CALIBRATIONS = ("minmax", "entropy", "percentile")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The quantizer logs advice on the root logger and prints graphs; neither is the user's business."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _feeds(path: Path, frame: pd.DataFrame, features: Sequence[str]) -> list[dict[str, np.ndarray]]:
    from tidal.optimize._measure import OnnxRunner

    runner = OnnxRunner(path, features, classifier=False)
    count = min(len(frame), CALIBRATION_ROWS)
    rows = frame.iloc[np.linspace(0, len(frame) - 1, count).astype(int)]
    batch = min(CALIBRATION_BATCH, count)
    # equal batches: the histogram calibrators stack them, and a short last batch would not stack
    return [runner.feed(rows.iloc[start:start + batch]) for start in range(0, count - batch + 1, batch)]


def quantize_dynamic(source: Path, target: Path, *, per_channel: bool, reduce_range: bool,
                     exclude: Sequence[str] = (), op_types: Sequence[str] = ()) -> Path:
    """``op_types``: the operator types to quantize (all the quantizer knows when empty)."""
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as run

    with quiet():  # outputs of onnxruntime's fused operators have no inferred type: they are float
        run(str(source), str(target), per_channel=per_channel, reduce_range=reduce_range, weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude), op_types_to_quantize=list(op_types) or None,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return target


def quantize_static(source: Path, target: Path, frame: pd.DataFrame, features: Sequence[str], *, calibration: str,
                    per_channel: bool, reduce_range: bool, qdq: bool = True, exclude: Sequence[str] = ()) -> Path:
    """Static INT8 of a graph fed from table columns, calibrated on ``frame``'s rows."""
    return quantize_static_feeds(source, target, _feeds(source, frame, features), calibration=calibration,
                                 per_channel=per_channel, reduce_range=reduce_range, qdq=qdq, exclude=exclude)


def quantize_static_feeds(source: Path, target: Path, batches: list[dict[str, np.ndarray]], *, calibration: str,
                          per_channel: bool, reduce_range: bool, qdq: bool = True, exclude: Sequence[str] = (),
                          op_types: Sequence[str] | None = None) -> Path:
    """Static INT8 (activations uint8, weights int8), calibrated on ``batches`` of graph inputs; ``op_types``
    limits the operators quantized (default: onnxruntime's own list)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
    )
    from onnxruntime.quantization import quantize_static as run

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[calibration]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.items = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

        def rewind(self) -> None:
            self.items = iter(batches)

    with quiet():
        run(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ if qdq else QuantFormat.QOperator,
            per_channel=per_channel, reduce_range=reduce_range, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, calibrate_method=method, nodes_to_exclude=list(exclude),
            op_types_to_quantize=list(op_types) if op_types else None)
    return target


def describe(settings: dict[str, Any]) -> str:
    """A short human name of a recipe: ``int8 static qdq entropy per-channel``."""
    parts = [settings.get("quantization", "fp32")]
    if settings.get("quantization") == "int8-static":
        parts += ["qdq" if settings.get("qdq", True) else "qoperator", settings.get("calibration", "minmax")]
    if settings.get("per_channel"):
        parts.append("per-channel")
    if settings.get("reduce_range"):
        parts.append("reduce-range")
    if settings.get("op_types"):
        parts.append("+".join(settings["op_types"]))
    if settings.get("graph") == "fused":
        parts.append("on the fused graph")
    if settings.get("exclude"):
        parts.append(f"{len(settings['exclude'])} node(s) in fp32")
    return " ".join(parts)
