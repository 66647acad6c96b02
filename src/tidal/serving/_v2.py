"""The Open Inference Protocol v2 (KServe/Triton) over REST: tensors in, tensors out.

Supports JSON tensors and the binary tensor extension (``Inference-Header-Content-Length``)
that standard clients such as ``tritonclient.http`` use by default.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from tidal.serving._signature import (
    V2_TO_NUMPY,
    Columns,
    MatrixColumns,
    RequestInvalid,
    Signature,
    check_tensor_kind,
)

try:
    import orjson

    def loads(data: bytes | str) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
except ImportError:  # pragma: no cover - orjson is optional
    def loads(data: bytes | str) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return json.dumps(value, default=_jsonable).encode()


def _jsonable(value: Any) -> Any:  # pragma: no cover - only without orjson
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


HEADER_LENGTH = "inference-header-content-length"


@dataclass
class Tensor:
    name: str
    shape: list[int]
    datatype: str
    array: np.ndarray  # flat


@dataclass
class InferRequest:
    id: str | None
    inputs: list[Tensor]
    outputs: list[dict[str, Any]] | None
    parameters: dict[str, Any]


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Decode an inference request (JSON, or JSON header followed by binary tensors)."""
    violations: list[str] = []
    binary = b""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise RequestInvalid([f"header Inference-Header-Content-Length must be a number, got {header_length!r}"]) from None
        if size < 0 or size > len(body):
            raise RequestInvalid([f"Inference-Header-Content-Length {size} is outside the body of {len(body)} bytes"])
        head, binary = body[:size], body[size:]
    else:
        head = body
    try:
        document = loads(head)
    except ValueError as error:
        raise RequestInvalid([f"the body is not valid JSON: {error}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list) or not document["inputs"]:
        raise RequestInvalid(["the body must be an object with a non-empty 'inputs' list of tensors "
                              "({name, shape, datatype, data})"])
    tensors: list[Tensor] = []
    offset = 0
    for index, item in enumerate(document["inputs"]):
        where = f"inputs[{index}]"
        if not isinstance(item, dict):
            violations.append(f"{where} must be an object {{name, shape, datatype, data}}")
            continue
        name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
        if not isinstance(name, str):
            violations.append(f"{where}: 'name' must be a string")
            continue
        where = f"input '{name}'"
        if not isinstance(shape, list) or not shape or not all(type(dim) is int and dim >= 0 for dim in shape):
            violations.append(f"{where}: 'shape' must be a non-empty list of non-negative integers, e.g. [3, 1]; got {_shown(shape)}")
            continue
        if not isinstance(datatype, str):
            violations.append(f"{where}: 'datatype' must be a string, one of {', '.join(V2_TO_NUMPY)}; got {_shown(datatype)}")
            continue
        if datatype not in V2_TO_NUMPY:
            violations.append(f"{where}: unknown datatype {datatype[:40]!r}; use one of {', '.join(V2_TO_NUMPY)}")
            continue
        count = math.prod(shape)  # exact: numpy would wrap around on huge shapes
        parameters = item.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            violations.append(f"{where}: 'parameters' must be an object; got {_shown(parameters)}")
            continue
        binary_size = (parameters or {}).get("binary_data_size")
        if binary_size is not None and (type(binary_size) is not int or binary_size < 0):
            violations.append(f"{where}: parameters.binary_data_size must be a non-negative integer; got {_shown(binary_size)}")
            continue
        try:
            if binary_size is not None:
                if offset + binary_size > len(binary):
                    raise ValueError(f"parameters.binary_data_size {binary_size} runs past the binary data "
                                     f"({len(binary) - offset} bytes left after the JSON header)")
                chunk = binary[offset: offset + binary_size]
                offset += binary_size
                array = from_binary(chunk, datatype, count)
            else:
                array = _from_json(item.get("data"), datatype)
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError) as error:
            violations.append(f"{where}: {error}")
            continue
        if array.size != count:
            violations.append(f"{where}: shape {shape} needs {count} values, got {array.size}")
            continue
        tensors.append(Tensor(name, shape, datatype, array))
    if offset < len(binary) and not violations:
        violations.append(f"the body has {len(binary) - offset} bytes of binary data after the JSON header that no "
                          "input's parameters.binary_data_size accounts for")
    outputs = document.get("outputs")
    if outputs is not None:
        violations.extend(_output_problems(outputs))
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        violations.append(f"'parameters' must be an object; got {_shown(parameters)}")
    elif parameters is not None and not isinstance(parameters.get("binary_data_output", False), bool):
        violations.append(f"parameters.binary_data_output must be true or false; got {_shown(parameters['binary_data_output'])}")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        violations.append(f"'id' must be a string; got {_shown(request_id)}")
    if violations:
        raise RequestInvalid(violations)
    return InferRequest(request_id, tensors, outputs, parameters or {})


def _shown(value: Any) -> str:
    """A value for an error message: its JSON kind and at most 60 characters of it."""
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text[:60]}{'...' if len(text) > 60 else ''}"


def _output_problems(outputs: Any) -> list[str]:
    if not isinstance(outputs, list):
        return [f"'outputs' must be a list of objects with a 'name', e.g. [{{\"name\": \"prediction\"}}]; got {_shown(outputs)}"]
    problems = []
    for index, item in enumerate(outputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f"outputs[{index}] must be an object with a string 'name'; got {_shown(item)}")
        elif item.get("parameters") is not None and not isinstance(item["parameters"], dict):
            problems.append(f"outputs[{index}] ('{item['name']}'): 'parameters' must be an object; got {_shown(item['parameters'])}")
        elif not isinstance((item.get("parameters") or {}).get("binary_data", False), bool):
            problems.append(f"outputs[{index}] ('{item['name']}'): parameters.binary_data must be true or false; "
                            f"got {_shown(item['parameters']['binary_data'])}")
    return problems


def _flatten(data: Any) -> list[Any]:
    """Tensor data may be flat (row-major) or nested as the shape; both give the flat list."""
    if not isinstance(data, list):
        raise TypeError(f"'data' must be a list; got {_shown(data)}")
    if not any(isinstance(element, list) for element in data):
        return data
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:  # depth-first without recursion: nesting as deep as the JSON allows is fine
        element = next(stack[-1], stack)
        if element is stack:
            stack.pop()
        elif isinstance(element, list):
            stack.append(iter(element))
        else:
            flat.append(element)
    return flat


def _from_json(data: Any, datatype: str) -> np.ndarray:
    values = _flatten(data)
    if datatype == "BYTES":
        if not all(isinstance(value, str) for value in values):
            raise TypeError("BYTES data must be strings")
        return np.array(values, dtype=object)
    if datatype == "BOOL":
        if not all(isinstance(value, bool) for value in values):
            raise TypeError("BOOL data must be true or false")
        return np.array(values, dtype=np.bool_)
    integer = "INT" in datatype
    allowed = {int} if integer else {int, float}
    kinds = set(map(type, values))
    if not kinds <= allowed:  # bool is not a number here, and neither is a string
        value = next(value for value in values if type(value) not in allowed)
        kind = "whole numbers" if integer else "numbers"
        raise TypeError(f"{datatype} data must be {kind}, got {_shown(value)}")
    if integer:
        limits = np.iinfo(V2_TO_NUMPY[datatype])
        outside = next((value for value in values if not limits.min <= value <= limits.max), None)
        if outside is not None:
            raise ValueError(f"{datatype} data must lie in [{limits.min}, {limits.max}]; got {_shown(outside)}")
        return np.array(values, dtype=V2_TO_NUMPY[datatype])
    try:
        with np.errstate(over="ignore"):  # overflow is checked just below
            array = np.array(values, dtype=V2_TO_NUMPY[datatype])
    except OverflowError:  # an integer too large for any float
        raise ValueError(f"{datatype} data holds a number too large for {datatype}") from None
    if not np.isfinite(array).all():  # JSON has no infinities: a finite number overflowed the datatype
        raise ValueError(f"{datatype} data holds a number too large for {datatype} (largest: {np.finfo(array.dtype).max:.6g})")
    return array


def from_binary(chunk: bytes, datatype: str, count: int) -> np.ndarray:
    """A tensor's values from their raw form: little-endian numbers (their byte count is checked against
    ``count`` before any is read), or, for BYTES, each element as a 4-byte little-endian length and that
    many bytes of UTF-8 text."""
    if datatype == "BYTES":
        values, position = [], 0
        while position < len(chunk):
            if position + 4 > len(chunk):
                raise ValueError(f"BYTES data is cut short: a 4-byte length prefix at byte {position} runs past the end")
            (length,) = struct.unpack_from("<I", chunk, position)
            position += 4
            if position + length > len(chunk):
                raise ValueError(f"BYTES data is cut short: an element of {length} bytes at byte {position} runs past the end")
            try:
                values.append(chunk[position: position + length].decode("utf-8"))
            except UnicodeDecodeError:
                raise ValueError(f"BYTES element at byte {position} is not UTF-8 text") from None
            position += length
        return np.array(values, dtype=object)
    dtype = np.dtype(V2_TO_NUMPY[datatype]).newbyteorder("<")
    if len(chunk) != count * dtype.itemsize:
        raise ValueError(f"binary data has {len(chunk)} bytes, the shape needs {count * dtype.itemsize}")
    return np.frombuffer(chunk, dtype=dtype)


def columns_from_tensors(request: InferRequest, signature: Signature, ignored: list[str] | None = None) -> tuple[Columns, int]:
    """Map named tensors (one per input column) or one 2-D tensor (all columns) onto the signature.

    Tensors the model does not take are refused, or, when ``ignored`` is a list, skipped and
    appended to it.
    """
    by_name = {tensor.name: tensor for tensor in request.inputs}
    expected = signature.input_names
    if len(request.inputs) == 1 and request.inputs[0].name not in expected and len(expected) > 0:
        return _from_matrix(request.inputs[0], signature)
    violations: list[str] = []
    unknown = [name for name in by_name if name not in expected]
    if unknown and ignored is not None:
        ignored.extend(name for name in unknown if name not in ignored)
    elif unknown:
        violations.append(f"unknown input(s) {', '.join(map(repr, unknown))}; the model takes: {', '.join(expected)}")
    missing = [name for name in expected if name not in by_name]
    if missing:
        violations.append(f"missing input(s) {', '.join(map(repr, missing))}")
    rows: int | None = None
    columns: Columns = {}
    for spec in signature.inputs:
        tensor = by_name.get(spec.name)
        if tensor is None:
            continue
        problem = check_tensor_kind(spec, tensor.datatype)
        if problem:
            violations.append(problem)
            continue
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            violations.append(f"input '{spec.name}' must have shape [N] or [N, 1], got {tensor.shape}")
            continue
        if rows is None:
            rows = tensor.shape[0]
        elif tensor.shape[0] != rows:
            violations.append(f"input '{spec.name}' has {tensor.shape[0]} rows, other inputs have {rows}")
            continue
        columns[spec.name] = _cast(tensor.array, spec.kind)
    if violations:
        raise RequestInvalid(violations)
    if not rows:
        raise RequestInvalid(["the request has no rows (shape [0])"])
    return columns, rows


#: the most pixels one image sent to the server may have (a 4096 x 4096 photo); larger ones are refused undecoded
MAX_REQUEST_PIXELS = 4096 * 4096


def _from_images(tensor: Tensor, signature: Signature) -> tuple[Columns, int]:
    """A BYTES tensor ``[N]`` of base64-encoded images for a model that declares how it takes them: each decoded,
    brought to the model's mode and size and scaled as it was trained (``tidal.models._images``)."""
    from tidal.core._errors import DataError
    from tidal.models._images import base64_image, decode_to_input

    assert signature.images is not None
    if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
        raise RequestInvalid([f"input '{tensor.name}': encoded images come as a BYTES tensor of shape [N] (one image "
                              f"per element), got {tensor.shape}"])
    if tensor.shape[0] == 0:
        raise RequestInvalid(["the request has no rows (shape [0])"])
    rows, violations = [], []
    for index, text in enumerate(tensor.array.tolist()):
        where = f"{index} of input '{tensor.name}'"
        try:
            rows.append(decode_to_input(base64_image(text, where), signature.images, where, MAX_REQUEST_PIXELS))
        except DataError as error:
            violations.append(str(error))
            if len(violations) >= 10:
                break
    if violations:
        raise RequestInvalid(violations)
    matrix = np.stack(rows)
    views = {spec.name: matrix[:, index] for index, spec in enumerate(signature.inputs)}
    return MatrixColumns(views, matrix), len(rows)


def _from_matrix(tensor: Tensor, signature: Signature) -> tuple[Columns, int]:
    if tensor.datatype == "BYTES" and signature.images is not None and signature.tensor is not None \
            and tensor.name == signature.tensor.name:
        return _from_images(tensor, signature)
    width = len(signature.inputs)
    violations = []
    if not signature.all_numeric:
        violations.append(f"input '{tensor.name}' is not one of the model's inputs ({', '.join(signature.input_names)}); "
                          "send one tensor per input column (a single 2-D tensor works only for all-numeric models)")
    elif tensor.datatype == "BYTES" and signature.tensor is not None and tensor.name == signature.tensor.name:
        shape = ", ".join(map(str, signature.tensor.shape[1:]))
        violations.append(f"input '{tensor.name}': this model takes its images as numbers, an FP32 tensor [N, {shape}]; "
                          "it has not been declared to take encoded images (BYTES): declare how they become its "
                          "input with the vision.accept_images component")
    elif tensor.datatype == "BYTES":
        violations.append(f"input '{tensor.name}': a 2-D feature tensor must be numeric, got BYTES")
    elif not (len(tensor.shape) == 2 and tensor.shape[1] == width) and not _fits_tensor(tensor, signature):
        shaped = (f", or [N, {', '.join(map(str, signature.tensor.shape[1:]))}] (the model's tensor form)"
                  if signature.tensor is not None else "")
        violations.append(f"input '{tensor.name}' must have shape [N, {width}] (one column per feature: "
                          f"{', '.join(signature.input_names[:10])}{' ...' if width > 10 else ''}){shaped}, got {tensor.shape}")
    elif tensor.shape[0] == 0:
        violations.append("the request has no rows (shape [0, ...])")
    if violations:
        raise RequestInvalid(violations)
    matrix = tensor.array.reshape(tensor.shape[0], width)  # a tensor-form input is read row-major
    kinds = {spec.kind for spec in signature.inputs}
    if len(kinds) == 1:  # one cast for the whole matrix; the columns are views of it
        matrix = _cast(matrix, kinds.pop())
        views = {spec.name: matrix[:, index] for index, spec in enumerate(signature.inputs)}
        return MatrixColumns(views, matrix), tensor.shape[0]
    columns = {spec.name: _cast(matrix[:, index], spec.kind) for index, spec in enumerate(signature.inputs)}
    return columns, tensor.shape[0]


def _fits_tensor(tensor: Tensor, signature: Signature) -> bool:
    """Whether ``tensor`` is ``[N, *shape]`` of the signature's tensor form (an image model's ``[N, 1, 8, 8]``)."""
    return signature.tensor is not None and list(tensor.shape[1:]) == list(signature.tensor.shape[1:])


def _cast(array: np.ndarray, kind: str) -> np.ndarray:
    if kind == "float":
        return array.astype(np.float64, copy=False)
    if kind == "int":
        return array.astype(np.int64, copy=False)
    if kind == "bool":
        return array.astype(np.bool_, copy=False)
    return array


def output_datatype(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'UINT' if kind == 'u' else 'INT'}{array.dtype.itemsize * 8}"
    if kind == "f":
        return {2: "FP16", 4: "FP32"}.get(array.dtype.itemsize, "FP64")
    return "BYTES"


def binary_output(parameters: dict[str, Any]) -> bool:
    """The request-level ``binary_data_output`` parameter (Triton's binary extension): every output in binary."""
    value = parameters.get("binary_data_output", False)
    if not isinstance(value, bool):
        raise RequestInvalid([f"parameters.binary_data_output must be true or false; got {_shown(value)}"])
    return value


def encode_response(
    model: str, version: str, request_id: str | None, outputs: dict[str, np.ndarray], requested: list[dict[str, Any]] | None,
    *, binary_default: bool = False, parameters: dict[str, dict[str, Any]] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The response body and extra headers.

    An output is binary when its request entry says ``binary_data: true``, or, with no word of its
    own, when the request says ``binary_data_output: true``. ``parameters`` are each output's
    parameters (strings, numbers, booleans).
    """
    names = list(outputs)
    wants_binary = dict.fromkeys(names, binary_default)
    if requested:
        names = [item["name"] for item in requested]
        unknown = [name for name in names if name not in outputs]
        if unknown:
            raise RequestInvalid([f"unknown output(s) {', '.join(map(repr, unknown))}; the model gives: {', '.join(outputs)}"])
        for item in requested:
            choice = (item.get("parameters") or {}).get("binary_data", binary_default)
            if not isinstance(choice, bool):
                raise RequestInvalid([f"output '{item['name']}': parameters.binary_data must be true or false; got {_shown(choice)}"])
            wants_binary[item["name"]] = choice
    document: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": []}
    if request_id is not None:
        document["id"] = request_id
    chunks: list[bytes] = []
    for name in names:
        array = outputs[name]
        datatype = output_datatype(array)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        extra = dict((parameters or {}).get(name) or {})
        if wants_binary.get(name):
            chunk = to_binary(array, datatype)
            extra["binary_data_size"] = len(chunk)
            chunks.append(chunk)
        else:
            flat = array.ravel()
            entry["data"] = [str(value) for value in flat] if datatype == "BYTES" else flat
        if extra:
            entry["parameters"] = extra
        document["outputs"].append(entry)
    head = dumps(document)
    if not chunks:
        return head, {}
    return head + b"".join(chunks), {"Inference-Header-Content-Length": str(len(head))}


def to_binary(array: np.ndarray, datatype: str) -> bytes:
    """The raw form of a tensor's values (see :func:`from_binary`)."""
    if datatype == "BYTES":
        parts = []
        for value in array.ravel():
            encoded = str(value).encode("utf-8")
            parts.append(struct.pack("<I", len(encoded)) + encoded)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
