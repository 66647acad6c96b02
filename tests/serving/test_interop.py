"""Interoperability: models and clients made by other tools (skl2onnx, JPMML, tritonclient) work as they expect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tidal.core._errors import TidalError
from tidal.serving import ModelServer, ModelSpec, ServerOptions


def call(server: ModelServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


# -- ONNX graphs with one typed input per column ---------------------------------------------------
@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    generator = np.random.default_rng(0)
    rows = 300
    frame = pd.DataFrame({
        "age": generator.integers(18, 80, rows).astype(np.int64),
        "income": generator.normal(4000, 1500, rows).round(2),
        "city": generator.choice(["Oslo", "Lyon", "Porto"], rows),
    })
    score = 0.04 * (frame["age"] - 45) + 0.0006 * (frame["income"] - 4000) + (frame["city"] == "Oslo") * 0.8
    frame["bought"] = (score + generator.normal(0, 0.5, rows) > 0.3).astype(np.int64)
    return frame


@pytest.fixture(scope="module")
def mixed_onnx(mixed, tmp_path_factory):
    """(scikit-learn pipeline, path of its skl2onnx export with one graph input per column)."""
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pipeline = Pipeline([
        ("columns", ColumnTransformer([("numbers", StandardScaler(), ["age", "income"]),
                                       ("city", OneHotEncoder(handle_unknown="ignore"), ["city"])])),
        ("model", LogisticRegression(max_iter=500)),
    ]).fit(mixed[["age", "income", "city"]], mixed["bought"])
    onnx_model = skl2onnx.convert_sklearn(pipeline, initial_types=[
        ("age", Int64TensorType([None, 1])), ("income", FloatTensorType([None, 1])), ("city", StringTensorType([None, 1]))])
    path = tmp_path_factory.mktemp("onnx") / "mixed.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    return pipeline, path


def test_onnx_with_one_typed_input_per_column_matches_onnxruntime_and_sklearn(mixed, mixed_onnx, tmp_path):
    import onnxruntime

    from tidal.serving import onnx_package

    pipeline, path = mixed_onnx
    package = onnx_package(path, features=["age", "income", "city"], task="binary", classes=[0, 1])
    assert package.feature_types == {"age": "int64", "income": "float64", "city": "string"}
    archive = package.save_archive(tmp_path / "mixed.zip")
    server = ModelServer([ModelSpec("m", str(archive))])
    rows = mixed.iloc[:40]
    answer = call(server, "POST", "/api/predict/m", json=rows[["age", "income", "city"]].to_dict(orient="records"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"age": rows[["age"]].to_numpy(np.int64),
                                      "income": rows[["income"]].to_numpy(np.float32),
                                      "city": rows[["city"]].to_numpy(object)})
    got = np.array([[item["0"], item["1"]] for item in body["probabilities"]])
    direct = np.array([[item[0], item[1]] for item in proba])
    assert body["predictions"] == label.tolist()
    np.testing.assert_array_equal(got, direct)
    assert body["predictions"] == pipeline.predict(rows[["age", "income", "city"]]).tolist()
    np.testing.assert_allclose(got, pipeline.predict_proba(rows[["age", "income", "city"]]), atol=1e-5)
    v2 = call(server, "POST", "/v2/models/m/infer", json={"inputs": [
        {"name": "age", "datatype": "INT64", "shape": [3, 1], "data": rows["age"].iloc[:3].tolist()},
        {"name": "income", "datatype": "FP64", "shape": [3, 1], "data": rows["income"].iloc[:3].tolist()},
        {"name": "city", "datatype": "BYTES", "shape": [3, 1], "data": rows["city"].iloc[:3].tolist()}]})
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == label[:3].tolist()


def test_onnx_that_the_signature_cannot_feed_is_refused_at_load_naming_the_input(mixed_onnx):
    from tidal.serving import onnx_package

    _, path = mixed_onnx
    with pytest.raises(TidalError, match="'city'"):
        onnx_package(path, features=["age", "income", "town"], task="binary", classes=[0, 1])
    with pytest.raises(TidalError, match="'extra'"):
        onnx_package(path, features=["age", "income", "city", "extra"], task="binary", classes=[0, 1])
    with pytest.raises(TidalError, match="no output 'score'"):
        onnx_package(path, features=["age", "income", "city"], task="binary", proba_output="score")


def test_onnx_integer_input_never_truncates_a_fraction(mixed_onnx, tmp_path):
    from tidal.serving import onnx_package

    _, path = mixed_onnx  # declared float64 (as packages made before typed inputs were): the graph still takes int64
    package = onnx_package(path, features=["age", "income", "city"], task="binary", classes=[0, 1],
                           feature_types={"age": "float64", "income": "float64", "city": "string"})
    server = ModelServer([ModelSpec("m", str(package.save_archive(tmp_path / "m.zip")))])
    answer = call(server, "POST", "/api/predict/m", json=[{"age": 30.5, "income": 100.0, "city": "Oslo"}])
    assert answer.status_code == 422 and "column 'age' has fractions" in answer.json()["error"]
    whole = call(server, "POST", "/api/predict/m", json=[{"age": 30.0, "income": 100.0, "city": "Oslo"}])
    assert whole.status_code == 200, whole.text


def test_onnx_single_matrix_input_must_match_the_feature_count(tmp_path):
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    from tidal.serving import onnx_package

    X = np.arange(30, dtype=float).reshape(10, 3)
    estimator = LinearRegression().fit(X, X.sum(axis=1))
    onnx_model = skl2onnx.convert_sklearn(estimator, initial_types=[("input", FloatTensorType([None, 3]))])
    (tmp_path / "m.onnx").write_bytes(onnx_model.SerializeToString())
    with pytest.raises(TidalError, match="graph input 'input'.*\\[N, 2\\]"):
        onnx_package(tmp_path / "m.onnx", features=["a", "b"], task="regression")
    package = onnx_package(tmp_path / "m.onnx", features=["a", "b", "c"], task="regression")
    frame = pd.DataFrame(X[:2], columns=["a", "b", "c"])
    np.testing.assert_allclose(np.asarray(package.predict(frame)).ravel(), X[:2].sum(axis=1), rtol=1e-5)


# -- columns the model does not take (JPMML clients send the whole data dictionary) ----------------
@pytest.fixture(scope="module")
def linear_archive(tmp_path_factory):
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    package = ModelPackage.from_estimator(LinearRegression().fit(frame[["x"]], frame["x"] * 2), frame,
                                          features=["x"], task="regression")
    return package.save_archive(tmp_path_factory.mktemp("linear") / "times2.zip")


def test_unknown_columns_are_ignored_by_default_and_named_in_a_header(linear_archive):
    server = ModelServer([ModelSpec("m", str(linear_archive))])
    answer = call(server, "POST", "/api/predict/m", json=[{"x": 1.0, "y": "a", "z": 1}, {"x": 2.0, "y": "b", "wé,ird": 0}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx([2.0, 4.0])
    assert answer.headers["x-tidal-ignored-columns"] == "y,z,w%C3%A9%2Cird"
    v2 = call(server, "POST", "/v2/models/m/infer", json={"inputs": [
        {"name": "x", "datatype": "FP64", "shape": [1], "data": [3.0]},
        {"name": "species", "datatype": "BYTES", "shape": [1], "data": ["cat"]}]})
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == pytest.approx([6.0])
    assert v2.headers["x-tidal-ignored-columns"] == "species"
    plain = call(server, "POST", "/api/predict/m", json=[{"x": 1.0}])
    assert "x-tidal-ignored-columns" not in plain.headers
    missing = call(server, "POST", "/api/predict/m", json=[{"y": 1.0}])
    assert missing.status_code == 400 and "missing column(s) 'x'" in missing.json()["error"]


def test_unknown_columns_refused_when_the_operator_says_so(linear_archive):
    server = ModelServer([ModelSpec("m", str(linear_archive))], options=ServerOptions(unknown_columns="refuse"))
    answer = call(server, "POST", "/api/predict/m", json=[{"x": 1.0, "y": "a"}])
    assert answer.status_code == 400 and "unknown column(s) 'y'" in answer.json()["error"]
    v2 = call(server, "POST", "/v2/models/m/infer", json={"inputs": [
        {"name": "x", "datatype": "FP64", "shape": [1], "data": [3.0]},
        {"name": "y", "datatype": "FP64", "shape": [1], "data": [3.0]}]})
    assert v2.status_code == 400 and "unknown input(s) 'y'" in v2.json()["error"]
    with pytest.raises(TidalError, match="unknown_columns must be one of ignore, refuse"):
        ServerOptions(unknown_columns="drop")


def test_the_cli_passes_unknown_columns_to_the_server(monkeypatch, linear_archive, tmp_path):
    from typer.testing import CliRunner

    from tidal.cli import _serve  # noqa: F401 - registers the command
    from tidal.cli._app import app
    from tidal.serving import _run

    monkeypatch.chdir(tmp_path)

    seen: dict[str, Any] = {}
    monkeypatch.setattr(_run, "serve", lambda specs, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(app, ["serve", str(linear_archive), "--unknown-columns", "refuse"])
    assert result.exit_code == 0, result.output
    assert seen["options"].unknown_columns == "refuse"
    bad = CliRunner().invoke(app, ["serve", str(linear_archive), "--unknown-columns", "drop"])
    assert bad.exit_code != 0


# -- Open Inference Protocol v2 conformance ------------------------------------------------------
@pytest.fixture(scope="module")
def classifier_archive(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"x": np.arange(20, dtype=float), "label": ["no"] * 10 + ["yes"] * 10})
    estimator = LogisticRegression().fit(frame[["x"]], frame["label"])
    package = ModelPackage.from_estimator(estimator, frame, features=["x"], task="binary", label="label")
    return package.save_archive(tmp_path_factory.mktemp("classifier") / "yesno.zip")


def _parameters_conform(document: Any) -> bool:
    """Every ``parameters`` object in a v2 document holds only strings, numbers and booleans."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "parameters" and not all(isinstance(item, (str, int, float, bool)) for item in value.values()):
                return False
            if not _parameters_conform(value):
                return False
    if isinstance(document, list):
        return all(_parameters_conform(item) for item in document)
    return True


def test_v2_parameters_are_strings_numbers_or_booleans(classifier_archive):
    server = ModelServer([ModelSpec("m", str(classifier_archive))])
    metadata = call(server, "GET", "/v2/models/m").json()
    assert _parameters_conform(metadata)
    probabilities = next(item for item in metadata["outputs"] if item["name"] == "probabilities")
    assert json.loads(probabilities["parameters"]["classes"]) == ["no", "yes"]
    answer = call(server, "POST", "/v2/models/m/infer", json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [2], "data": [1.0, 18.0]}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert _parameters_conform(body)
    outputs = {item["name"]: item for item in body["outputs"]}
    assert outputs["prediction"]["data"] == ["no", "yes"]
    assert json.loads(outputs["probabilities"]["parameters"]["classes"]) == ["no", "yes"]


def _binary_outputs(answer: httpx.Response) -> dict[str, Any]:
    size = int(answer.headers["inference-header-content-length"])
    head, rest = json.loads(answer.content[:size]), answer.content[size:]
    found: dict[str, Any] = {}
    for item in head["outputs"]:
        if "binary_data_size" in item.get("parameters", {}):
            length = item["parameters"]["binary_data_size"]
            found[item["name"]], rest = rest[:length], rest[length:]
        else:
            found[item["name"]] = item["data"]
    return found


def test_request_level_binary_data_output_is_honoured(linear_archive):
    server = ModelServer([ModelSpec("m", str(linear_archive))])
    request = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [2], "data": [1.0, 2.0]}],
               "parameters": {"binary_data_output": True}}
    answer = call(server, "POST", "/v2/models/m/infer", json=request)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(np.frombuffer(_binary_outputs(answer)["prediction"], "<f8"), [2.0, 4.0])
    # an output's own word wins over the request's
    request["outputs"] = [{"name": "prediction", "parameters": {"binary_data": False}}]
    plain = call(server, "POST", "/v2/models/m/infer", json=request)
    assert "inference-header-content-length" not in plain.headers
    assert plain.json()["outputs"][0]["data"] == pytest.approx([2.0, 4.0])


def test_tritonclient_default_request_gets_binary_outputs(linear_archive):
    triton = pytest.importorskip("tritonclient.http")
    server = ModelServer([ModelSpec("m", str(linear_archive))])
    tensor = triton.InferInput("x", [2], "FP64")
    tensor.set_data_from_numpy(np.array([1.0, 3.0]))
    body, header_length = triton.InferenceServerClient.generate_request_body([tensor])
    assert b'"binary_data_output":true' in body[:header_length]  # tritonclient's default
    answer = call(server, "POST", "/v2/models/m/infer", content=body,
                  headers={"Inference-Header-Content-Length": str(header_length)})
    assert answer.status_code == 200, answer.text
    assert "inference-header-content-length" in answer.headers  # the outputs came back in binary
    result = triton.InferenceServerClient.parse_response_body(
        answer.content, header_length=int(answer.headers["inference-header-content-length"]))
    np.testing.assert_allclose(result.as_numpy("prediction"), [2.0, 6.0])


def test_model_not_ready_answers_4xx_as_the_v2_health_api_says(linear_archive, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a package")
    token = "t" * 32
    server = ModelServer([ModelSpec("m", str(linear_archive))], options=ServerOptions(admin=True, token=token))
    auth = {"Authorization": f"Bearer {token}"}
    failed = call(server, "POST", "/v2/repository/models/m/load", json={"source": str(broken), "version": "9", "swap": False},
                  headers=auth)
    assert failed.status_code == 400
    ready = call(server, "GET", "/v2/models/m/versions/9/ready")
    assert ready.status_code == 400 and ready.json()["ready"] is False and "failed to load" in ready.json()["error"]
    assert call(server, "GET", "/v2/models/m/ready").json() == {"name": "m", "ready": True}
    server.draining = True
    draining = call(server, "GET", "/v2/models/m/ready")
    assert draining.status_code == 400 and draining.json()["ready"] is False
    assert call(server, "GET", "/v2/models/nothing/ready").status_code == 404


def test_repository_load_by_name_alone_loads_the_registered_latest_version(linear_archive, tmp_path):
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage, ModelRegistry
    from tidal.store import Workspace

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    older = ModelPackage.from_estimator(LinearRegression().fit(frame[["x"]], frame["x"] * 5), frame,
                                        features=["x"], task="regression")
    workspace = Workspace.open(tmp_path / "ws")
    registry = ModelRegistry(workspace)
    registry.register(older, "doubler")
    assert registry.register(str(linear_archive), "doubler").version == 2
    token = "t" * 32
    auth = {"Authorization": f"Bearer {token}"}
    server = ModelServer(options=ServerOptions(admin=True, token=token), workspace=workspace)
    loaded = call(server, "POST", "/v2/repository/models/doubler/load", headers={**auth, "Content-Type": "application/json"})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["version"] == "2"
    answer = call(server, "POST", "/api/predict/doubler", json=[{"x": 4.0}])
    assert answer.json()["predictions"] == pytest.approx([8.0]) and answer.headers["x-tidal-model-version"] == "2"
    with_parameters = call(server, "POST", "/v2/repository/models/doubler/load", json={"parameters": {}}, headers=auth)
    assert with_parameters.status_code == 200, with_parameters.text
    assert call(server, "POST", "/v2/repository/models/doubler/load", json={}, headers=auth).status_code == 200
    unknown = call(server, "POST", "/v2/repository/models/ghost/load", json={}, headers=auth)
    assert unknown.status_code == 400 and "'source' is required" in unknown.json()["error"]
    config = call(server, "POST", "/v2/repository/models/doubler/load", json={"parameters": {"config": "{}"}}, headers=auth)
    assert config.status_code == 400 and "'parameters' of a load are not supported" in config.json()["error"]


# -- bare model files (`tidal serve model.pmml`, `tidal serve model.onnx`) -------------------------
PMML = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header/>
  <DataDictionary numberOfFields="3">
    <DataField name="a" optype="continuous" dataType="double"/>
    <DataField name="b" optype="continuous" dataType="double"/>
    <DataField name="y" optype="continuous" dataType="double"/>
  </DataDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema>
      <MiningField name="a"/>
      <MiningField name="b"/>
      <MiningField name="y" usageType="target"/>
    </MiningSchema>
    <RegressionTable intercept="1.0">
      <NumericPredictor name="a" coefficient="2.0"/>
      <NumericPredictor name="b" coefficient="-3.0"/>
    </RegressionTable>
  </RegressionModel>
</PMML>
"""


def serve_file(path: Any) -> ModelServer:
    """The server `tidal serve PATH` starts: the CLI's own spec parsing, then the server it runs."""
    from tidal.cli._serve import model_specs
    from tidal.serving import BatchingConfig

    specs = model_specs([str(path)], trust=False, batching=BatchingConfig())
    assert [spec.name for spec in specs] == [path.name.split(".")[0]]
    return ModelServer(specs)


def test_serve_a_bare_pmml_file(tmp_path):
    path = tmp_path / "scores.pmml"
    path.write_text(PMML)
    server = serve_file(path)
    answer = call(server, "POST", "/api/predict/scores", json=[{"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 0.0}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx([1.0 + 2.0 - 6.0, 2.0])
    metadata = call(server, "GET", "/v2/models/scores").json()
    assert [item["name"] for item in metadata["inputs"]] == ["a", "b"] and metadata["platform"] == "tidal-pmml"


def test_serve_a_bare_onnx_file_with_one_input_per_column(mixed, mixed_onnx, tmp_path):
    import shutil

    pipeline, source = mixed_onnx
    path = tmp_path / "buyers.onnx"
    shutil.copyfile(source, path)
    server = serve_file(path)
    metadata = call(server, "GET", "/v2/models/buyers").json()
    assert [(item["name"], item["datatype"]) for item in metadata["inputs"]] == [("age", "INT64"), ("income", "FP64"), ("city", "BYTES")]
    rows = mixed[["age", "income", "city"]].iloc[:10]
    answer = call(server, "POST", "/api/predict/buyers", json=rows.to_dict(orient="records"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pipeline.predict(rows).tolist()
    got = np.array([[item["0"], item["1"]] for item in answer.json()["probabilities"]])
    np.testing.assert_allclose(got, pipeline.predict_proba(rows), atol=1e-5)


def test_serve_a_bare_onnx_file_with_one_matrix_input(tmp_path):
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2) % 7
    estimator = LinearRegression().fit(X, X @ [1.0, 2.0])
    onnx_model = skl2onnx.convert_sklearn(estimator, initial_types=[("input", FloatTensorType([None, 2]))])
    path = tmp_path / "linear.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    server = serve_file(path)
    answer = call(server, "POST", "/v2/models/linear/infer", json={"inputs": [
        {"name": "input", "datatype": "FP64", "shape": [2, 2], "data": [1.0, 1.0, 2.0, 0.0]}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == pytest.approx([3.0, 2.0], rel=1e-5)
    unknown = tmp_path / "free.onnx"
    free = skl2onnx.convert_sklearn(estimator, initial_types=[("input", FloatTensorType([None, None]))])
    unknown.write_bytes(free.SerializeToString())
    with pytest.raises(TidalError, match="graph input 'input'.*no fixed width"):
        serve_file(unknown)
