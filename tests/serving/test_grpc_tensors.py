"""gRPC tensors without a server: every datatype in its typed field and raw, both ways, and the raw-or-typed rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("google.protobuf")
from tidal.serving import grpc_predict_v2_pb2 as messages  # noqa: E402 - needs protobuf, checked just above
from tidal.serving._grpc_tensors import encode_infer_response, parse_infer_request  # noqa: E402
from tidal.serving._signature import RequestInvalid  # noqa: E402
from tidal.serving._v2 import output_datatype, to_binary  # noqa: E402

VALUES: dict[str, tuple[str, list[Any]]] = {  # datatype: (typed field, values at the edges of its range)
    "BOOL": ("bool_contents", [True, False]),
    "INT8": ("int_contents", [-128, 127]),
    "INT16": ("int_contents", [-32768, 32767]),
    "INT32": ("int_contents", [-(2**31), 2**31 - 1]),
    "INT64": ("int64_contents", [-(2**63), 2**63 - 1]),
    "UINT8": ("uint_contents", [0, 255]),
    "UINT16": ("uint_contents", [0, 65535]),
    "UINT32": ("uint_contents", [0, 2**32 - 1]),
    "UINT64": ("uint64_contents", [0, 2**64 - 1]),
    "FP32": ("fp32_contents", [np.float32(0.1).item(), -3.4028234663852886e38]),
    "FP64": ("fp64_contents", [0.1, 2.2250738585072014e-308]),
    "BYTES": ("bytes_contents", ["naïve", ""]),
}
NUMPY = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8,
         "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64, "FP32": np.float32, "FP64": np.float64, "BYTES": object}


def one_input(datatype: str, raw: bool) -> Any:
    field, values = VALUES[datatype]
    request = messages.ModelInferRequest(model_name="m")
    tensor = request.inputs.add(name="v", datatype=datatype, shape=[len(values)])
    array = np.array(values, dtype=NUMPY[datatype])
    if raw:
        request.raw_input_contents.append(to_binary(array, datatype))
    else:
        getattr(tensor.contents, field).extend(value.encode() if datatype == "BYTES" else value for value in values)
    return request, array


@pytest.mark.parametrize("raw", [False, True], ids=["typed", "raw"])
@pytest.mark.parametrize("datatype", sorted(VALUES))
def test_every_datatype_round_trips_exactly(datatype, raw):
    request, array = one_input(datatype, raw)
    parsed, raw_inputs = parse_infer_request(request)
    assert raw_inputs is raw
    tensor = parsed.inputs[0]
    assert tensor.shape == [2] and tensor.array.tolist() == array.tolist()
    assert datatype == "BYTES" or tensor.array.dtype == np.dtype(NUMPY[datatype])
    response = encode_infer_response("m", "1", parsed, raw_inputs, {"v": tensor.array}, {})
    output = response.outputs[0]
    assert (output.name, output.datatype, list(output.shape)) == ("v", output_datatype(tensor.array), [2])
    if raw:
        assert response.raw_output_contents[0] == request.raw_input_contents[0]
    else:
        field = VALUES[datatype][0]
        expected = [value.encode() for value in VALUES[datatype][1]] if datatype == "BYTES" else VALUES[datatype][1]
        assert list(getattr(output.contents, field)) == expected and not response.raw_output_contents


def test_fp16_travels_raw_both_ways():
    request = messages.ModelInferRequest(model_name="m")
    request.inputs.add(name="v", datatype="FP16", shape=[2])
    request.raw_input_contents.append(np.array([0.5, -2.0], "<f2").tobytes())
    parsed, _ = parse_infer_request(request)
    assert parsed.inputs[0].array.dtype == np.float16
    asked_typed = messages.ModelInferRequest(model_name="m", parameters={"binary_data_output": messages.InferParameter(bool_param=False)})
    asked_typed.inputs.add(name="v", datatype="FP64", shape=[1]).contents.fp64_contents.append(1.0)
    typed, raw_inputs = parse_infer_request(asked_typed)
    response = encode_infer_response("m", "1", typed, raw_inputs, {"v": np.array([0.5, -2.0], np.float16)}, {})
    assert response.outputs[0].datatype == "FP16"  # no typed field exists for FP16: raw all the same
    assert np.frombuffer(response.raw_output_contents[0], "<f2").tolist() == [0.5, -2.0]


def test_raw_or_typed_outputs():
    def answer(raw_inputs: bool, request_level: bool | None = None, per_output: list[bool | None] | None = None) -> bool:
        request = messages.ModelInferRequest(model_name="m")
        request.inputs.add(name="v", datatype="FP64", shape=[1])
        if raw_inputs:
            request.raw_input_contents.append(np.array([1.0], "<f8").tobytes())
        else:
            request.inputs[0].contents.fp64_contents.append(1.0)
        if request_level is not None:
            request.parameters["binary_data_output"].bool_param = request_level
        for index, choice in enumerate(per_output or []):
            output = request.outputs.add(name=f"o{index}")
            if choice is not None:
                output.parameters["binary_data"].bool_param = choice
        parsed, came_raw = parse_infer_request(request)
        outputs = {f"o{index}": np.array([1.0]) for index in range(max(1, len(per_output or [])))}
        return bool(encode_infer_response("m", "1", parsed, came_raw, outputs, {}).raw_output_contents)

    assert answer(raw_inputs=True) and not answer(raw_inputs=False)  # the form the inputs came in
    assert answer(False, request_level=True) and not answer(True, request_level=False)
    assert answer(False, per_output=[None, True])  # one output asks: all raw, the protocol allows no mix
    assert not answer(True, per_output=[False, False]) and answer(True, per_output=[False, None])


def test_parameters_come_back_with_their_kinds():
    request = messages.ModelInferRequest(model_name="m")
    request.inputs.add(name="v", datatype="FP64", shape=[1]).contents.fp64_contents.append(1.0)
    parsed, raw = parse_infer_request(request)
    parameters = {"v": {"classes": "[0, 1]", "n": 3, "big": 2**64 - 1, "share": 0.5, "sure": True}}
    output = encode_infer_response("m", "1", parsed, raw, {"v": np.array([1.0])}, parameters).outputs[0]
    kinds = {key: (value.WhichOneof("parameter_choice"), getattr(value, value.WhichOneof("parameter_choice")))
             for key, value in output.parameters.items()}
    assert kinds == {"classes": ("string_param", "[0, 1]"), "n": ("int64_param", 3), "big": ("uint64_param", 2**64 - 1),
                     "share": ("double_param", 0.5), "sure": ("bool_param", True)}


def test_every_problem_is_listed_at_once():
    request = messages.ModelInferRequest(model_name="m")
    request.inputs.add(name="a", datatype="INT8", shape=[1]).contents.int_contents.append(1000)
    request.inputs.add(name="b", datatype="FP64", shape=[2]).contents.fp64_contents.append(1.0)
    request.inputs.add(name="c", datatype="STRING", shape=[1])
    with pytest.raises(RequestInvalid) as caught:
        parse_infer_request(request)
    assert caught.value.violations == [
        "input 'a': INT8 values must lie in [-128, 127]; got 1000",
        "input 'b': shape [2] needs 2 values, got 1",
        "input 'c': unknown datatype 'STRING'; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, "
        "FP16, FP32, FP64, BYTES",
    ]
