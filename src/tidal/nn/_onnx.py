"""Exporting a ``torch`` package to ONNX, for ``tidal models export --to onnx`` and ``model.export``.

The graph has the shape every Tidal ONNX export has (see :mod:`tidal.models._export_onnx`), so
:func:`tidal.models.export_model` checks it like the others and ``tidal serve FILE.onnx`` serves it:

* one float32 ``[N, 1]`` input per feature, named as the feature; they are concatenated, scaled
  as in training, and reshaped to the network's input (``[N, 1, 8, 8]`` for 8x8 images);
* for classifiers a ``label`` output (the package's own class labels, looked up in the graph) and
  a ``probabilities`` output ``[N, classes]``; for regressors one ``prediction`` ``[N]``;
* the package's source, task, label and classes in the metadata.

The network is exported with PyTorch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``,
through ``torch.export``; it needs ``onnxscript``, in the ``nn`` extra) at opset 18. Where that
fails (a layer ``torch.export`` cannot trace, or no ``onnxscript``), the TorchScript exporter
(``dynamo=False``, opset 17) writes it instead, and the report's converter names which one did. The
export check then proves the graph right on real or generated rows, whichever exporter wrote it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.models._export_check import ExportRefused
from tidal.models._export_onnx import score as score_columns
from tidal.models._export_onnx import write_checked
from tidal.nn._network_model import NetworkModel

#: the ONNX opsets written: the TorchScript exporter's (onnxruntime 1.17 and later) and the dynamo
#: exporter's (its lowest; onnxruntime 1.19 and later)
OPSET = 17
DYNAMO_OPSET = 18
DYNAMO, TORCHSCRIPT = "dynamo ONNX exporter", "TorchScript ONNX exporter"
#: which exporter wrote each model's last export (by the model's id), for the report
_used: dict[int, str] = {}


def converter_version(package: Any) -> str:
    import torch

    return f"torch {torch.__version__} ({_used.get(id(package.model), TORCHSCRIPT)})"


def _free_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _graph_module(model: NetworkModel, classifier: bool) -> Any:
    import torch

    class PackageGraph(torch.nn.Module):
        """Feature columns in; the package's answers out (class index and probabilities, or values)."""

        def __init__(self) -> None:
            super().__init__()
            self.network = model.module()
            scaled = model.mean is not None and model.std is not None
            self.scaled = scaled
            if scaled:
                self.register_buffer("mean", torch.tensor(np.asarray(model.mean), dtype=torch.float32))
                self.register_buffer("std", torch.tensor(np.asarray(model.std), dtype=torch.float32))

        def forward(self, *columns: Any) -> Any:
            features = torch.cat(columns, dim=1)
            if self.scaled:
                features = (features - self.get_buffer("mean")) / self.get_buffer("std")
            if model.input_dtype == "int64":
                features = torch.round(features).to(torch.int64)
            produced = model.select_output(self.network(features.reshape(-1, *model.input_shape))).float()
            if not classifier:
                values = produced.reshape(-1)
                if model.target_scale is not None:
                    values = values * float(model.target_scale[1]) + float(model.target_scale[0])
                return values
            if model.head == "sigmoid":
                positive = torch.sigmoid(produced.reshape(-1))
                probabilities = torch.stack([1 - positive, positive], dim=1)
            else:
                probabilities = torch.softmax(produced.reshape(produced.shape[0], -1), dim=1)
            return torch.argmax(probabilities, dim=1), probabilities

    return PackageGraph().eval()


def convert(package: Any, target: Path, source: str) -> Path:
    """Write ``package`` (flavor torch) as an ONNX file at ``target`` (a scratch path the caller checks)."""
    import onnx

    model = package.model
    if not isinstance(model, NetworkModel):
        raise ExportRefused(f"a {package.flavor} model is not a network")
    classifier = package.task in ("binary", "multiclass")
    features = list(package.features)
    taken = set(features)
    outputs = [_free_name("label_index", taken), _free_name("probabilities", taken)] if classifier else \
        [_free_name("prediction", taken)]
    graph = _graph_module(model, classifier)
    dynamo_error = _export_dynamo(graph, features, outputs, target) if importlib.util.find_spec("onnxscript") else \
        "onnxscript is not installed"
    _used[id(model)] = DYNAMO if dynamo_error is None else TORCHSCRIPT
    if dynamo_error is not None:
        try:
            _export_torchscript(graph, features, outputs, target)
        except Exception as error:  # the exporter's own errors: a layer it cannot write
            raise ExportRefused(f"PyTorch cannot export this network to ONNX: {_first_line(error)} "
                                f"(the dynamo exporter failed first: {dynamo_error})") from None
    graph_model = onnx.load(str(target))
    if classifier:
        _label_lookup(graph_model, outputs[0], _free_name("label", taken | set(outputs)), list(package.classes or []))
    return write_checked(graph_model, target, {
        "tidal.source": source, "tidal.task": package.task, "tidal.label": package.label or "",
        "tidal.classes": json.dumps(package.classes) if classifier else ""})


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _export_dynamo(graph: Any, features: list[str], outputs: list[str], target: Path) -> str | None:
    """Export through ``torch.export``; None when written, else why not (the caller falls back)."""
    import torch

    batch = torch.export.Dim("N", min=1)
    example = tuple(torch.zeros(2, 1) for _ in features)
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in quiet]
    try:  # the exporter logs its registry and a progress line per step: Tidal's report says what matters
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(graph, example, input_names=features, output_names=outputs, opset_version=DYNAMO_OPSET,
                                        dynamo=True, dynamic_shapes=(tuple({0: batch} for _ in features),), optimize=True,
                                        verbose=False)
            assert program is not None
            program.save(str(target))
    except Exception as error:  # torch.export cannot trace it, or onnxscript cannot lower an operator
        return _first_line(error)
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    return None


def _export_torchscript(graph: Any, features: list[str], outputs: list[str], target: Path) -> None:
    import torch

    example = tuple(torch.zeros(2, 1) for _ in features)
    # the TorchScript exporter warns that it is deprecated on every call: said once, in the notes above
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, example, str(target), input_names=features, output_names=outputs, opset_version=OPSET,
                          dynamo=False, dynamic_axes={name: {0: "N"} for name in [*features, *outputs]})


def _label_lookup(graph_model: Any, index_output: str, label_output: str, classes: list[Any]) -> None:
    """Replace the class-index output by the class labels themselves: ``Gather(classes, index)``."""
    from onnx import helper, numpy_helper

    values = np.array(classes, dtype=object) if any(isinstance(value, str) for value in classes) else np.array(classes)
    if values.dtype.kind == "b":
        values = values.astype(np.bool_)
    table = numpy_helper.from_array(values, name=_free_name("tidal_class_labels", {item.name for item in graph_model.graph.initializer}))
    graph = graph_model.graph
    graph.initializer.append(table)
    graph.node.append(helper.make_node("Gather", [table.name, index_output], [label_output], axis=0, name="tidal_class_label"))
    position = next(index for index, item in enumerate(graph.output) if item.name == index_output)
    labels = helper.make_tensor_value_info(label_output, table.data_type, ["N"])
    graph.output.remove(graph.output[position])
    graph.output.insert(position, labels)


def score(path: Path, package: Any, rows: pd.DataFrame) -> dict[str, Any]:
    """The graph's answers for ``rows``, fed as ``tidal serve`` feeds it (one float32 column per input)."""
    return score_columns(path, package, rows)
