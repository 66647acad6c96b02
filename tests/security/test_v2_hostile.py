"""Malformed inference requests: each answers 400 with a JSON body naming the field, never a 5xx or a
Python error text, and the model is never called."""

from __future__ import annotations

import asyncio
import json
import struct

import httpx
import numpy as np
import pandas as pd
import pytest

from tidal.serving import ModelServer, ModelSpec


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> ModelServer:
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"n": np.arange(10, dtype=np.int64), "x": np.arange(10, dtype=float) % 3})
    estimator = LinearRegression().fit(frame[["n", "x"]], frame["n"] + 2 * frame["x"])
    package = ModelPackage.from_estimator(estimator, frame, features=["n", "x"], task="regression")
    assert package.feature_types["n"].startswith("int")
    archive = package.save_archive(tmp_path_factory.mktemp("hostile") / "m.zip")
    return ModelServer([ModelSpec("m", str(archive))])


def post(server: ModelServer, path: str, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(path, content=content, headers=headers or {})

    return asyncio.run(go())


def tensor(name: str = "x", **fields) -> dict:
    return {"name": name, "datatype": "FP64", "shape": [1], "data": [1.0], **fields}


GOOD_N = {"name": "n", "datatype": "INT64", "shape": [1], "data": [1]}


def v2(*inputs: dict, **fields) -> bytes:
    return json.dumps({"inputs": [GOOD_N, *inputs], **fields}).encode()


def binary(header: dict, data: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + data, {"Inference-Header-Content-Length": str(len(head))}


def bytes_tensor(size: int) -> dict:
    return {"name": "x", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": size}}


V2_BODIES: dict[str, tuple[bytes, dict[str, str]] | bytes] = {
    "datatype as a list": v2(tensor(datatype=["FP64"])),
    "datatype as an object": v2(tensor(datatype={"a": 1})),
    "datatype as a number": v2(tensor(datatype=64)),
    "unknown datatype": v2(tensor(datatype="FP128")),
    "output name as a list": v2(tensor(), outputs=[{"name": ["prediction"]}]),
    "output name as an object": v2(tensor(), outputs=[{"name": {"a": 1}}]),
    "output without a name": v2(tensor(), outputs=[{}]),
    "outputs as an object": v2(tensor(), outputs={"name": "prediction"}),
    "output parameters as a list": v2(tensor(), outputs=[{"name": "prediction", "parameters": [1]}]),
    "unknown output": v2(tensor(), outputs=[{"name": "nope"}]),
    "boolean shape dimension": v2(tensor(shape=[True])),
    "negative shape dimension": v2(tensor(shape=[-1])),
    "float shape dimension": v2(tensor(shape=[1.0])),
    "empty shape": v2(tensor(shape=[])),
    "shape as a string": v2(tensor(shape="1")),
    "huge shape": v2(tensor(shape=[2**62, 2**62])),
    "shape and data disagree": v2(tensor(shape=[2])),
    "name as a list": v2(tensor(name=["x"])),
    "input as a string": v2("x"),  # type: ignore[arg-type]
    "data missing": v2({"name": "x", "datatype": "FP64", "shape": [1]}),
    "data as a string": v2(tensor(data="1.0")),
    "data with a string": v2(tensor(data=["1.0"])),
    "data with a boolean": v2(tensor(data=[True])),
    "data with an object": v2(tensor(data=[{"a": 1}])),
    "data with null": v2(tensor(data=[None])),
    "integer above 64 bits": v2({**GOOD_N, "name": "x", "datatype": "INT64", "data": [2**70]}),
    "integer below int64": v2({**GOOD_N, "name": "x", "datatype": "INT64", "data": [-(2**63) - 1]}),
    "uint8 out of range": v2({**GOOD_N, "name": "x", "datatype": "UINT8", "data": [300]}),
    "negative uint64": v2({**GOOD_N, "name": "x", "datatype": "UINT64", "data": [-1]}),
    "float in an integer tensor": v2({**GOOD_N, "name": "x", "datatype": "INT64", "data": [1.5]}),
    "fp32 overflow": v2(tensor(datatype="FP32", data=[1e300])),
    "fp16 overflow": v2(tensor(datatype="FP16", data=[1e10])),
    "fp64 from an integer beyond float": v2(tensor(data=[10**400])),
    "BYTES data that are numbers": v2(tensor(datatype="BYTES", data=[1])),
    "BOOL data that are numbers": v2(tensor(datatype="BOOL", data=[1])),
    "tensor parameters as a list": v2(tensor(parameters=[1])),
    "request parameters as a list": v2(tensor(), parameters=[1]),
    "binary_data_output a string": v2(tensor(), parameters={"binary_data_output": "yes"}),
    "binary_data a number": v2(tensor(), outputs=[{"name": "prediction", "parameters": {"binary_data": 1}}]),
    "id as a number": v2(tensor(), id=7),
    "id as an object": v2(tensor(), id={"a": 1}),
    "inputs missing": json.dumps({"outputs": []}).encode(),
    "inputs empty": json.dumps({"inputs": []}).encode(),
    "inputs as an object": json.dumps({"inputs": {"x": 1}}).encode(),
    "body a list": b"[1, 2]",
    "body not JSON": b"{nope",
    "body not UTF-8": b"\xff\xfe{}",
    "body empty": b"",
    "wrong kind for an integer input": json.dumps({"inputs": [{**GOOD_N, "datatype": "FP64", "data": [1.0]}, tensor()]}).encode(),
    "rows disagree": json.dumps({"inputs": [GOOD_N, tensor(shape=[2], data=[1.0, 2.0])]}).encode(),
    "missing input": json.dumps({"inputs": [GOOD_N, GOOD_N]}).encode(),
    "binary size a string": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": "8"})]}, b"\0" * 8),
    "binary size a boolean": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": True})]}, b"\0" * 8),
    "binary size negative": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": -8})]}, b"\0" * 8),
    "binary size past the end": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": 16})]}, b"\0" * 8),
    "binary FP64 of the wrong length": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": 4})]}, b"\0" * 4),
    "binary bytes left over": binary({"inputs": [GOOD_N, tensor(data=None, parameters={"binary_data_size": 8})]}, b"\0" * 12),
    "BYTES length prefix cut short": binary({"inputs": [GOOD_N, bytes_tensor(2)]}, b"\x01\x00"),
    "BYTES element cut short": binary({"inputs": [GOOD_N, bytes_tensor(6)]}, struct.pack("<I", 9) + b"ab"),
    "BYTES element not UTF-8": binary({"inputs": [GOOD_N, bytes_tensor(6)]}, struct.pack("<I", 2) + b"\xff\xfe"),
    "header length not a number": (v2(tensor()), {"Inference-Header-Content-Length": "ten"}),
    "header length beyond the body": (v2(tensor()), {"Inference-Header-Content-Length": "99999"}),
    "header length negative": (v2(tensor()), {"Inference-Header-Content-Length": "-1"}),
}

JSON_BODIES: dict[str, object] = {
    "integer above 64 bits": [{"n": 2**70, "x": 1.0}],
    "integer below int64": [{"n": -(2**63) - 1, "x": 1.0}],
    "1e300 for an integer column": [{"n": 1e300, "x": 1.0}],
    "float beyond 2**63 for an integer column": [{"n": 9.3e18, "x": 1.0}],
    "integer beyond float for a float column": [{"n": 1, "x": 10**400}],
    "fraction for an integer column": [{"n": 1.5, "x": 1.0}],
    "boolean for a number": [{"n": 1, "x": True}],
    "string for a number": [{"n": 1, "x": "1"}],
    "list for a number": [{"n": [1], "x": 1.0}],
    "object for a number": [{"n": 1, "x": {"a": 1}}],
    "null for an integer": [{"n": None, "x": 1.0}],
    "missing column": [{"x": 1.0}],
    "row a list": [[1, 1.0]],
    "row a number": [1],
    "body a number": 7,
    "body empty list": [],
    "body a string": "rows",
}


def _check(answer: httpx.Response, label: str) -> None:
    assert answer.status_code == 400, (label, answer.status_code, answer.text)
    body = answer.json()
    assert isinstance(body.get("error"), str) and body["error"], (label, body)
    for leak in ("unhashable", "Traceback", "OverflowError", "object of type", "NoneType", "RecursionError"):
        assert leak not in body["error"], (label, body["error"])


@pytest.mark.parametrize("label", list(V2_BODIES))
def test_malformed_v2_requests_answer_400_naming_the_field(server, label):
    case = V2_BODIES[label]
    content, headers = case if isinstance(case, tuple) else (case, {})
    _check(post(server, "/v2/models/m/infer", content, headers), label)


@pytest.mark.parametrize("label", list(JSON_BODIES))
def test_malformed_json_route_requests_answer_400_naming_the_field(server, label):
    _check(post(server, "/api/predict/m", json.dumps(JSON_BODIES[label]).encode()), label)


def test_named_fields_are_in_the_messages(server):
    answer = post(server, "/v2/models/m/infer", v2(tensor(datatype=["FP64"])))
    assert "input 'x': 'datatype' must be a string, one of" in answer.json()["error"]
    answer = post(server, "/v2/models/m/infer", v2(tensor(shape=[True])))
    assert "input 'x': 'shape' must be" in answer.json()["error"]
    answer = post(server, "/v2/models/m/infer", v2(tensor(), outputs=[{"name": ["prediction"]}]))
    assert "outputs[0] must be an object with a string 'name'" in answer.json()["error"]
    answer = post(server, "/api/predict/m", json.dumps([{"n": 2**70, "x": 1.0}]).encode())
    assert "column 'n' must be a whole number from -2**63 to 2**63-1: row 0 has" in answer.json()["error"]


def test_well_formed_requests_still_work(server):
    answer = post(server, "/v2/models/m/infer", v2(tensor(data=[2.0])))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == pytest.approx([5.0])
    nested = post(server, "/v2/models/m/infer", json.dumps({"inputs": [
        {**GOOD_N, "shape": [2, 1], "data": [[1], [2]]}, tensor(shape=[2, 1], data=[[1.0], [2.0]])]}).encode())
    assert nested.status_code == 200, nested.text
    assert nested.json()["outputs"][0]["data"] == pytest.approx([3.0, 6.0])
    deep = v2(tensor(data=[[1.0]])).replace(b"[[1.0]]", b"[" * 900 + b"1.0" + b"]" * 900)
    assert post(server, "/v2/models/m/infer", deep).status_code in (200, 400)  # nesting as deep as JSON allows: no crash
    big = post(server, "/api/predict/m", json.dumps([{"n": 2**62, "x": 1e300}]).encode())
    assert big.status_code in (200, 422), big.text  # in range: the model may score it or refuse it, never 5xx
