"""examples/rl_cartpole.yaml end to end on the engine: trained, evaluated, registered, and served from the registry."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import numpy as np

import tidal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_cartpole_example_trains_evaluates_registers_and_serves(tmp_path, monkeypatch):
    from tidal.models import ModelRegistry
    from tidal.serving import ModelServer, ModelSpec
    from tidal.store import Workspace

    shutil.copy(EXAMPLES / "rl_cartpole.yaml", tmp_path)
    monkeypatch.setenv("TIDAL_HOME", str(tmp_path))
    result = tidal.run(tidal.load_pipeline(tmp_path / "rl_cartpole.yaml"), workspace=tmp_path, workers=0)
    assert result.ok, result.to_dict()
    curve = result.output("train", "curve").to_pandas()
    assert list(curve.columns) == ["episode", "timesteps", "reward", "length"] and len(curve) > 20
    assert curve["reward"].tail(10).mean() > curve["reward"].head(10).mean()  # it learns
    summary = result.metrics("evaluate")
    assert summary["episodes"] == 10 and summary["mean_reward"] > 0
    workspace = Workspace.open(tmp_path)
    try:
        package = ModelRegistry(workspace).load("models:/cartpole-ppo@staging")
        server = ModelServer([ModelSpec("cartpole", "models:/cartpole-ppo@staging")], workspace=workspace)
        observations = np.array([[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, -0.05, 0.0]], dtype=np.float32)

        async def infer() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
                return await client.post("/v2/models/cartpole/infer", json={"inputs": [
                    {"name": "observations", "shape": [2, 4], "datatype": "FP32", "data": observations.ravel().tolist()}]})

        answer = asyncio.run(infer())
    finally:
        workspace.close()
    assert answer.status_code == 200, answer.text
    assert package.features == ["cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"]
    served = next(item for item in answer.json()["outputs"] if item["name"] == "prediction")["data"]
    assert served == package.model.act(observations).tolist()
