"""The safe policy package (safetensors + JSON) round trip, serving it over v2, and checkpoints that continue."""

from __future__ import annotations

import asyncio
import json
import zipfile

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from rl_helpers import PPO_SMALL, sb3_direct

from tidal.components import rl
from tidal.models import ModelPackage


@pytest.fixture(scope="module")
def trained():
    return rl.train(environment="CartPole-v1", total_timesteps=1024, seed=2, threads=1, **PPO_SMALL)


@pytest.fixture(scope="module")
def observations() -> np.ndarray:
    """Observations the policy meets: states visited by a random walk in CartPole."""
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    observation, _ = env.reset(seed=0)
    rows = []
    for step in range(200):
        rows.append(observation)
        observation, _, terminated, truncated, _ = env.step(step % 2)
        if terminated or truncated:
            observation, _ = env.reset()
    return np.asarray(rows, dtype=np.float32)


def test_the_package_holds_only_safetensors_and_json(trained, tmp_path):
    archive = trained.model.save_archive(tmp_path / "policy.zip")
    with zipfile.ZipFile(archive) as opened:
        names = sorted(opened.namelist())
        settings = json.loads(opened.read("rl.json"))
    assert names == ["MANIFEST.json", "optimizer.safetensors", "policy.safetensors", "rl.json"]
    assert settings["algorithm"] == "PPO" and settings["observation_space"]["type"] == "Box"
    assert settings["observation_space"]["low"][1] == "-inf" and settings["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert settings["checkpoint"]["num_timesteps"] == 1024


def test_a_loaded_policy_acts_exactly_as_sb3_predict(trained, observations, tmp_path):
    loaded = ModelPackage.load(trained.model.save_archive(tmp_path / "policy.zip"))
    reference = sb3_direct("PPO", "CartPole-v1", 0, seed=0, **PPO_SMALL)
    reference.policy.load_state_dict(trained.model.model.state)
    expected, _ = reference.predict(observations, deterministic=True)
    frame = pd.DataFrame(observations, columns=loaded.features)
    assert loaded.flavor == "rl_policy" and loaded.task == "binary" and loaded.classes == [0, 1]
    assert np.array_equal(loaded.predict(frame), expected)
    assert np.array_equal(trained.model.predict(frame), expected)
    with torch.no_grad():
        probabilities = reference.policy.get_distribution(torch.as_tensor(observations)).distribution.probs.numpy()
    assert np.array_equal(loaded.predict_proba(frame), probabilities.astype(np.float64))
    assert all(torch.equal(loaded.model.state[key], trained.model.model.state[key]) for key in trained.model.model.state)


def test_dqn_and_continuous_actions_round_trip(tmp_path, observations):
    dqn = rl.train(environment="CartPole-v1", algorithm="DQN", total_timesteps=300, learning_starts=100, seed=0, threads=1)
    loaded = ModelPackage.load(dqn.model.save_archive(tmp_path / "dqn.zip"))
    frame = pd.DataFrame(observations[:20], columns=loaded.features)
    assert loaded.task == "other" and np.array_equal(loaded.predict(frame), dqn.model.predict(frame))
    assert np.array_equal(loaded.model.q_values(frame), dqn.model.model.q_values(frame))
    assert np.array_equal(loaded.predict(frame), loaded.model.q_values(frame).argmax(axis=1))
    pendulum = rl.train(environment="Pendulum-v1", algorithm="A2C", total_timesteps=200, seed=0, threads=1)
    loaded = ModelPackage.load(pendulum.model.save_archive(tmp_path / "a2c.zip"))
    rows = pd.DataFrame([[1.0, 0.0, 0.5], [0.0, 1.0, -2.0]], columns=loaded.features)
    actions = loaded.predict(rows)
    assert actions.shape == (2, 1) and np.array_equal(actions, pendulum.model.predict(rows))
    assert np.all(np.abs(actions) <= 2.0)  # clipped to the action space, as SB3 does


def serve_v2(archive, body: dict) -> httpx.Response:
    from tidal.serving import ModelServer, ModelSpec

    server = ModelServer([ModelSpec("cartpole", str(archive))])

    async def infer() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.post("/v2/models/cartpole/infer", json=body)

    return asyncio.run(infer())


def test_tidal_serve_answers_observations_with_the_actions_sb3_predicts(trained, observations, tmp_path):
    archive = trained.model.save_archive(tmp_path / "policy.zip")
    reference = sb3_direct("PPO", "CartPole-v1", 0, seed=0, **PPO_SMALL)
    reference.policy.load_state_dict(trained.model.model.state)
    expected, _ = reference.predict(observations, deterministic=True)
    body = {"inputs": [{"name": "observations", "shape": list(observations.shape), "datatype": "FP32",
                        "data": observations.ravel().tolist()}]}
    answer = serve_v2(archive, body)
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == [int(action) for action in expected]
    with torch.no_grad():
        probabilities = reference.policy.get_distribution(torch.as_tensor(observations)).distribution.probs.numpy()
    assert np.array_equal(np.reshape(outputs["probabilities"]["data"], (len(observations), 2)), probabilities.astype(np.float64))
    wrong = serve_v2(archive, {"inputs": [{"name": "observations", "shape": [1, 3], "datatype": "FP32", "data": [0, 0, 0]}]})
    assert wrong.status_code == 400 and "[N, 4]" in wrong.text


def test_a_checkpoint_continues_with_its_optimizer_state_and_step_count(tmp_path):
    first = rl.train(environment="CartPole-v1", total_timesteps=512, seed=6, threads=1, **PPO_SMALL)
    checkpoint = ModelPackage.load(first.model.save_archive(tmp_path / "checkpoint.zip"))
    saved, restored = first.model.model.checkpoint, checkpoint.model.checkpoint
    assert set(saved["tensors"]) == set(restored["tensors"]) and saved["groups"] == restored["groups"]
    assert all(torch.equal(saved["tensors"][key], restored["tensors"][key]) for key in saved["tensors"])
    assert checkpoint.metadata["steps"] == 512
    continued = rl.train(checkpoint, total_timesteps=512, seed=6, threads=1, **PPO_SMALL)
    assert continued.model.metadata["steps"] == 1024 and continued.report["continued_from"] == 512
    assert continued.curve["timesteps"].min() > 512
    # the same continuation done by hand on SB3: a fresh model, the checkpoint's weights, optimizer and counters
    reference = sb3_direct("PPO", "CartPole-v1", 512, seed=6, **PPO_SMALL)
    resumed = sb3_direct("PPO", "CartPole-v1", 0, seed=6, **PPO_SMALL)
    resumed.policy.load_state_dict(reference.policy.state_dict())
    resumed.policy.optimizer.load_state_dict(reference.policy.optimizer.state_dict())
    resumed.num_timesteps, resumed._n_updates = reference.num_timesteps, reference._n_updates
    resumed.learn(512, reset_num_timesteps=False)
    state = continued.model.model.state
    assert all(torch.equal(state[key], resumed.policy.state_dict()[key]) for key in state)
    assert resumed._n_updates == continued.model.model.checkpoint["n_updates"]
    # and one run of 1024 steps differs only by the fresh episodes and generators (docs/rl.md): same shapes, other values
    straight = rl.train(environment="CartPole-v1", total_timesteps=1024, seed=6, threads=1, **PPO_SMALL)
    assert any(not torch.equal(state[key], straight.model.model.state[key]) for key in state)


def test_continuing_with_a_new_learning_rate_uses_it(tmp_path):
    first = rl.train(environment="CartPole-v1", total_timesteps=512, seed=0, threads=1, **PPO_SMALL)
    continued = rl.train(first.model, total_timesteps=512, learning_rate=1e-3, seed=0, threads=1, **PPO_SMALL)
    assert [group["lr"] for group in continued.model.model.checkpoint["groups"]] == [1e-3]
