"""examples/nn_digits.yaml end to end: a CNN trained on 8x8 digits to 97% held-out accuracy, registered,
served over v2 as an image tensor with the package's own answers, and exported to ONNX through
`tidal models export`, which onnxruntime runs to the same probabilities."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

import tidal

pytest.importorskip("torch")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("digits")
    (home / "examples" / "nn").mkdir(parents=True)
    shutil.copy(EXAMPLES / "nn_digits.yaml", home / "examples")
    shutil.copy(EXAMPLES / "nn" / "digits_cnn.yaml", home / "examples" / "nn")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIDAL_HOME", str(home))  # model.register writes into this workspace
        result = tidal.run(tidal.load_pipeline(home / "examples" / "nn_digits.yaml"), workspace=home, workers=0)
    assert result.ok, result.to_dict()
    return home, result


def test_the_cnn_reaches_97_percent_on_held_out_digits(digits_run):
    _, result = digits_run
    accuracy = result.metrics("eval")["accuracy"]
    assert accuracy >= 0.97, f"held-out accuracy {accuracy:.4f}"
    report = result.output("train", "report")
    assert report["epochs_run"] == 20 and len(report.tables["epochs"]) == 20
    model = result.output("train", "model")
    assert model.flavor == "torch" and model.signature()["tensor"] == {"name": "image", "shape": [1, 8, 8]}
    assert len(model.model.checkpoints) == 5


def test_the_registered_model_is_served_over_v2_with_the_package_answers(digits_run, monkeypatch):
    from tidal.models import ModelRegistry
    from tidal.serving import ModelServer, ModelSpec
    from tidal.store import Workspace

    home, result = digits_run
    monkeypatch.setenv("TIDAL_HOME", str(home))
    workspace = Workspace.open(home)
    try:
        package = ModelRegistry(workspace).load("models:/digits-cnn@staging")
        server = ModelServer([ModelSpec("digits", "models:/digits-cnn@staging")], workspace=workspace)
        rows = result.output("split", "test").to_pandas().iloc[:32]
        pixels = rows[package.features].to_numpy(dtype=np.float32)
        body = {"inputs": [{"name": "image", "shape": [32, 1, 8, 8], "datatype": "FP32", "data": pixels.ravel().tolist()}]}

        async def infer() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test") as client:
                return await client.post("/v2/models/digits/infer", json=body)

        answer = asyncio.run(infer())
    finally:
        workspace.close()
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == [int(value) for value in package.predict(rows)]
    assert np.allclose(np.reshape(outputs["probabilities"]["data"], (32, 10)), package.predict_proba(rows), atol=1e-6)


def test_models_export_writes_an_onnx_graph_that_onnxruntime_runs_to_the_same_answers(digits_run, tmp_path):
    import onnxruntime
    from typer.testing import CliRunner

    from tidal.cli import _models, app  # _models registers `tidal models ...` on the app
    from tidal.models import ModelRegistry
    from tidal.serving._onnx import onnx_file_package
    from tidal.store import Workspace

    home, result = digits_run
    test_rows = result.output("split", "test").to_pandas()
    held_out = tmp_path / "test.parquet"
    test_rows.to_parquet(held_out)
    target = tmp_path / "digits.onnx"
    assert _models is not None
    done = CliRunner().invoke(app, ["models", "export", "digits-cnn@staging", "--to", "onnx", "-o", str(target),
                                    "--data", str(held_out), "--workspace", str(home)])
    assert done.exit_code == 0, done.output
    assert "checked on 360 given rows" in done.output
    workspace = Workspace.open(home)
    try:
        package = ModelRegistry(workspace).load("models:/digits-cnn@staging")
    finally:
        workspace.close()
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert [item.name for item in session.get_inputs()] == package.features
    feed = {name: test_rows[name].to_numpy(dtype=np.float32).reshape(-1, 1) for name in package.features}
    labels, probabilities = session.run(["label", "probabilities"], feed)
    assert np.allclose(probabilities, package.predict_proba(test_rows), atol=1e-5)
    assert list(labels) == list(package.predict(test_rows))
    served = onnx_file_package(target)  # `tidal serve digits.onnx` reads the classes from the graph
    assert served.task == "multiclass" and served.classes == list(range(10))
