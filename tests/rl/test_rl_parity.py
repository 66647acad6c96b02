"""rl.train against Stable-Baselines3 called directly: the same seed and hyperparameters give the same
reward curve and bit-identical weights; and a seed makes rl.train reproducible."""

from __future__ import annotations

import pytest
import torch
from rl_helpers import PPO_SMALL, monitor_curve, sb3_direct

from tidal.components import rl


def curve_pairs(trained) -> list[tuple[float, int]]:
    return list(zip(trained.curve["reward"], trained.curve["length"], strict=True))


def assert_same_weights(ours, reference) -> None:
    theirs = reference.policy.state_dict()
    assert set(ours.model.model.state) == set(theirs)
    different = [key for key in theirs if not torch.equal(ours.model.model.state[key], theirs[key])]
    assert not different, f"weights differ: {different}"


def test_ppo_matches_sb3_called_directly():
    trained = rl.train(environment="CartPole-v1", total_timesteps=2048, seed=3, threads=1, **PPO_SMALL)
    reference = sb3_direct("PPO", "CartPole-v1", 2048, seed=3, **PPO_SMALL)
    assert len(trained.curve) > 20  # episodes to compare one by one
    assert curve_pairs(trained) == monitor_curve(reference)
    assert_same_weights(trained, reference)
    assert list(trained.curve["episode"]) == list(range(1, len(trained.curve) + 1))
    assert trained.curve["timesteps"].is_monotonic_increasing and trained.curve["timesteps"].iloc[-1] <= 2048


@pytest.mark.parametrize(("algorithm", "hyper"), [
    ("A2C", {"n_steps": 8}),
    ("DQN", {"learning_starts": 200, "buffer_size": 5000, "target_update_interval": 250}),
])
def test_a2c_and_dqn_match_sb3_called_directly(algorithm, hyper):
    trained = rl.train(environment="CartPole-v1", algorithm=algorithm, total_timesteps=1000, seed=1, threads=1, **hyper)
    reference = sb3_direct(algorithm, "CartPole-v1", 1000, seed=1, **hyper)
    assert curve_pairs(trained) == monitor_curve(reference)
    assert_same_weights(trained, reference)


def test_several_environments_match_sb3_too():
    trained = rl.train(environment="CartPole-v1", total_timesteps=512, n_envs=2, seed=5, threads=1, **PPO_SMALL)
    reference = sb3_direct("PPO", "CartPole-v1", 512, seed=5, n_envs=2, **PPO_SMALL)
    assert_same_weights(trained, reference)


def test_the_same_seed_gives_the_same_curve_and_another_seed_another():
    first = rl.train(environment="CartPole-v1", total_timesteps=512, seed=11, threads=1, **PPO_SMALL)
    again = rl.train(environment="CartPole-v1", total_timesteps=512, seed=11, threads=1, **PPO_SMALL)
    other = rl.train(environment="CartPole-v1", total_timesteps=512, seed=12, threads=1, **PPO_SMALL)
    assert first.curve.equals(again.curve)
    assert all(torch.equal(first.model.model.state[key], again.model.model.state[key]) for key in first.model.model.state)
    assert not first.curve.equals(other.curve)


def test_training_from_rl_policy_with_the_same_seed_is_training_from_scratch():
    fresh = rl.policy(environment="CartPole-v1", seed=4)
    from_policy = rl.train(fresh, total_timesteps=512, seed=4, threads=1, **PPO_SMALL)
    scratch = rl.train(environment="CartPole-v1", total_timesteps=512, seed=4, threads=1, **PPO_SMALL)
    assert from_policy.curve.equals(scratch.curve)
    assert all(torch.equal(from_policy.model.model.state[key], scratch.model.model.state[key]) for key in scratch.model.model.state)


def test_the_report_has_the_reward_chart_and_the_numbers():
    trained = rl.train(environment="CartPole-v1", total_timesteps=512, seed=0, threads=1, **PPO_SMALL)
    report = trained.report
    assert report["timesteps"] == 512 and report["episodes"] == len(trained.curve)
    assert report["mean_reward_last_10"] == pytest.approx(trained.curve["reward"].tail(10).mean())
    chart = report.figures["reward"]
    assert chart["data"]["values"][0] == {"timesteps": float(trained.curve["timesteps"][0]),
                                          "episode reward": float(trained.curve["reward"][0])}
    assert {"name": "n_steps", "value": 256} in report.tables["hyperparameters"]


def test_a_linear_schedule_is_rl_zoos_lin():
    trained = rl.train(environment="CartPole-v1", total_timesteps=512, learning_rate=1e-3, clip_range=0.2,
                       schedule="linear", seed=8, threads=1, **PPO_SMALL)
    reference = sb3_direct("PPO", "CartPole-v1", 512, seed=8, learning_rate=lambda left: left * 1e-3,
                           clip_range=lambda left: left * 0.2, **PPO_SMALL)
    assert_same_weights(trained, reference)
    assert trained.model.model.checkpoint["groups"][0]["lr"] < 1e-3  # it fell
