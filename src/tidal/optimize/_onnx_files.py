"""Reading ONNX graphs the search is given or makes, with the checks a hostile file needs.

A graph is read without its external data and refused before onnxruntime or the quantizer sees
it when it names external data at all (a path may point anywhere on the machine: the search
works on self-contained files only), declares a tensor larger than :data:`MAX_TENSOR_ELEMENTS`,
holds fewer bytes for a tensor than its shape declares, or is larger than :data:`MAX_FILE_BYTES`.
"""

from __future__ import annotations

import copy
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


def merge_column_inputs(model: Any, features: list[str]) -> str | None:
    """Rewrite, in place, a graph that takes one float32 ``[N, 1]`` input per feature and concatenates them
    (in the signature's order, along axis 1, in one ``Concat`` that nothing else feeds) into one that takes a
    single ``[N, k]`` matrix; the new input's name, or ``None`` when the graph has another shape (left as is).

    Why: onnxruntime binds every input on every call, so 64 one-column inputs cost a small network five
    times its own arithmetic (0.12 against 0.02 ms a call for the digits CNN); the ``onnx`` flavor feeds
    a matrix input from the same columns in one conversion.
    """
    import onnx

    graph = model.graph
    constants = {tensor.name for tensor in graph.initializer}
    inputs = [item for item in graph.input if item.name not in constants]
    names = [item.name for item in inputs]
    if len(inputs) < 2 or names != list(features):
        return None
    for item in inputs:
        tensor = item.type.tensor_type
        dims = tensor.shape.dim
        if tensor.elem_type != onnx.TensorProto.FLOAT or len(dims) != 2 or not dims[1].HasField("dim_value") \
                or dims[1].dim_value != 1:
            return None
    fed = set(names)
    users = [node for node in _all_nodes(graph) if fed & set(node.input)]
    if len(users) != 1 or users[0].op_type != "Concat" or list(users[0].input) != names:
        return None
    concat = users[0]
    axis = next((attribute.i for attribute in concat.attribute if attribute.name == "axis"), None)
    if axis not in (1, -1) or any(output.name in fed for output in graph.output):
        return None
    taken = fed | constants | {value.name for value in graph.value_info} | {node_output for node in graph.node
                                                                for node_output in node.output}
    name = "tidal_features"
    while name in taken:
        name += "_"
    rows = inputs[0].type.tensor_type.shape.dim[0]
    matrix = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [None, len(names)])
    dim = matrix.type.tensor_type.shape.dim[0]
    if rows.HasField("dim_value"):
        dim.dim_value = rows.dim_value
    else:
        dim.dim_param = rows.dim_param or "N"
    identity = onnx.helper.make_node("Identity", [name], list(concat.output), name=concat.name or "tidal_features_in")
    nodes = [identity if node == concat else copy.deepcopy(node) for node in graph.node]
    if identity not in nodes:  # the Concat sits inside a sub-graph: not the shape this rewrite knows
        return None
    kept = [copy.deepcopy(item) for item in graph.input if item.name not in fed]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.extend([matrix, *kept])
    return name


def merge_file_inputs(path: Path, features: list[str]) -> str | None:
    """:func:`merge_column_inputs` on the graph file at ``path``, rewritten in place when it applies."""
    import onnx

    model = onnx.load(str(path))
    name = merge_column_inputs(model, features)
    if name is not None:
        onnx.save(model, str(path))
    return name
