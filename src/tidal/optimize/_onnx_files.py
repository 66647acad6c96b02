"""Reading ONNX graphs the search is given or makes, with the checks a hostile file needs.

A graph is read without its external data and refused before onnxruntime or the quantizer sees
it when it names external data at all (a path may point anywhere on the machine: the search
works on self-contained files only), declares a tensor larger than :data:`MAX_TENSOR_ELEMENTS`,
holds fewer bytes for a tensor than its shape declares, or is larger than :data:`MAX_FILE_BYTES`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tidal.optimize._data import OptimizeRefused

MAX_FILE_BYTES = 2 * 1024**3
MAX_TENSOR_ELEMENTS = 2**31
#: the operators INT8 quantization rewrites (matrix products and convolutions)
QUANTIZABLE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: bytes per element of ONNX tensor types with a fixed width
_WIDTH = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def check_onnx_file(path: Path) -> Any:
    """The graph at ``path`` (an ``onnx.ModelProto``), refused with a reason when it is not safe to work on."""
    import onnx

    where = str(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise OptimizeRefused(f"{where}: cannot read the ONNX file ({error.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise OptimizeRefused(f"{where} is {size} bytes; the search takes ONNX files up to {MAX_FILE_BYTES} bytes")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf's own decode errors
        raise OptimizeRefused(f"{where} is not an ONNX model: {str(error).strip()[:200]}") from None
    tensors = list(model.graph.initializer)
    tensors += [attribute.t for node in _all_nodes(model.graph) for attribute in node.attribute if attribute.HasField("t")]
    for tensor in tensors:
        name = tensor.name or "(unnamed constant)"
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            target = next((entry.value for entry in tensor.external_data if entry.key == "location"), "?")
            raise OptimizeRefused(f"{where}: tensor '{name}' keeps its data in an external file ('{target}'); the "
                                  "search takes self-contained ONNX files only (save with all tensors inside the file)")
        count = math.prod(int(dim) for dim in tensor.dims)
        if any(int(dim) < 0 for dim in tensor.dims) or count > MAX_TENSOR_ELEMENTS:
            raise OptimizeRefused(f"{where}: tensor '{name}' declares shape {list(tensor.dims)}, more than "
                                  f"{MAX_TENSOR_ELEMENTS} elements; refused")
        width = _WIDTH.get(tensor.data_type)
        if tensor.HasField("raw_data") and width is not None and len(tensor.raw_data) != count * width:
            raise OptimizeRefused(f"{where}: tensor '{name}' declares shape {list(tensor.dims)} ({count * width} bytes) "
                                  f"but holds {len(tensor.raw_data)} bytes; the file is damaged or crafted")
    return model


def _all_nodes(graph: Any) -> list[Any]:
    """Every node, with those of sub-graphs (If, Loop, Scan bodies)."""
    found = []
    for node in graph.node:
        found.append(node)
        for attribute in node.attribute:
            if attribute.HasField("g"):
                found += _all_nodes(attribute.g)
            for sub in attribute.graphs:
                found += _all_nodes(sub)
    return found


def name_nodes(model: Any) -> Any:
    """Give every unnamed node a unique name (the quantizer excludes nodes by name)."""
    taken = {node.name for node in model.graph.node if node.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"tidal_{node.op_type.lower()}_{index}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
    return model


def quantizable_nodes(model: Any) -> list[tuple[str, str]]:
    """``(name, op_type)`` of the nodes INT8 quantization would rewrite, in graph order."""
    return [(node.name, node.op_type) for node in model.graph.node if node.op_type in QUANTIZABLE_OPS]


def metadata(model: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in model.metadata_props}
