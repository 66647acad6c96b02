"""The Open Inference Protocol over gRPC: a real `tidal serve --grpc-port` asked by tritonclient's gRPC client.

Wire compatibility is checked twice: our messages against tritonclient's own descriptors, field by
field, and a standard client against a real server, whose answers must equal the HTTP face's to
the last bit.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from grpc_endpoint import grpc_endpoint
from servers import free_port
from serving_helpers import IRIS_FEATURES, running_server

import tidal
from tidal.core._errors import TidalError

grpc = pytest.importorskip("grpc")
triton = pytest.importorskip("tritonclient.grpc")
triton_http = pytest.importorskip("tritonclient.http")
from tidal.serving import grpc_predict_v2_pb2 as messages  # noqa: E402 - needs protobuf, checked just above

DATATYPES = {"petal_band": "INT64", "garden": "BYTES"}  # the other features are FP64


@pytest.fixture(scope="module")
def served(iris_archive) -> Iterator[tuple[str, str]]:
    """(HTTP base URL, gRPC host:port) of one `tidal serve iris.zip --grpc-port PORT`."""
    port = free_port()
    # a short drain: the fixture's Ctrl-C then stops the server at once
    with running_server(f"iris={iris_archive}", "--grpc-port", str(port), "--drain-seconds", "0.1") as (base, _):
        yield base, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def rows(iris) -> pd.DataFrame:
    return iris.iloc[[0, 1, 50, 51, 100, 101, 149]].reset_index(drop=True)


def triton_inputs(module: Any, rows: pd.DataFrame) -> list[Any]:
    inputs = []
    for name in IRIS_FEATURES:
        datatype = DATATYPES.get(name, "FP64")
        tensor = module.InferInput(name, [len(rows)], datatype)
        tensor.set_data_from_numpy(rows[name].to_numpy(object if datatype == "BYTES" else None))
        inputs.append(tensor)
    return inputs


def typed_request(rows: pd.DataFrame, **fields: Any) -> Any:
    """A ModelInferRequest with every input in its typed contents field (no raw_input_contents)."""
    request = messages.ModelInferRequest(model_name="iris", **fields)
    for name in IRIS_FEATURES:
        datatype = DATATYPES.get(name, "FP64")
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[len(rows)])
        if datatype == "BYTES":
            tensor.contents.bytes_contents.extend(value.encode() for value in rows[name])
        elif datatype == "INT64":
            tensor.contents.int64_contents.extend(rows[name].tolist())
        else:
            tensor.contents.fp64_contents.extend(rows[name].tolist())
    return request


def rpc(address: str, method: str, request: Any, response_type: Any, metadata: Any = None) -> tuple[Any, Any]:
    """Call one method with our own messages; returns (response, call) for the metadata."""
    with grpc.insecure_channel(address) as channel:
        stub = channel.unary_unary(f"/inference.GRPCInferenceService/{method}",
                                   request_serializer=lambda message: message.SerializeToString(),
                                   response_deserializer=response_type.FromString)
        return stub.with_call(request, metadata=metadata, timeout=30)


def refused(call: Any) -> Any:
    with pytest.raises(triton.InferenceServerException) as caught:
        call()
    return caught.value


# -- wire compatibility -----------------------------------------------------------------------------
def _fields(descriptor: Any) -> dict[str, Any]:
    shape = {}
    for field in descriptor.fields:
        repeated = getattr(field, "is_repeated", None)
        if repeated is None:  # protobuf before 5.x has no is_repeated
            repeated = field.label == field.LABEL_REPEATED
        shape[field.name] = (field.number, field.type, repeated,
                             field.message_type.full_name if field.message_type else None,
                             field.containing_oneof.name if field.containing_oneof else None)
    return shape


def _same_message(ours: Any, theirs: Any) -> None:
    assert ours.full_name == theirs.full_name
    assert _fields(ours) == _fields(theirs), ours.full_name
    assert ours.GetOptions().map_entry == theirs.GetOptions().map_entry, ours.full_name
    nested = {item.name: item for item in theirs.nested_types}
    assert {item.name for item in ours.nested_types} <= set(nested), ours.full_name
    for item in ours.nested_types:
        _same_message(item, nested[item.name])


def test_our_messages_are_tritonclients_field_for_field():
    from tritonclient.grpc import service_pb2

    ours, theirs = messages.DESCRIPTOR, service_pb2.DESCRIPTOR
    assert ours.package == theirs.package == "inference"
    assert len(ours.message_types_by_name) == 14  # every message we define is checked below
    for name, message in ours.message_types_by_name.items():
        _same_message(message, theirs.message_types_by_name[name])
    service, reference = ours.services_by_name["GRPCInferenceService"], theirs.services_by_name["GRPCInferenceService"]
    assert service.full_name == reference.full_name == "inference.GRPCInferenceService"
    methods = {method.name: method for method in reference.methods}
    assert [method.name for method in service.methods] == [
        "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]
    for method in service.methods:
        assert (method.input_type.full_name, method.output_type.full_name) == (
            methods[method.name].input_type.full_name, methods[method.name].output_type.full_name)
        assert not method.client_streaming and not method.server_streaming


# -- a real server ------------------------------------------------------------------------------------
def test_health_and_metadata_agree_with_the_http_face(served):
    base, address = served
    client = triton.InferenceServerClient(address)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris") and client.is_model_ready("iris", "1")
    assert not client.is_model_ready("ghost") and not client.is_model_ready("iris", "9")
    server = client.get_server_metadata(as_json=True)
    assert server == {"name": "tidal", "version": tidal.__version__, "extensions": ["binary_tensor_data"]}
    metadata = client.get_model_metadata("iris", as_json=True)
    http = httpx.get(f"{base}/v2/models/iris").json()

    def tensors(items: list[dict[str, Any]]) -> list[tuple[str, str, list[int]]]:
        return [(item["name"], item["datatype"], [int(size) for size in item["shape"]]) for item in items]

    assert (metadata["name"], metadata["versions"], metadata["platform"]) == ("iris", ["1"], http["platform"])
    assert tensors(metadata["inputs"]) == tensors(http["inputs"])
    assert [item[:2] for item in tensors(metadata["inputs"])] == [
        (name, DATATYPES.get(name, "FP64")) for name in IRIS_FEATURES]
    assert tensors(metadata["outputs"]) == tensors(http["outputs"]) == [
        ("prediction", "BYTES", [-1]), ("probabilities", "FP64", [-1, 3])]
    assert client.get_model_metadata("iris", "1", as_json=True)["name"] == "iris"


def test_infer_answers_equal_the_http_faces_to_the_last_bit(served, rows, iris_archive):
    from tidal.models import load_model

    base, address = served
    expected = load_model(iris_archive).predict_proba(rows[IRIS_FEATURES])
    # tritonclient's gRPC client sends raw_input_contents, so the outputs come back raw
    raw = triton.InferenceServerClient(address).infer("iris", triton_inputs(triton, rows), request_id="r-7")
    answer = raw.get_response()
    assert (answer.id, answer.model_name, answer.model_version) == ("r-7", "iris", "1")
    assert len(answer.raw_output_contents) == 2
    assert json.loads(raw.get_output("probabilities").parameters["classes"].string_param) == ["setosa", "versicolor", "virginica"]
    # the HTTP face, binary (tritonclient's default) and JSON
    binary = triton_http.InferenceServerClient(base.removeprefix("http://")).infer("iris", triton_inputs(triton_http, rows))
    document = httpx.post(f"{base}/v2/models/iris/infer", json={"inputs": [
        {"name": name, "datatype": DATATYPES.get(name, "FP64"), "shape": [len(rows)], "data": rows[name].tolist()}
        for name in IRIS_FEATURES]}).json()
    outputs = {item["name"]: item for item in document["outputs"]}
    # typed contents in, typed contents out
    typed, _ = rpc(address, "ModelInfer", typed_request(rows, id="t-1"), messages.ModelInferResponse)
    assert not typed.raw_output_contents and typed.id == "t-1"
    typed_outputs = {item.name: item for item in typed.outputs}

    probabilities = raw.as_numpy("probabilities")
    assert probabilities.dtype == np.float64 and probabilities.shape == (len(rows), 3)
    assert probabilities.tobytes() == binary.as_numpy("probabilities").tobytes()
    assert probabilities.tobytes() == np.array(outputs["probabilities"]["data"], np.float64).tobytes()
    assert probabilities.tobytes() == np.array(typed_outputs["probabilities"].contents.fp64_contents, np.float64).tobytes()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-12)
    labels = [value.decode() for value in raw.as_numpy("prediction")]
    assert labels == [value.decode() for value in binary.as_numpy("prediction")] == outputs["prediction"]["data"]
    assert labels == [value.decode() for value in typed_outputs["prediction"].contents.bytes_contents]
    assert labels == ["setosa", "setosa", "versicolor", "versicolor", "virginica", "virginica", "virginica"]
    assert list(typed_outputs["probabilities"].shape) == [len(rows), 3]


def test_the_request_chooses_raw_or_typed_outputs_and_which(served, rows):
    _, address = served
    asked = typed_request(rows)
    asked.parameters["binary_data_output"].bool_param = True
    answer, _ = rpc(address, "ModelInfer", asked, messages.ModelInferResponse)
    assert len(answer.raw_output_contents) == 2 and not answer.outputs[1].contents.fp64_contents
    one = typed_request(rows)
    one.outputs.add(name="probabilities")
    answer, _ = rpc(address, "ModelInfer", one, messages.ModelInferResponse)
    assert [item.name for item in answer.outputs] == ["probabilities"] and not answer.raw_output_contents
    one.outputs[0].parameters["binary_data"].bool_param = True
    answer, _ = rpc(address, "ModelInfer", one, messages.ModelInferResponse)
    assert np.frombuffer(answer.raw_output_contents[0], "<f8").size == len(rows) * 3
    # raw inputs may still ask for typed outputs
    raw = messages.ModelInferRequest(model_name="iris")
    for name in IRIS_FEATURES:
        datatype = DATATYPES.get(name, "FP64")
        raw.inputs.add(name=name, datatype=datatype, shape=[len(rows)])
        if datatype == "BYTES":
            raw.raw_input_contents.append(b"".join(len(value).to_bytes(4, "little") + value.encode() for value in rows[name]))
        else:
            raw.raw_input_contents.append(rows[name].to_numpy("<i8" if datatype == "INT64" else "<f8").tobytes())
    answer, _ = rpc(address, "ModelInfer", raw, messages.ModelInferResponse)
    assert len(answer.raw_output_contents) == 2
    raw.parameters["binary_data_output"].bool_param = False
    answer, _ = rpc(address, "ModelInfer", raw, messages.ModelInferResponse)
    assert not answer.raw_output_contents and answer.outputs[0].contents.bytes_contents[0] == b"setosa"


def test_unknown_inputs_are_ignored_and_named_in_the_metadata(served, rows):
    _, address = served
    request = typed_request(rows)
    request.inputs.add(name="note", datatype="BYTES", shape=[len(rows)]).contents.bytes_contents.extend([b"x"] * len(rows))
    answer, call = rpc(address, "ModelInfer", request, messages.ModelInferResponse)
    assert len(answer.outputs) == 2
    assert dict(call.initial_metadata())["x-tidal-ignored-columns"] == "note"


def test_bad_requests_are_refused_with_the_right_code_naming_the_field(served, rows):
    _, address = served
    client = triton.InferenceServerClient(address)
    inputs = triton_inputs(triton, rows)
    wrong = triton.InferInput("petal_band", [len(rows)], "FP32")
    wrong.set_data_from_numpy(rows["petal_band"].to_numpy(np.float32))
    error = refused(lambda: client.infer("iris", [*inputs[:4], wrong, inputs[5]]))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert "input 'petal_band' takes an integer datatype (INT64 ...), got FP32" in error.message()
    error = refused(lambda: client.infer("iris", inputs[:5]))
    assert error.status() == "StatusCode.INVALID_ARGUMENT" and "missing input(s) 'garden'" in error.message()
    short = triton.InferInput("sepal_length", [len(rows)], "FP64")
    short.set_data_from_numpy(rows["sepal_length"].to_numpy())
    short.set_shape([len(rows) + 1])  # claim one row more than the bytes hold
    error = refused(lambda: client.infer("iris", [short, *inputs[1:]]))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert f"input 'sepal_length': binary data has {8 * len(rows)} bytes, the shape needs {8 * (len(rows) + 1)}" in error.message()
    error = refused(lambda: client.infer("iris", inputs, outputs=[triton.InferRequestedOutput("score")]))
    assert error.status() == "StatusCode.INVALID_ARGUMENT" and "unknown output(s) 'score'" in error.message()
    error = refused(lambda: client.infer("ghost", inputs))
    assert error.status() == "StatusCode.NOT_FOUND" and "no model 'ghost' is served here (served: iris)" in error.message()
    error = refused(lambda: client.infer("iris", inputs, model_version="9"))
    assert error.status() == "StatusCode.NOT_FOUND" and "model 'iris' has no version '9'" in error.message()
    error = refused(lambda: client.get_model_metadata("ghost"))
    assert error.status() == "StatusCode.NOT_FOUND"
    error = refused(lambda: client.get_model_repository_index())  # the repository stays on HTTP (--admin)
    assert error.status() == "StatusCode.UNIMPLEMENTED"


def test_metrics_count_grpc_requests_by_code(served, rows):
    base, address = served
    client = triton.InferenceServerClient(address)
    client.infer("iris", triton_inputs(triton, rows))
    refused(lambda: client.infer("iris", triton_inputs(triton, rows)[:2]))
    metrics = httpx.get(f"{base}/metrics").text
    assert 'tidal_requests_total{model="iris",route="grpc",status="OK",version="1"}' in metrics
    assert 'tidal_requests_total{model="iris",route="grpc",status="INVALID_ARGUMENT",version="1"}' in metrics
    assert 'tidal_request_latency_seconds_count{model="iris",route="grpc",version="1"}' in metrics


# -- the server's options in this process ---------------------------------------------------------------
def test_the_token_is_needed_where_the_http_server_needs_it(iris_archive, rows):
    from tidal.serving import ModelServer, ModelSpec, ServerOptions

    token = "grpc-test-token-0123456789"
    # options say "bound beyond loopback" (so the token is needed); the endpoint itself listens on loopback
    server = ModelServer([ModelSpec("iris", str(iris_archive))], options=ServerOptions(host="0.0.0.0", token=token))
    with grpc_endpoint(server) as address:
        client = triton.InferenceServerClient(address)
        assert client.is_server_live() and client.is_server_ready()  # probes need no token, as /v2/health/*
        for call in (lambda headers: client.get_model_metadata("iris", headers=headers),
                     lambda headers: client.is_model_ready("iris", headers=headers),
                     lambda headers: client.get_server_metadata(headers=headers),
                     lambda headers: client.infer("iris", triton_inputs(triton, rows), headers=headers)):
            error = refused(lambda: call(None))  # noqa: B023 - called at once
            assert error.status() == "StatusCode.UNAUTHENTICATED"
            assert "needs the server's token: send the metadata 'authorization: Bearer TOKEN'" in error.message()
            error = refused(lambda: call({"authorization": "Bearer not-the-token"}))  # noqa: B023
            assert error.status() == "StatusCode.UNAUTHENTICATED" and "the token is wrong" in error.message()
            assert call({"authorization": f"Bearer {token}"})
        server.draining = True
        assert not client.is_server_ready()
        assert not client.is_model_ready("iris", headers={"authorization": f"Bearer {token}"})


def test_the_standard_health_service_answers_probes_and_watchers(iris_archive):
    from grpc_health.v1 import health_pb2

    from tidal.serving import ModelServer, ModelSpec, ServerOptions

    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    # bound beyond loopback by its options: the health RPCs still need no token, as /v2/health/* do
    server = ModelServer([ModelSpec("iris", str(iris_archive))], options=ServerOptions(host="0.0.0.0", token="t" * 24))
    check_path, watch_path = "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"
    with grpc_endpoint(server) as address:
        channel = grpc.insecure_channel(address)  # closed after the endpoint: a watcher open at the stop is checked
        check = channel.unary_unary(check_path, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                    response_deserializer=health_pb2.HealthCheckResponse.FromString)
        watch = channel.unary_stream(watch_path, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                     response_deserializer=health_pb2.HealthCheckResponse.FromString)
        for service in ("", "inference.GRPCInferenceService", "iris"):
            assert check(health_pb2.HealthCheckRequest(service=service)).status == serving
        with pytest.raises(grpc.RpcError) as unknown:
            check(health_pb2.HealthCheckRequest(service="ghost"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND and "a served model's name" in unknown.value.details()
        ghost = watch(health_pb2.HealthCheckRequest(service="ghost"), timeout=30)
        assert next(ghost).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN  # the stream stays open (the
        ghost.cancel()  # protocol: the service may appear later, e.g. a model loaded through the repository API)

        stream = watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert next(stream).status == serving
        server.draining = True  # what SIGTERM does first: the watcher hears NOT_SERVING, then the stream ends
        assert [item.status for item in stream] == [not_serving]
        assert check(health_pb2.HealthCheckRequest(service="iris")).status == not_serving
        server.draining = False
        late = watch(health_pb2.HealthCheckRequest(service="iris"), timeout=30)
        assert next(late).status == serving
    # the endpoint stopped with that watcher open: it was told NOT_SERVING and its stream ended
    assert [item.status for item in late] == [not_serving]
    channel.close()


def test_overload_answers_unavailable_with_retry_after(slow_archive):
    from concurrent.futures import ThreadPoolExecutor

    from tidal.serving import BatchingConfig, ModelServer, ModelSpec

    spec = ModelSpec("slow", str(slow_archive), trust=True, batching=BatchingConfig(max_batch_size=1, max_queue=2, threaded=True))
    request = messages.ModelInferRequest(model_name="slow")
    request.inputs.add(name="x", datatype="FP64", shape=[1]).contents.fp64_contents.append(2.0)
    with grpc_endpoint(ModelServer([spec])) as address, grpc.insecure_channel(address) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                    request_serializer=lambda message: message.SerializeToString(),
                                    response_deserializer=messages.ModelInferResponse.FromString)

        def call(_: int) -> Any:
            try:
                return infer(request, timeout=30)
            except grpc.RpcError as error:
                return error

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, range(16)))
    served = [answer for answer in answers if isinstance(answer, messages.ModelInferResponse)]
    refusals = [answer for answer in answers if isinstance(answer, grpc.RpcError)]
    assert served and refusals and len(served) + len(refusals) == 16
    assert all(list(answer.outputs[0].contents.fp64_contents) == [4.0] for answer in served)
    for refusal in refusals:
        assert refusal.code() == grpc.StatusCode.UNAVAILABLE and "queue is full" in refusal.details()
        assert dict(refusal.trailing_metadata())["retry-after"] == "1"


def test_a_taken_port_is_a_clear_error(iris_archive):
    import asyncio

    from tidal.serving import ModelServer, ModelSpec
    from tidal.serving._grpc import GrpcEndpoint

    server = ModelServer([ModelSpec("iris", str(iris_archive))])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TidalError, match=f"cannot listen for gRPC on 127.0.0.1:{port}.*--grpc-port"):
            asyncio.run(GrpcEndpoint(server, "127.0.0.1", port).start())


def test_without_the_grpc_extra_the_error_names_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "tidal.serving._grpc", raising=False)
    monkeypatch.setitem(sys.modules, "grpc", None)  # as if grpcio were not installed
    with pytest.raises(TidalError, match=r"pip install 'tidal-ml\[grpc\]'"):
        import tidal.serving._grpc  # noqa: F401


def test_the_cli_passes_the_grpc_port_and_refuses_what_cannot_work(monkeypatch, iris_archive, tmp_path):
    from typer.testing import CliRunner

    from tidal.cli import _serve  # noqa: F401 - registers the command
    from tidal.cli._app import app
    from tidal.serving import _run

    monkeypatch.chdir(tmp_path)
    seen: dict[str, Any] = {}
    real = _run.serve
    monkeypatch.setattr(_run, "serve", lambda specs, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(app, ["serve", str(iris_archive), "--grpc-port", "9001"])
    assert result.exit_code == 0, result.output
    assert seen["grpc_port"] == 9001
    assert CliRunner().invoke(app, ["serve", str(iris_archive)]).exit_code == 0 and seen["grpc_port"] is None
    monkeypatch.setattr(_run, "serve", real)
    with socket.socket() as taken:  # another process's listener: several workers must not join it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        several = CliRunner().invoke(app, ["serve", str(iris_archive), "--grpc-port", str(busy), "--workers", "2"])
    assert isinstance(several.exception, TidalError) and f"cannot listen for gRPC on 127.0.0.1:{busy}" in str(several.exception)
    same = CliRunner().invoke(app, ["serve", str(iris_archive), "--grpc-port", "9001", "--port", "9001"])
    assert isinstance(same.exception, TidalError) and "give gRPC a port of its own" in str(same.exception)


def listeners(port: int) -> int:
    """Sockets listening on ``port`` on this machine (state 0A in /proc/net/tcp and tcp6: gRPC listens on IPv6
    sockets, an IPv4 address as ``::ffff:127.0.0.1``)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def test_every_worker_serves_grpc_on_the_shared_port(iris_archive, rows):
    port = free_port()
    with running_server(f"iris={iris_archive}", "--grpc-port", str(port), "--workers", "2",
                        "--drain-seconds", "0.1") as (base, _):
        deadline = time.time() + 60
        while listeners(port) < 2 and time.time() < deadline:  # the HTTP side answers once one worker is up
            time.sleep(0.2)
        assert listeners(port) == 2
        expected = httpx.post(f"{base}/api/predict/iris", json=rows.to_dict("records")).json()
        for _ in range(6):  # new connections: the kernel spreads them over the two workers
            client = triton.InferenceServerClient(f"127.0.0.1:{port}")
            answer = client.infer("iris", triton_inputs(triton, rows)).as_numpy("prediction")
            assert [value.decode() for value in answer] == expected["predictions"]
            client.close()


def test_sigterm_drains_then_finishes_grpc_calls_in_flight_before_exiting(tmp_path):
    from pathlib import Path

    from tidal.serving import custom_package

    slow = custom_package(Path(__file__).parent / "slow_processor.py", "SlowDouble", inputs={"x": "float64"},
                          outputs={"prediction": "float64"}, task="regression", metadata={"delay_s": 1.5})
    archive = slow.save_archive(tmp_path / "slow.zip")
    port = free_port()
    with running_server(f"slow={archive}", "--trust", "--threaded", "--grpc-port", str(port),
                        "--drain-seconds", "0.2") as (base, process):
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        tensor = triton.InferInput("x", [2], "FP64")
        tensor.set_data_from_numpy(np.array([1.5, 4.0]))
        answers: list[Any] = []
        def call() -> None:
            try:
                answers.append(client.infer("slow", [tensor], client_timeout=60))
            except Exception as error:
                answers.append(error)

        worker = threading.Thread(target=call)
        worker.start()
        while "tidal_in_flight_requests 1.0" not in httpx.get(f"{base}/metrics").text:
            assert worker.is_alive(), f"the call ended before it was seen in flight: {answers}"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)  # the call is inside the 1.5 s model (on a thread); the drain is 0.2 s
        worker.join(60)
        assert process.wait(30) == 0
    assert answers and answers[0].as_numpy("prediction").tolist() == [3.0, 8.0]
    error = refused(lambda: triton.InferenceServerClient(f"127.0.0.1:{port}").is_server_live(client_timeout=5))
    assert error.status() in ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED")
