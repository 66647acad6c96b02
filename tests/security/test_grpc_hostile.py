"""Hostile gRPC requests: each is refused with a status code and a short message naming the field, never
UNKNOWN or a Python traceback, never a memory blow-up from a claimed shape, and the model is never called."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from grpc_endpoint import grpc_endpoint

grpc = pytest.importorskip("grpc")
from tidal.serving import ModelServer, ModelSpec, ServerOptions  # noqa: E402
from tidal.serving import grpc_predict_v2_pb2 as messages  # noqa: E402 - needs protobuf, checked just above

LIMIT = 1024 * 1024  # the server's --max-body-mb
SECRET = "the-attacker-guessed-this-token-42"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[ModelServer, str]]:
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"n": np.arange(10, dtype=np.int64), "x": np.arange(10, dtype=float) % 3,
                          "tag": ["a", "b"] * 5})
    estimator = LinearRegression().fit(frame[["n", "x"]], frame["n"] + 2 * frame["x"])
    package = ModelPackage.from_estimator(estimator, frame, features=["n", "x"], task="regression")
    archive = package.save_archive(tmp_path_factory.mktemp("grpc-hostile") / "m.zip")
    server = ModelServer([ModelSpec("m", str(archive))], options=ServerOptions(max_body_bytes=LIMIT))
    with grpc_endpoint(server) as address:
        yield server, address


def send(address: str, method: str, payload: bytes, metadata: Any = None) -> tuple[Any, str]:
    """Send raw bytes as the request; returns (status code, message) of the refusal."""
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/inference.GRPCInferenceService/{method}")
        with pytest.raises(grpc.RpcError) as caught:
            call(payload, metadata=metadata, timeout=30)
    return caught.value.code(), caught.value.details() or ""


def model_calls(server: ModelServer) -> float:
    samples = server.metrics.model_seconds.collect()[0].samples
    return sum(sample.value for sample in samples if sample.name.endswith("_count"))


def request(*inputs: dict[str, Any], raw: list[bytes] | None = None, **fields: Any) -> bytes:
    message = messages.ModelInferRequest(**{"model_name": "m", **fields})
    for item in inputs:
        tensor = message.inputs.add(name=item["name"], datatype=item.get("datatype", "FP64"), shape=item.get("shape", [1]))
        for field, values in item.get("contents", {"fp64_contents": [1.0]}).items():
            getattr(tensor.contents, field).extend(values)
    message.raw_input_contents.extend(raw or [])
    return bytes(message.SerializeToString())


N = {"name": "n", "datatype": "INT64", "contents": {"int64_contents": [1]}}


def x(**fields: Any) -> dict[str, Any]:
    return {"name": "x", **fields}


HOSTILE: dict[str, tuple[bytes, str]] = {
    "garbage bytes": (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "not a valid inference.ModelInferRequest message"),
    "a truncated message": (request(N, x())[:-3], "not a valid inference.ModelInferRequest message"),
    "a model name that is not UTF-8": (b"\x0a\x02\xff\xfe", "not a valid inference.ModelInferRequest message"),
    "no inputs": (request(), "the request has no inputs"),
    "no model name": (request(N, x(), model_name=""), "'model_name' is empty"),
    "an input without a name": (request(N, x(name="")), "inputs[1]: 'name' is empty"),
    "a huge shape with one value": (request(N, x(shape=[2**62, 2**62])), "input 'x': shape [4611686018427387904, 4611686018427387904] needs"),
    "a huge shape with raw bytes": (request({**N, "contents": {}}, x(contents={}, shape=[2**40]), raw=[struct.pack("<q", 1), b"\0" * 8]),
                                    "input 'x': binary data has 8 bytes, the shape needs 8796093022208"),
    "a negative shape": (request(N, x(shape=[-1])), "input 'x': 'shape' must be a non-empty list of non-negative sizes"),
    "an empty shape": (request(N, x(shape=[])), "input 'x': 'shape' must be a non-empty list"),
    "fewer values than the shape": (request(N, x(shape=[3])), "input 'x': shape [3] needs 3 values, got 1"),
    "raw contents for fewer inputs": (request({**N, "contents": {}}, x(contents={}), raw=[struct.pack("<q", 1)]),
                                      "raw_input_contents has 1 entries for 2 inputs"),
    "raw contents one byte short": (request({**N, "contents": {}}, x(contents={}), raw=[struct.pack("<q", 1), b"\0" * 7]),
                                    "input 'x': binary data has 7 bytes, the shape needs 8"),
    "raw and typed values at once": (request(N, x(), raw=[struct.pack("<q", 1), b"\0" * 8]),
                                     "has 'contents' while the request carries raw_input_contents"),
    "BYTES raw length past the end": (request({**N, "contents": {}}, {"name": "x", "datatype": "BYTES", "contents": {}},
                                              raw=[struct.pack("<q", 1), struct.pack("<I", 2**31) + b"ab"]),
                                      "BYTES data is cut short"),
    "an unknown datatype": (request(N, x(datatype="FP128")), "input 'x': unknown datatype 'FP128'"),
    "an empty datatype": (request(N, x(datatype="")), "input 'x': unknown datatype ''"),
    "values in another type's field": (request(N, x(contents={"int64_contents": [1]})),
                                       "datatype FP64 takes its values in contents.fp64_contents; got contents.int64_contents"),
    "INT8 out of range": (request(N, x(datatype="INT8", contents={"int_contents": [300]})), "INT8 values must lie in [-128, 127]; got 300"),
    "UINT16 out of range": (request(N, x(datatype="UINT16", contents={"uint_contents": [70000]})), "UINT16 values must lie in [0, 65535]"),
    "FP16 in typed contents": (request(N, x(datatype="FP16", contents={})), "FP16 values have no typed field"),
    "BYTES that are not UTF-8": (request(N, x(datatype="BYTES", contents={"bytes_contents": [b"\xff"]})), "BYTES element 0 is not UTF-8"),
    "text for a number column": (request(N, x(datatype="BYTES", contents={"bytes_contents": [b"1.0"]})),
                                 "input 'x' takes a numeric datatype (FP64, FP32, INT64 ...), got BYTES"),
    "a fraction for an integer column": (request({**N, "datatype": "FP64", "contents": {"fp64_contents": [1.5]}}, x()),
                                         "input 'n' takes an integer datatype (INT64 ...), got FP64"),
    "rows that disagree": (request({**N, "shape": [2], "contents": {"int64_contents": [1, 2]}}, x()), "input 'x' has 1 rows, other inputs have 2"),
    "a 3-D tensor": (request(N, x(shape=[1, 1, 1])), "input 'x' must have shape [N] or [N, 1]"),
    "an unknown output": (request(N, x(), outputs=[messages.ModelInferRequest.InferRequestedOutputTensor(name="secret")]),
                          "unknown output(s) 'secret'"),
    "a non-boolean binary_data_output": (request(N, x(), parameters={"binary_data_output": messages.InferParameter(string_param="yes")}),
                                         "parameter binary_data_output must be a bool_param"),
}


# a model's outputs are known once it answers (a custom processor may give more than it declares), so a request
# for an unknown output is refused after the model ran, as on the HTTP face
AFTER_THE_MODEL = {"an unknown output"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_infer_requests_are_refused_naming_the_field(served, case):
    server, address = served
    payload, expected = HOSTILE[case]
    before = model_calls(server)
    code, message = send(address, "ModelInfer", payload)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, message)
    assert expected in message
    assert "Traceback" not in message and len(message) <= 2000
    assert model_calls(server) == before + (case in AFTER_THE_MODEL)  # otherwise the model never ran


def test_every_rpc_refuses_garbage_as_invalid_argument(served):
    _, address = served
    for method in ("ModelReady", "ModelMetadata", "ServerMetadata", "ServerLive", "ServerReady"):
        code, message = send(address, method, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "not a valid inference." in message, (method, message)


def test_ten_thousand_inputs(served):
    server, address = served
    before = model_calls(server)
    # 10k inputs the model does not take: ignored, and named in metadata cut to 4 KiB
    extra = [{"name": f"column_{index}", "contents": {"fp64_contents": [1.0]}} for index in range(10_000)]
    with grpc.insecure_channel(address) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                    response_deserializer=messages.ModelInferResponse.FromString)
        answer, call = infer.with_call(request(N, x(), *extra), timeout=60)
    assert list(answer.outputs[0].contents.fp64_contents) == pytest.approx([3.0])
    ignored = dict(call.initial_metadata())["x-tidal-ignored-columns"]
    assert ignored.startswith("column_0,column_1,") and ignored.endswith(",...") and len(ignored) <= 4096
    # 10k broken inputs: every problem is found, the message says how many and stays short
    broken = [{"name": f"column_{index}", "datatype": "FP128"} for index in range(10_000)]
    code, message = send(address, "ModelInfer", request(N, x(), *broken))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("the request has 10000 problems: input 'column_0': unknown datatype")
    assert re.search(r"; and \d{4} more$", message) and len(message) <= 2000
    assert model_calls(server) == before + 1


def test_a_message_over_the_size_limit_is_refused_before_it_is_read(served):
    server, address = served
    before = model_calls(server)
    code, message = send(address, "ModelInfer", request(N, x(contents={"fp64_contents": [1.0] * (LIMIT // 8 + 10)})))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and str(LIMIT) in message
    assert model_calls(server) == before


def test_a_huge_model_name_is_not_echoed_whole(served):
    _, address = served
    code, message = send(address, "ModelInfer", request(N, x(), model_name="m" * 200_000))
    assert code == grpc.StatusCode.NOT_FOUND and len(message) <= 2000
    code, message = send(address, "ModelMetadata", messages.ModelMetadataRequest(name="q" * 200_000).SerializeToString())
    assert code == grpc.StatusCode.NOT_FOUND and len(message) <= 2000


def test_a_wrong_token_is_refused_and_never_echoed(tmp_path):
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"x": np.arange(5, dtype=float)})
    package = ModelPackage.from_estimator(LinearRegression().fit(frame, frame["x"]), frame, features=["x"], task="regression")
    archive = package.save_archive(tmp_path / "m.zip")
    token = "the-real-token-0123456789abcdef"
    server = ModelServer([ModelSpec("m", str(archive))], options=ServerOptions(host="0.0.0.0", token=token))
    payload = request(x())
    with grpc_endpoint(server) as address:
        for metadata in ((("authorization", f"Bearer {SECRET}"),), (("authorization", SECRET),),
                         (("authorization", f"Basic {SECRET}"),), (("x-token", token),), None):
            code, message = send(address, "ModelInfer", payload, metadata)
            assert code == grpc.StatusCode.UNAUTHENTICATED and SECRET not in message and token not in message
        assert model_calls(server) == 0


def test_the_health_service_refuses_garbage_and_never_echoes_a_huge_service_name(served):
    _, address = served
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        for payload in (b"\xff\xff\xff", b"\x0a\xff\xff\xff\x0f"):  # not a message; a length past the end
            with pytest.raises(grpc.RpcError) as caught:
                check(payload, timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "not a valid grpc.health.v1.HealthCheckRequest" in (caught.value.details() or "")
        huge = "A" * 500_000
        encoded = b"\x0a" + _varint(len(huge)) + huge.encode()
        with pytest.raises(grpc.RpcError) as caught:
            check(encoded, timeout=30)
        details = caught.value.details() or ""
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND and len(details) < 400 and "A" * 300 not in details


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
