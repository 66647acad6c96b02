"""Open Inference Protocol tensors over gRPC: a ``ModelInferRequest`` in, a ``ModelInferResponse`` out.

The request becomes the same :class:`~tidal.serving._v2.InferRequest` the HTTP face builds, so both
go through one signature check (``columns_from_tensors``). As there, every problem of a request is
collected and reported at once, naming the input, and no memory is set aside for a shape the request
only claims: the values it actually carries are counted against the shape.

An input's values come in one of two places (the protocol's rule): the typed field of
``contents`` for its datatype (``fp64_contents`` for FP64, ``int64_contents`` for INT64,
``bytes_contents`` for BYTES ...), or, for every input at once, ``raw_input_contents``: one entry
per input in order, little-endian, BYTES elements each as a 4-byte length and the bytes. FP16 has
no typed field and travels raw only.

Outputs come back all raw (``raw_output_contents``) or all typed (the protocol allows no mix):
raw when the request asks (``binary_data_output: true``, or ``binary_data: true`` on a requested
output), typed when it says no, and otherwise in the form the request's inputs came in, so a
client that sends raw bytes (tritonclient) gets raw bytes back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidal.serving import grpc_predict_v2_pb2 as messages
from tidal.serving._signature import V2_TO_NUMPY, RequestInvalid
from tidal.serving._v2 import InferRequest, Tensor, from_binary, output_datatype, to_binary

#: the typed field of InferTensorContents that carries each datatype (FP16: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
ALL_FIELDS = sorted(set(CONTENTS_FIELD.values()))
BINARY_OUTPUT = "binary_data_output"  # request parameter: every output raw (true) or typed (false)
BINARY_DATA = "binary_data"  # requested output parameter: this output raw


def shown(text: str, limit: int = 60) -> str:
    """A caller's string for an error message: quoted, at most ``limit`` characters."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def parameter_value(parameter: Any) -> Any:
    """The Python value of an ``InferParameter`` (None when no kind is set)."""
    kind = parameter.WhichOneof("parameter_choice")
    return None if kind is None else getattr(parameter, kind)


def parameters_of(mapping: Any) -> dict[str, Any]:
    return {key: parameter_value(value) for key, value in mapping.items()}


def set_parameter(target: Any, value: Any) -> None:
    """Fill an ``InferParameter`` from a string, number or boolean."""
    if isinstance(value, bool):
        target.bool_param = value
    elif isinstance(value, int) and -(2**63) <= value < 2**63:
        target.int64_param = value
    elif isinstance(value, int) and 0 <= value < 2**64:
        target.uint64_param = value
    elif isinstance(value, float):
        target.double_param = value
    else:
        target.string_param = str(value)


def parse_infer_request(message: Any) -> tuple[InferRequest, bool]:
    """The request's tensors, requested outputs and parameters, and whether its inputs came raw."""
    if not message.inputs:
        raise RequestInvalid(["the request has no inputs: give one InferInputTensor (name, datatype, shape and "
                              "contents) per input of the model, see ModelMetadata"])
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise RequestInvalid([f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs: give one "
                              "entry per input, in the order of 'inputs'"])
    violations: list[str] = []
    tensors: list[Tensor] = []
    for index, item in enumerate(message.inputs):
        if not item.name:
            violations.append(f"inputs[{index}]: 'name' is empty; name the model input it feeds")
            continue
        where = f"input {shown(item.name)}"
        shape = list(item.shape)
        if not shape or any(dim < 0 for dim in shape):
            violations.append(f"{where}: 'shape' must be a non-empty list of non-negative sizes, e.g. [3]; got {shape[:8]}")
            continue
        if item.datatype not in V2_TO_NUMPY:
            violations.append(f"{where}: unknown datatype {shown(item.datatype, 40)}; use one of {', '.join(V2_TO_NUMPY)}")
            continue
        count = math.prod(shape)  # exact: no allocation follows it
        try:
            if raw:
                if any(len(getattr(item.contents, field)) for field in ALL_FIELDS):
                    raise ValueError("has 'contents' while the request carries raw_input_contents: send every "
                                     "input's values in one of the two places")
                array = from_binary(raw[index], item.datatype, count)
            else:
                array = _from_contents(item.contents, item.datatype)
        except (ValueError, TypeError, OverflowError) as error:
            violations.append(f"{where}: {error}")
            continue
        if array.size != count:
            violations.append(f"{where}: shape {shape} needs {count} values, got {array.size}")
            continue
        tensors.append(Tensor(item.name, shape, item.datatype, array))
    outputs: list[dict[str, Any]] = []
    for index, output in enumerate(message.outputs):
        if not output.name:
            violations.append(f"outputs[{index}]: 'name' is empty; name an output of the model, or request none to get all")
            continue
        parameters = parameters_of(output.parameters)
        if not isinstance(parameters.get(BINARY_DATA, False), bool):
            violations.append(f"output {shown(output.name)}: parameter {BINARY_DATA} must be a bool_param")
        outputs.append({"name": output.name, "parameters": parameters})
    parameters = parameters_of(message.parameters)
    if not isinstance(parameters.get(BINARY_OUTPUT, False), bool):
        violations.append(f"parameter {BINARY_OUTPUT} must be a bool_param")
    if violations:
        raise RequestInvalid(violations)
    return InferRequest(message.id or None, tensors, outputs or None, parameters), bool(raw)


def _from_contents(contents: Any, datatype: str) -> np.ndarray:
    if datatype not in CONTENTS_FIELD:
        raise ValueError(f"{datatype} values have no typed field in the protocol: send them in raw_input_contents")
    field = CONTENTS_FIELD[datatype]
    stray = [name for name in ALL_FIELDS if name != field and len(getattr(contents, name))]
    if stray:
        raise TypeError(f"datatype {datatype} takes its values in contents.{field}; got contents.{stray[0]}")
    values = getattr(contents, field)
    if datatype == "BYTES":
        texts = []
        for position, value in enumerate(values):
            try:
                texts.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                raise ValueError(f"BYTES element {position} is not UTF-8 text") from None
        return np.array(texts, dtype=object)
    wide = np.array(values, dtype=np.float32 if datatype == "FP32" else np.float64 if datatype == "FP64" else
                    np.bool_ if datatype == "BOOL" else np.uint64 if datatype.startswith("UINT") else np.int64)
    dtype = np.dtype(V2_TO_NUMPY[datatype])
    if dtype.kind in "iu" and wide.size:  # int_contents and uint_contents are 32-bit: INT8, UINT16 ... must fit
        limits = np.iinfo(dtype)
        if wide.min() < limits.min or wide.max() > limits.max:
            outside = next(int(value) for value in wide if not limits.min <= value <= limits.max)
            raise ValueError(f"{datatype} values must lie in [{limits.min}, {limits.max}]; got {outside}")
    return wide.astype(dtype, copy=False)


def wants_raw(request: InferRequest, raw_inputs: bool) -> bool:
    """Whether the response carries its outputs in ``raw_output_contents`` (see the module's docstring)."""
    asked = [item["parameters"].get(BINARY_DATA) for item in request.outputs or []]
    if True in asked or request.parameters.get(BINARY_OUTPUT) is True:
        return True
    if request.parameters.get(BINARY_OUTPUT) is False or (asked and all(choice is False for choice in asked)):
        return False
    return raw_inputs


def encode_infer_response(model: str, version: str, request: InferRequest, raw_inputs: bool,
                          outputs: dict[str, np.ndarray], parameters: dict[str, dict[str, Any]]) -> Any:
    """The ``ModelInferResponse`` for a model's outputs: the requested ones in the requested order, else all."""
    names = [item["name"] for item in request.outputs] if request.outputs else list(outputs)
    unknown = [name for name in names if name not in outputs]
    if unknown:
        raise RequestInvalid([f"unknown output(s) {', '.join(shown(name) for name in unknown)}; the model gives: "
                              f"{', '.join(outputs)}"])
    datatypes = {name: output_datatype(outputs[name]) for name in names}
    raw = wants_raw(request, raw_inputs) or "FP16" in datatypes.values()  # FP16 can only travel raw
    response = messages.ModelInferResponse(model_name=model, model_version=version, id=request.id or "")
    for name in names:
        array, datatype = outputs[name], datatypes[name]
        tensor = response.outputs.add(name=name, datatype=datatype, shape=list(array.shape))
        for key, value in (parameters.get(name) or {}).items():
            set_parameter(tensor.parameters[key], value)
        if raw:
            response.raw_output_contents.append(to_binary(array, datatype))
            continue
        flat = array.ravel()
        field = getattr(tensor.contents, CONTENTS_FIELD[datatype])
        if datatype == "BYTES":
            field.extend(str(value).encode("utf-8") for value in flat)
        else:
            field.extend(flat.tolist())
    return response
