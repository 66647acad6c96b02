"""The Open Inference Protocol (KServe v2) REST spec, walked endpoint by endpoint and field by field.

https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol (the JSON objects
below carry the spec's names: ``$server_metadata_response``, ``$metadata_model_response``,
``$inference_request``, ...) and Triton's binary tensor data extension, which the server lists in
its extensions. Each response is checked against a JSON Schema of the spec's object, then for the
values the spec asks for. Other files cover the rest: parameter value kinds and model readiness
(test_interop.py), every route's errors (test_routes.py), a standard client (test_live.py).

Readiness follows the spec to the letter: a server or model that is not ready answers 400, as
Triton does.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
from typing import Any

import httpx
import jsonschema
import numpy as np
import pandas as pd
import pytest
from serving_helpers import IRIS_FEATURES

import tidal
from tidal.serving import ModelServer, ModelSpec

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]
PARAMETERS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
LIVE = {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}
READY = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
MODEL_READY = {"type": "object", "required": ["name", "ready"],
               "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}}
SERVER_METADATA = {
    "type": "object", "required": ["name", "version", "extensions"],
    "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                   "extensions": {"type": "array", "items": {"type": "string"}}},
}
METADATA_TENSOR = {
    "type": "object", "required": ["name", "datatype", "shape"],
    "properties": {"name": {"type": "string"}, "datatype": {"enum": DATATYPES},
                   "shape": {"type": "array", "items": {"type": "integer"}}, "parameters": PARAMETERS},
}
MODEL_METADATA = {
    "type": "object", "required": ["name", "platform", "inputs", "outputs"],
    "properties": {"name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
                   "platform": {"type": "string"}, "inputs": {"type": "array", "items": METADATA_TENSOR},
                   "outputs": {"type": "array", "items": METADATA_TENSOR}, "parameters": PARAMETERS},
}
RESPONSE_OUTPUT = {
    "type": "object", "required": ["name", "shape", "datatype"],
    "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                   "datatype": {"enum": DATATYPES}, "parameters": PARAMETERS, "data": {"type": "array"}},
    # the values come as JSON "data", or, with the binary extension, after the JSON (binary_data_size says how many bytes)
    "oneOf": [{"required": ["data"]},
              {"required": ["parameters"], "properties": {"parameters": {"required": ["binary_data_size"]}}}],
}
INFERENCE_RESPONSE = {
    "type": "object", "required": ["model_name", "outputs"],
    "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
                   "parameters": PARAMETERS, "outputs": {"type": "array", "minItems": 1, "items": RESPONSE_OUTPUT}},
}
HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
def server(iris_archive) -> ModelServer:
    return ModelServer([ModelSpec("iris", str(iris_archive))])


@pytest.fixture(scope="module")
def rows(iris) -> pd.DataFrame:
    return iris.iloc[[3, 60, 120, 140]].reset_index(drop=True)


def call(server: ModelServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def conforms(value: Any, schema: dict[str, Any]) -> Any:
    jsonschema.validate(value, schema)
    return value


def datatype(name: str) -> str:
    return {"petal_band": "INT64", "garden": "BYTES"}.get(name, "FP64")


def json_inputs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"name": name, "shape": [len(rows)], "datatype": datatype(name), "data": rows[name].tolist()}
            for name in IRIS_FEATURES]


def binary_bytes(values: list[str]) -> bytes:
    """BYTES elements in the binary extension: a 4-byte little-endian length, then the bytes."""
    return b"".join(struct.pack("<I", len(value.encode())) + value.encode() for value in values)


def split_binary(answer: httpx.Response) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON header of a binary answer and each binary output's bytes, in the order of the outputs."""
    size = int(answer.headers[HEADER])
    head, rest = json.loads(answer.content[:size]), answer.content[size:]
    chunks = {}
    for output in head["outputs"]:
        length = (output.get("parameters") or {}).get("binary_data_size")
        if length is not None:
            chunks[output["name"]], rest = rest[:length], rest[length:]
    assert rest == b"", "bytes after the last binary output"
    return head, chunks


# -- health --------------------------------------------------------------------------------------------
def test_server_live_and_ready(server):
    live = call(server, "GET", "/v2/health/live")
    assert live.status_code == 200 and conforms(live.json(), LIVE)["live"] is True
    ready = call(server, "GET", "/v2/health/ready")
    assert ready.status_code == 200 and conforms(ready.json(), READY)["ready"] is True


def test_model_ready_with_and_without_a_version(server):
    for path in ("/v2/models/iris/ready", "/v2/models/iris/versions/1/ready"):
        answer = call(server, "GET", path)
        assert answer.status_code == 200 and conforms(answer.json(), MODEL_READY) == {**answer.json(), "name": "iris", "ready": True}
    for path in ("/v2/models/ghost/ready", "/v2/models/iris/versions/9/ready"):  # "4xx indicates false"
        answer = call(server, "GET", path)
        assert 400 <= answer.status_code < 500 and conforms(answer.json(), ERROR)


# -- metadata ------------------------------------------------------------------------------------------
def test_server_metadata(server):
    answer = call(server, "GET", "/v2")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = conforms(answer.json(), SERVER_METADATA)
    assert body["name"] == "tidal" and body["version"] == tidal.__version__
    assert "binary_tensor_data" in body["extensions"]


def test_model_metadata_with_and_without_a_version(server, iris_archive):
    from tidal.models import load_model

    package = load_model(iris_archive)
    for path in ("/v2/models/iris", "/v2/models/iris/versions/1"):
        answer = call(server, "GET", path)
        assert answer.status_code == 200
        body = conforms(answer.json(), MODEL_METADATA)
        assert body["name"] == "iris" and body["versions"] == ["1"] and body["platform"] == "tidal-sklearn"
        assert [(item["name"], item["datatype"], item["shape"]) for item in body["inputs"]] == [
            (name, datatype(name), [-1]) for name in IRIS_FEATURES]  # -1: a dimension of any size (the rows)
        assert [(item["name"], item["datatype"], item["shape"]) for item in body["outputs"]] == [
            ("prediction", "BYTES", [-1]), ("probabilities", "FP64", [-1, len(package.classes)])]
    for path in ("/v2/models/ghost", "/v2/models/iris/versions/9"):
        answer = call(server, "GET", path)
        assert answer.status_code == 404 and conforms(answer.json(), ERROR)


# -- inference -----------------------------------------------------------------------------------------
def test_inference_request_and_response_fields(server, rows, iris_archive):
    from tidal.models import load_model

    expected = load_model(iris_archive).predict_proba(rows[IRIS_FEATURES])
    request = {"id": "req-42", "parameters": {"note": "any parameter a model ignores", "priority": 1},
               "inputs": json_inputs(rows), "outputs": [{"name": "probabilities"}, {"name": "prediction"}]}
    for path in ("/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"):
        answer = call(server, "POST", path, json=request)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json" and HEADER.lower() not in answer.headers
        body = conforms(answer.json(), INFERENCE_RESPONSE)
        assert (body["id"], body["model_name"], body["model_version"]) == ("req-42", "iris", "1")
        assert [item["name"] for item in body["outputs"]] == ["probabilities", "prediction"]  # as requested, in order
        for output in body["outputs"]:
            assert len(output["data"]) == math.prod(output["shape"])  # flat, row-major
        probabilities, prediction = body["outputs"]
        assert (probabilities["datatype"], probabilities["shape"]) == ("FP64", [len(rows), 3])
        assert np.array(probabilities["data"]).tobytes() == expected.ravel().tobytes()
        assert (prediction["datatype"], prediction["shape"]) == ("BYTES", [len(rows)])
        assert prediction["data"] == ["setosa", "versicolor", "virginica", "virginica"]
    # no "id" in the request: none in the response; no "outputs": every output of the model
    body = conforms(call(server, "POST", "/v2/models/iris/infer", json={"inputs": json_inputs(rows)}).json(), INFERENCE_RESPONSE)
    assert "id" not in body and [item["name"] for item in body["outputs"]] == ["prediction", "probabilities"]


def test_tensor_data_may_be_flat_or_nested_in_row_major_order(server, rows):
    flat = call(server, "POST", "/v2/models/iris/infer", json={"inputs": json_inputs(rows)}).json()
    nested = [{**item, "shape": [len(rows), 1], "data": [[value] for value in item["data"]]} for item in json_inputs(rows)]
    assert call(server, "POST", "/v2/models/iris/infer", json={"inputs": nested}).json()["outputs"] == flat["outputs"]


def test_a_failed_inference_answers_an_error_object(server, rows):
    broken = json_inputs(rows)
    broken[4]["datatype"] = "FP32"
    answer = call(server, "POST", "/v2/models/iris/infer", json={"inputs": broken})
    assert answer.status_code == 400 and "petal_band" in conforms(answer.json(), ERROR)["error"]
    answer = call(server, "POST", "/v2/models/ghost/infer", json={"inputs": json_inputs(rows)})
    assert answer.status_code == 404 and conforms(answer.json(), ERROR)


# -- the binary tensor data extension ------------------------------------------------------------------------
def test_binary_inputs_and_outputs_with_the_header_length(server, rows):
    reference = {item["name"]: item for item in
                 call(server, "POST", "/v2/models/iris/infer", json={"inputs": json_inputs(rows)}).json()["outputs"]}
    # inputs: petal_band (INT64) and garden (BYTES) binary, the others JSON, in one body
    binary_inputs = {"petal_band": rows["petal_band"].to_numpy("<i8").tobytes(), "garden": binary_bytes(rows["garden"].tolist())}
    inputs, chunks = [], []
    for item in json_inputs(rows):
        if item["name"] in binary_inputs:
            chunk = binary_inputs[item["name"]]
            item = {**{key: value for key, value in item.items() if key != "data"}, "parameters": {"binary_data_size": len(chunk)}}
            chunks.append(chunk)  # the binary data follows the JSON in the order of its inputs
        inputs.append(item)
    head = json.dumps({"inputs": inputs, "outputs": [{"name": "prediction", "parameters": {"binary_data": True}},
                                                     {"name": "probabilities"}]}).encode()
    answer = call(server, "POST", "/v2/models/iris/infer", content=head + b"".join(chunks), headers={HEADER: str(len(head))})
    assert answer.status_code == 200, answer.text
    body, binary = split_binary(answer)
    conforms(body, INFERENCE_RESPONSE)
    prediction, probabilities = body["outputs"]
    assert prediction["parameters"]["binary_data_size"] == len(binary["prediction"]) and "data" not in prediction
    assert binary["prediction"] == binary_bytes(reference["prediction"]["data"])
    assert probabilities["data"] == reference["probabilities"]["data"] and "binary_data_size" not in probabilities.get("parameters", {})
    # binary_data_output: every output binary, unless an output says otherwise
    request = {"inputs": json_inputs(rows), "parameters": {"binary_data_output": True}}
    body, binary = split_binary(call(server, "POST", "/v2/models/iris/infer", json=request))
    assert [item["parameters"]["binary_data_size"] for item in body["outputs"]] == [len(binary["prediction"]), len(rows) * 3 * 8]
    values = np.frombuffer(binary["probabilities"], "<f8")  # little-endian, row-major, no padding
    assert values.tobytes() == np.array(reference["probabilities"]["data"], "<f8").tobytes()
    request["outputs"] = [{"name": "prediction", "parameters": {"binary_data": False}}]
    plain = call(server, "POST", "/v2/models/iris/infer", json=request)
    assert HEADER.lower() not in plain.headers and plain.json()["outputs"][0]["data"] == reference["prediction"]["data"]
