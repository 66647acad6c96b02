"""The three ways the benchmark sends one FP32 tensor [N, 30] to a server, and how it reads the answers back.

* ``json``: the Open Inference Protocol's JSON body, the values as a JSON list;
* ``binary``: the binary tensor extension over HTTP: a JSON header (``binary_data_size`` on the
  input, ``binary_data_output: true``) followed by the raw little-endian FP32 bytes, its length in
  the ``Inference-Header-Content-Length`` header; outputs come back raw the same way;
* ``grpc``: a serialized ``inference.ModelInferRequest`` with the values in ``raw_input_contents``
  (as tritonclient sends them); outputs come back in ``raw_output_contents``.

The benchmark checks every server's answer on every path against the booster itself before it
measures, so no server is timed on answers that are wrong or empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

MODEL = "cancer"
INPUT = "input-0"
DTYPES = {"BOOL": "?", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "UINT8": "<u1",
          "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
BINARY_HEADER = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class Payload:
    """A request body and the HTTP headers it needs (none for gRPC)."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_payload(rows: np.ndarray) -> Payload:
    document = {"inputs": [{"name": INPUT, "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
    return Payload("json", json.dumps(document).encode(), {"Content-Type": "application/json"})


def binary_payload(rows: np.ndarray) -> Payload:
    raw = np.ascontiguousarray(rows, dtype="<f4").tobytes()
    header = json.dumps({"inputs": [{"name": INPUT, "shape": list(rows.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return Payload("binary", header + raw, {"Content-Type": "application/octet-stream", BINARY_HEADER: str(len(header))})


def grpc_payload(rows: np.ndarray) -> Payload:
    from tidal.serving import grpc_predict_v2_pb2 as messages

    request = messages.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name=INPUT, datatype="FP32", shape=list(rows.shape))
    request.raw_input_contents.append(np.ascontiguousarray(rows, dtype="<f4").tobytes())
    return Payload("grpc", request.SerializeToString())


BUILDERS = {"json": json_payload, "binary": binary_payload, "grpc": grpc_payload}


def positive_class(outputs: dict[str, Any], decode: Any) -> np.ndarray:
    """The positive class's probability: Tidal's ``probabilities`` [N, 2], or the booster's own ``predict``."""
    if "probabilities" in outputs:
        return np.asarray(decode("probabilities"), dtype=np.float64).reshape(-1, 2)[:, 1]
    return np.asarray(decode("predict"), dtype=np.float64).ravel()


def http_answer(url: str, payload: Payload) -> np.ndarray:
    """POST the payload; the positive class's probabilities. Raises ``RuntimeError`` with the server's words on a refusal."""
    response = httpx.post(url, content=payload.body, headers=payload.headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    length = response.headers.get(BINARY_HEADER)
    head = response.content[: int(length)] if length is not None else response.content
    outputs = {item["name"]: item for item in json.loads(head)["outputs"]}
    chunks: dict[str, bytes] = {}
    offset = len(head)
    for name, item in outputs.items():  # raw outputs follow the header in the order the header lists them
        size = (item.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            chunks[name] = response.content[offset: offset + size]
            offset += size
    if payload.path == "binary" and not chunks:
        raise RuntimeError("asked for binary outputs (binary_data_output) but every output came back as JSON")

    def decode(name: str) -> np.ndarray:
        item = outputs[name]
        if name in chunks:
            return np.frombuffer(chunks[name], dtype=DTYPES[item["datatype"]])
        return np.asarray(item["data"])

    return positive_class(outputs, decode)


def grpc_answer(target: str, payload: Payload, wait_s: float = 30.0) -> np.ndarray:
    """Send the ModelInferRequest (retrying while the port is not up yet); the positive class's probabilities."""
    import time

    import grpc

    from tidal.serving import grpc_predict_v2_pb2 as messages

    deadline = time.time() + wait_s
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        while True:
            try:
                answer = messages.ModelInferResponse.FromString(call(payload.body, timeout=10))
                break
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or time.time() > deadline:
                    raise RuntimeError(f"gRPC {error.code().name}: {error.details()}") from None
                time.sleep(0.3)
    outputs = {item.name: (index, item) for index, item in enumerate(answer.outputs)}
    if not answer.raw_output_contents:
        raise RuntimeError("sent raw_input_contents but the outputs came back typed, not in raw_output_contents")

    def decode(name: str) -> np.ndarray:
        index, item = outputs[name]
        return np.frombuffer(answer.raw_output_contents[index], dtype=DTYPES[item.datatype])

    return positive_class(outputs, decode)
