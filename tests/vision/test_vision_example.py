"""examples/vision_digits.yaml end to end on the engine (offline, one thread): images made, augmented, decoded,
a CNN trained, scored, embedded and searched, registered, and served from the registry as an image tensor over v2."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from asgi import asgi_request

import tidal

pytest.importorskip("torch")
pytest.importorskip("PIL")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def vision_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("vision")
    shutil.copy(EXAMPLES / "vision_digits.yaml", home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIDAL_HOME", str(home))
        result = tidal.run(tidal.load_pipeline(home / "vision_digits.yaml"), workspace=home, workers=0)
    assert result.ok, result.to_dict()
    return home, result


def test_the_example_trains_a_cnn_on_augmented_images_that_scores_well_held_out(vision_run):
    _, result = vision_run
    train = result.output("split", "train").to_pandas()
    augmented = result.output("augment").to_pandas()
    assert len(augmented) == 2 * len(train) and augmented["augmented"].tolist()[:4] == [0, 1, 0, 1]
    assert augmented["image"][1] != augmented["image"][0]  # the copy was changed
    assert result.metrics("eval")["accuracy"] >= 0.95
    model = result.output("train", "model")
    assert model.signature()["tensor"] == {"name": "image", "shape": [1, 8, 8]}
    assert model.metadata["image"] == {"architecture": "cnn", "channels": 1, "height": 8, "width": 8}


def test_nearest_neighbours_in_the_embedding_mostly_share_the_label(vision_run):
    _, result = vision_run
    hits = result.output("search").to_pandas()
    assert (hits[hits["rank"] == 1]["query_row"] == hits[hits["rank"] == 1]["corpus_row"]).all()  # itself first
    others = hits[hits["rank"] > 1]
    assert (others["query_target"] == others["corpus_target"]).mean() >= 0.9


def test_the_registered_model_is_served_over_v2_as_an_image_tensor(vision_run, monkeypatch):
    from tidal.models import ModelRegistry
    from tidal.serving import ModelServer, ModelSpec
    from tidal.store import Workspace

    home, result = vision_run
    monkeypatch.setenv("TIDAL_HOME", str(home))
    workspace = Workspace.open(home)
    try:
        package = ModelRegistry(workspace).load("models:/digits-vision@staging")
        server = ModelServer([ModelSpec("digits", "models:/digits-vision@staging")], workspace=workspace)
        rows = result.output("test_pixels").to_pandas().iloc[:16]
        pixels = rows[package.features].to_numpy(dtype=np.float32)
        body = {"inputs": [{"name": "image", "shape": [16, 1, 8, 8], "datatype": "FP32", "data": pixels.ravel().tolist()}]}

        async def infer() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://test") as client:
                return await client.post("/v2/models/digits/infer", json=body)

        answer = asyncio.run(infer())
    finally:
        workspace.close()
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == [int(value) for value in package.predict(rows)]
    assert np.allclose(np.reshape(outputs["probabilities"]["data"], (16, 10)), package.predict_proba(rows), atol=1e-6)


def test_the_registered_cnn_is_optimized_and_its_pick_serves_the_same_image_tensor(vision_run, tmp_path):
    """`tidal optimize`'s search on the vision model (a torch package over pixel columns): the package it picks
    keeps the image-tensor signature, scores what the search measured, and answers the same v2 request."""
    from tidal.models import ModelPackage, ModelRegistry
    from tidal.optimize import Timing, optimize_model
    from tidal.serving import ModelServer, ModelSpec
    from tidal.store import Workspace

    home, result = vision_run
    workspace = Workspace.open(home)
    try:
        package = ModelRegistry(workspace).load("models:/digits-vision@staging")
    finally:
        workspace.close()
    rows = result.output("test_pixels").to_pandas()
    validation = rows[[*package.features, "target"]]
    found = optimize_model(package, validation, label="target", batch_sizes=(1, 16), budget_minutes=3,
                           timing=Timing(warmup=1, rounds=1, calls=3), source="models:/digits-vision@staging")
    try:
        families = {item.family for item in found.measurements}
        assert {"baseline", "onnx-fp32"} <= families and any(family.startswith("int8") for family in families), families
        assert all(item.error is None for item in found.measurements if item.family == "onnx-fp32")
        winner = next(item for item in found.measurements if item.name == found.pick.winner)
        assert winner.loss is not None and winner.loss <= found.report["allowed_loss"] + 1e-12
        folder = found.save(tmp_path / "out") / "model"
    finally:
        found.close()
    loaded = ModelPackage.load(folder)
    assert loaded.signature()["tensor"] == package.signature()["tensor"] == {"name": "image", "shape": [1, 8, 8]}
    accuracy = float((loaded.predict(validation) == validation["target"]).mean())
    assert accuracy == pytest.approx(winner.score, abs=1e-9)   # what the search measured is what the package does

    first = rows.iloc[:16]
    pixels = first[package.features].to_numpy(dtype=np.float32)
    body = {"inputs": [{"name": "image", "shape": [16, 1, 8, 8], "datatype": "FP32", "data": pixels.ravel().tolist()}]}
    server = ModelServer([ModelSpec("digits", str(folder))])
    answer = asgi_request(server.app, "POST", "/v2/models/digits/infer", json=body)
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == [int(value) for value in loaded.predict(first)]
