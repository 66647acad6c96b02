"""The torch model flavor: networks saved as spec YAML + safetensors, loaded back to the same answers,
and served over v2 by the unchanged model server (columns, a [N, k] matrix, or an image tensor)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from nn_helpers import EXAMPLES, network, spec_of

from tidal.models import ModelPackage, export_model
from tidal.models._export_check import ExportRefused
from tidal.nn._packages import network_package
from tidal.nn._train import TrainSettings, train_network
from tidal.serving._onnx import onnx_file_package

SRC = Path(__file__).resolve().parents[2] / "src"


def tabular(rows: int = 90, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{index}": rng.normal(size=rows) for index in range(4)})
    frame["kind"] = np.where(frame["f0"] + frame["f1"] > 0.5, "high", np.where(frame["f0"] < -0.5, "low", "mid"))
    frame["amount"] = 3 * frame["f0"] - frame["f2"] + 100
    return frame


def mlp(out: int) -> dict:
    return network([{"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
                    {"id": "act", "kind": "relu", "inputs": ["hidden"]},
                    {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": out}}],
                   inputs={"x": {"shape": ["batch", 4]}})


def tiny_cnn() -> dict:
    """4x4 single-channel images (16 pixel columns), three classes."""
    return network([{"id": "conv", "kind": "conv2d", "inputs": ["image"], "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
                    {"id": "act", "kind": "relu", "inputs": ["conv"]},
                    {"id": "flat", "kind": "flatten", "inputs": ["act"]},
                    {"id": "head", "kind": "linear", "inputs": ["flat"], "params": {"out_features": 3}}],
                   inputs={"image": {"shape": ["batch", 1, 4, 4]}})


def images(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    pixels = rng.uniform(0, 16, size=(rows, 16))
    frame = pd.DataFrame(pixels, columns=[f"pixel_{row}_{col}" for row in range(4) for col in range(4)])
    frame["digit"] = (pixels[:, :8].sum(axis=1) > pixels[:, 8:].sum(axis=1)).astype(int) + (pixels[:, 0] > 12)
    return frame


@pytest.fixture(scope="module")
def classifier(torch):
    frame = tabular()
    result = train_network(spec_of(mlp(3)), frame, label="kind", features=["f0", "f1", "f2", "f3"],
                           settings=TrainSettings(epochs=4, batch_size=16, lr=0.02, keep_checkpoints=2, threads=1))
    return result.package, frame


@pytest.fixture(scope="module")
def image_classifier(torch):
    frame = images()
    result = train_network(spec_of(tiny_cnn()), frame, label="digit",
                           settings=TrainSettings(epochs=3, batch_size=16, validation_fraction=0, threads=1))
    return result.package, frame


def test_untrained_network_round_trips_with_the_same_outputs(torch, tmp_path):
    package = network_package(spec_of(tiny_cnn()), seed=5)
    assert package.task == "other" and package.flavor == "torch"
    assert package.features[:2] == ["image_0", "image_1"] and len(package.features) == 16
    assert package.signature()["tensor"] == {"name": "image", "shape": [1, 4, 4]}
    rows = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 16)), columns=package.features)
    before = package.predict(rows)
    assert before.shape == (5, 3)
    loaded = ModelPackage.load(package.save_archive(tmp_path / "net.zip"))
    assert np.array_equal(loaded.predict(rows), before)
    again = network_package(spec_of(tiny_cnn()), seed=5)
    assert np.array_equal(again.predict(rows), before), "the same seed draws the same weights"
    assert not np.array_equal(network_package(spec_of(tiny_cnn()), seed=6).predict(rows), before)


def test_trained_classifier_round_trips_through_folder_and_archive(classifier, tmp_path):
    package, frame = classifier
    assert package.task == "multiclass" and package.classes == ["high", "low", "mid"]
    folder = package.save(tmp_path / "model")
    settings = json.loads((folder / "torch.json").read_text())
    assert settings["head"] == "softmax" and settings["input"] == {"name": "x", "shape": [4], "dtype": "float32"}
    assert sorted(path.name for path in (folder / "checkpoints").iterdir()) == ["epoch_003.safetensors", "epoch_004.safetensors"]
    assert json.loads((folder / "MANIFEST.json").read_text())["payload"] == "weights.safetensors"
    assert not list(folder.rglob("*.pt")) and not list(folder.rglob("*.pkl"))
    for loaded in (ModelPackage.load(folder), ModelPackage.load(package.save_archive(tmp_path / "model.zip"))):
        assert list(loaded.predict(frame)) == list(package.predict(frame))
        assert np.allclose(loaded.predict_proba(frame), package.predict_proba(frame), atol=0, rtol=0)
        assert loaded.model.checkpoints == package.model.checkpoints
    probabilities = package.predict_proba(frame)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert list(package.predict(frame)) == list(np.asarray(package.classes)[probabilities.argmax(axis=1)])


@pytest.mark.parametrize(("loss", "label", "out", "task"), [("mse", "amount", 1, "regression"),
                                                            ("binary_cross_entropy", "high", 1, "binary")])
def test_regression_and_single_logit_heads_round_trip(torch, tmp_path, loss, label, out, task):
    frame = tabular()
    frame["high"] = frame["kind"] == "high"
    result = train_network(spec_of(mlp(out)), frame, label=label, features=["f0", "f1", "f2", "f3"],
                           settings=TrainSettings(loss=loss, epochs=3, batch_size=16, lr=0.02, threads=1))
    package = result.package
    loaded = ModelPackage.load(package.save_archive(tmp_path / "model.zip"))
    assert loaded.task == task
    assert np.array_equal(loaded.predict(frame), package.predict(frame))
    if task == "regression":
        assert package.model.target_scale is not None  # trained on the standardized label, answers in its units
        assert abs(np.mean(package.predict(frame)) - 100) < 10
    else:
        assert package.classes == [False, True] and loaded.predict_proba(frame).shape == (len(frame), 2)
    report = export_model(loaded, tmp_path / "model.onnx", format="onnx", data=frame)
    assert report.rows == len(frame) and report.max_difference <= 1e-5
    assert "dynamo ONNX exporter" in report.converter, report.converter
    served = onnx_file_package(tmp_path / "model.onnx")
    assert served.task == task and served.classes == package.classes
    assert np.allclose(served.predict(frame), package.predict(frame), rtol=1e-5)


def test_an_image_network_that_the_dynamo_exporter_refuses_is_written_by_the_torchscript_one(image_classifier, tmp_path, monkeypatch):
    from tidal.nn import _onnx

    package, frame = image_classifier
    exported = export_model(package, tmp_path / "dynamo.onnx", format="onnx", data=frame)
    monkeypatch.setattr(_onnx, "_export_dynamo", lambda *args: "torch.export cannot trace it (injected)")
    fallback = export_model(package, tmp_path / "torchscript.onnx", format="onnx", data=frame)
    assert "dynamo ONNX exporter" in exported.converter and "TorchScript ONNX exporter" in fallback.converter
    for path in (tmp_path / "dynamo.onnx", tmp_path / "torchscript.onnx"):
        served = onnx_file_package(path)
        assert list(served.predict(frame)) == list(package.predict(frame))
        assert np.abs(served.predict_proba(frame) - package.predict_proba(frame)).max() <= 1e-5
    monkeypatch.setattr(_onnx, "_export_torchscript", lambda *args: (_ for _ in ()).throw(RuntimeError("no symbolic for op X")))
    with pytest.raises(ExportRefused, match="no symbolic for op X.*dynamo exporter failed first: torch.export cannot trace"):
        export_model(package, tmp_path / "neither.onnx", format="onnx", data=frame)
    assert not (tmp_path / "neither.onnx").exists()


def test_the_flavor_registers_and_manifests_read_without_importing_torch(classifier, tmp_path):
    archive = classifier[0].save_archive(tmp_path / "model.zip")
    code = ("import sys, pathlib, tidal.models as m, tidal.models._flavors as f; f.load_builtin_flavors(); "
            f"manifest = m.read_package_manifest(pathlib.Path({str(archive)!r})); "
            "print('torch' in m.FLAVORS, manifest['flavor'], 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "torch", "False"]


def call(server, method: str, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_the_model_server_serves_networks_from_columns_a_matrix_and_an_image_tensor(classifier, image_classifier, tmp_path):
    from tidal.serving import ModelServer, ModelSpec

    table, table_rows = classifier
    pictures, picture_rows = image_classifier
    server = ModelServer([ModelSpec("kinds", str(table.save_archive(tmp_path / "kinds.zip"))),
                          ModelSpec("pictures", str(pictures.save_archive(tmp_path / "pictures.zip")))])
    rows = table_rows.iloc[:6]
    by_column = {"inputs": [{"name": name, "shape": [6], "datatype": "FP64", "data": rows[name].tolist()}
                            for name in table.features]}
    matrix = {"inputs": [{"name": "x", "shape": [6, 4], "datatype": "FP32",
                          "data": rows[table.features].to_numpy().ravel().tolist()}]}
    for body in (by_column, matrix):
        answer = call(server, "POST", "/v2/models/kinds/infer", json=body)
        assert answer.status_code == 200, answer.text
        outputs = {item["name"]: item for item in answer.json()["outputs"]}
        assert outputs["prediction"]["data"] == list(table.predict(rows))
        assert np.allclose(np.reshape(outputs["probabilities"]["data"], (6, 3)), table.predict_proba(rows), atol=1e-12)
    assert "parameters" not in call(server, "GET", "/v2/models/kinds").json()  # a flat input has no tensor form

    meta = call(server, "GET", "/v2/models/pictures").json()
    assert meta["parameters"] == {"tensor_input": "image", "tensor_shape": "[-1, 1, 4, 4]"}
    assert len(meta["inputs"]) == 16
    shown = picture_rows.iloc[:5]
    pixels = shown[pictures.features].to_numpy()
    expected = pictures.predict_proba(shown)
    for shape in ([5, 1, 4, 4], [5, 16]):
        body = {"inputs": [{"name": "image", "shape": shape, "datatype": "FP32", "data": pixels.ravel().tolist()}]}
        answer = call(server, "POST", "/v2/models/pictures/infer", json=body)
        assert answer.status_code == 200, answer.text
        outputs = {item["name"]: item for item in answer.json()["outputs"]}
        assert np.allclose(np.reshape(outputs["probabilities"]["data"], (5, 3)), expected, atol=1e-6)
        assert outputs["prediction"]["data"] == [int(value) for value in pictures.predict(shown)]
    wrong = {"inputs": [{"name": "image", "shape": [5, 4, 4, 1], "datatype": "FP32", "data": pixels.ravel().tolist()}]}
    refused = call(server, "POST", "/v2/models/pictures/infer", json=wrong)
    assert refused.status_code == 400
    assert "[N, 16]" in refused.json()["error"] and "[N, 1, 4, 4]" in refused.json()["error"]


def marker_tokens(rows: int, seed: int) -> pd.DataFrame:
    """32 token ids per row; the label is which of the marker tokens 1..4 occurs most often."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(5, 64, size=(rows, 32))
    labels = rng.integers(0, 4, size=rows)
    for row in range(rows):
        counts = rng.integers(1, 4, size=4)
        counts[labels[row]] = counts.max() + 1
        tokens[row, rng.permutation(32)[: counts.sum()]] = np.repeat(np.arange(1, 5), counts)
    frame = pd.DataFrame(tokens, columns=[f"token_{index}" for index in range(32)])
    frame["marker"] = np.array(["one", "two", "three", "four"])[labels]
    return frame


def test_the_sequence_transformer_example_learns_from_token_id_columns(torch, tmp_path):
    from tidal.nn import load_network

    spec = load_network(EXAMPLES / "sequence_transformer.yaml")
    train, held_out = marker_tokens(320, seed=1), marker_tokens(200, seed=2)
    result = train_network(
        spec,
        train,
        label="marker",
        settings=TrainSettings(epochs=6, batch_size=32, lr=3e-3, validation_fraction=0, threads=1),
    )
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    package = result.package
    assert package.features == [f"token_{index}" for index in range(32)]
    assert package.classes == ["four", "one", "three", "two"]
    accuracy = float((package.predict(held_out) == held_out["marker"].to_numpy()).mean())
    assert accuracy > 0.6  # four classes: chance is 0.25
    package.save(tmp_path / "transformer")
    again = ModelPackage.load(tmp_path / "transformer")
    assert list(again.predict(held_out)) == list(package.predict(held_out))


def test_a_network_of_two_outputs_trains_the_one_chosen(torch):
    two_heads = network(
        [
            {"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
            {"id": "act", "kind": "relu", "inputs": ["hidden"]},
            {"id": "kinds", "kind": "linear", "inputs": ["act"], "params": {"out_features": 3}},
            {"id": "amount", "kind": "linear", "inputs": ["act"], "params": {"out_features": 1}},
        ],
        inputs={"x": {"shape": ["batch", 4]}},
        outputs={"kinds": "kinds", "amount": "amount"},
    )
    frame, features = tabular(), ["f0", "f1", "f2", "f3"]
    settings = {"epochs": 8, "batch_size": 16, "lr": 0.02, "validation_fraction": 0, "threads": 1}
    kinds = train_network(
        spec_of(two_heads), frame, label="kind", features=features,
        settings=TrainSettings(output="kinds", **settings),
    )
    amount = train_network(
        spec_of(two_heads), frame, label="amount", features=features,
        settings=TrainSettings(output="amount", loss="mse", **settings),
    )
    for result in (kinds, amount):
        losses = [row["train_loss"] for row in result.history]
        assert losses[-1] < 0.5 * losses[0]
    assert kinds.package.classes == ["high", "low", "mid"]
    assert set(kinds.package.predict(frame)) <= {"high", "low", "mid"}
    assert abs(np.mean(amount.package.predict(frame)) - 100) < 10
