"""examples/text_minilm.yaml end to end on the engine, offline: embeddings, probe, evaluation, registry, serving."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx

import tidal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_minilm_example_runs_offline_and_serves_the_registered_probe(tmp_path, monkeypatch):
    from tidal.serving import ModelServer, ModelSpec
    from tidal.store import Workspace

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TIDAL_HOME", str(tmp_path))
    (tmp_path / "examples" / "data").mkdir(parents=True)
    shutil.copy(EXAMPLES / "text_minilm.yaml", tmp_path / "examples")
    shutil.copy(EXAMPLES / "data" / "reviews_en.csv", tmp_path / "examples" / "data")
    monkeypatch.chdir(tmp_path)
    result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "text_minilm.yaml"), workspace=tmp_path, workers=0)
    assert result.ok, result.to_dict()
    embeddings = result.output("embeddings").to_pandas()
    assert embeddings.shape == (40, 3 + 384)
    assert result.metrics("evaluate")["accuracy"] >= 0.75  # 10 of 12 held-out reviews; chance is 0.5
    zero_shot = result.output("zero_shot").to_pandas()
    assert set(zero_shot["prediction"]) <= {"praise", "complaint"}
    search = result.output("search").to_pandas()
    assert len(search) == 12 and search["score"].between(-1, 1).all()
    workspace = Workspace.open(tmp_path)
    try:
        server = ModelServer([ModelSpec("reviews", "models:/review-sentiment@staging")], workspace=workspace)

        async def infer() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
                return await client.post("/v2/models/reviews/infer", json={"inputs": [
                    {"name": "text", "shape": [2], "datatype": "BYTES",
                     "data": ["Wonderful food and kind staff.", "Broken on arrival, a waste of money."]}]})

        answer = asyncio.run(infer())
    finally:
        workspace.close()
    assert answer.status_code == 200, answer.text
    assert next(item for item in answer.json()["outputs"] if item["name"] == "prediction")["data"] == [1, 0]
