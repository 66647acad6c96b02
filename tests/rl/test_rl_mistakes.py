"""Mistakes a user makes with rl.*: each refused before training, saying what, where and what to do."""

from __future__ import annotations

import pandas as pd
import pytest

from tidal.components import rl
from tidal.core import TidalError, ValidationFailed


def test_an_unknown_environment_lists_the_known_ones():
    with pytest.raises(TidalError) as caught:
        rl.train(environment="CartPole-v9", total_timesteps=10)
    message = str(caught.value)
    assert "unknown environment 'CartPole-v9'" in message and "did you mean CartPole-v1" in message
    for known in ("CartPole-v1", "Pendulum-v1", "MountainCar-v0", "FrozenLake-v1", "Taxi-v4"):
        assert known in message
    assert "tidal.environments" in message
    with pytest.raises(TidalError, match="unknown environment 'Nope-v0'"):
        rl.evaluate(rl.policy(environment="CartPole-v1"), environment="Nope-v0")


def test_an_environment_registered_by_a_plug_in_is_known():
    import gymnasium
    from rl_helpers import corridor_class

    gymnasium.register(id="TidalTestCorridor-v0", entry_point=corridor_class(), max_episode_steps=20)
    try:
        from tidal.components._rl_envs import known_environments

        assert known_environments()[-1] == "TidalTestCorridor-v0"  # plug-ins' ids come after Gymnasium's own
        with pytest.raises(TidalError, match="Known: CartPole-v0.*TidalTestCorridor-v0"):
            rl.train(environment="TidalTestCorridor-v9", total_timesteps=10)
        trained = rl.train(environment="TidalTestCorridor-v0", total_timesteps=128, n_steps=64, batch_size=32,
                           n_epochs=1, threads=1)
        assert trained.model.features == ["observation"] and trained.model.feature_types == {"observation": "int64"}
        assert trained.model.predict(pd.DataFrame({"observation": [0, 4]})).shape == (2,)
        with pytest.raises(TidalError, match="row 1: observation 5 is not a state of the environment"):
            trained.model.predict(pd.DataFrame({"observation": [0, 5]}))
    finally:
        del gymnasium.registry["TidalTestCorridor-v0"]


def test_hyperparameters_of_another_algorithm_are_named():
    with pytest.raises(ValidationFailed) as caught:
        rl.train(environment="CartPole-v1", algorithm="DQN", n_epochs=3, clip_range=0.1, total_timesteps=10)
    named = {issue.param for issue in caught.value.issues}
    assert named == {"n_epochs", "clip_range"}
    assert "it is for PPO" in str(caught.value) and "DQN takes: learning_rate" in str(caught.value)


@pytest.mark.parametrize(("params", "name"), [
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"gamma": 1.5}, "gamma"),
    ({"batch_size": 512, "n_steps": 128}, "batch_size"),
    ({"total_timesteps": 0}, "total_timesteps"),
    ({"algorithm": "SAC"}, "algorithm"),
    ({"net_arch": []}, "net_arch"),
])
def test_bad_values_are_named(params, name):
    with pytest.raises(ValidationFailed) as caught:
        rl.train(**{"environment": "CartPole-v1", "total_timesteps": 10, **params})
    assert name in {issue.param for issue in caught.value.issues}, str(caught.value)


def test_dqn_on_continuous_actions_and_wrong_kwargs_are_explained():
    with pytest.raises(ValidationFailed, match="DQN needs a Discrete action space; 'Pendulum-v1'"):
        rl.train(environment="Pendulum-v1", algorithm="DQN", total_timesteps=10)
    with pytest.raises(TidalError, match="parameter 'env_kwargs': environment 'CartPole-v1' does not take"):
        rl.train(environment="CartPole-v1", env_kwargs={"gravity": 3}, total_timesteps=10)
    with pytest.raises(TidalError, match="Box and Discrete spaces"):
        rl.train(environment="Blackjack-v1", total_timesteps=10)


def test_a_policy_meets_only_an_environment_of_its_spaces_and_models_of_its_kind():
    cartpole = rl.policy(environment="CartPole-v1")
    with pytest.raises(TidalError, match="'Pendulum-v1' has the observation space .* trained on Box \\[4\\]"):
        rl.evaluate(cartpole, environment="Pendulum-v1")
    with pytest.raises(TidalError, match="input 'policy' must be a policy from rl.train"):
        from tidal.conformance import sample_for, sample_model

        rl.evaluate(sample_model(sample_for("classification")))
    with pytest.raises(ValidationFailed, match="net_arch"):
        rl.train(cartpole, net_arch=[8], total_timesteps=10)
    with pytest.raises(ValidationFailed, match="trained with PPO"):
        rl.train(cartpole, algorithm="A2C", total_timesteps=10)
    with pytest.raises(TidalError, match="observation_columns.*4 elements"):
        rl.policy(environment="CartPole-v1", observation_columns=["a", "b"])


def test_observations_with_gaps_or_the_wrong_width_are_refused():
    cartpole = rl.policy(environment="CartPole-v1")
    with pytest.raises(TidalError, match="row 1 has a missing observation value"):
        cartpole.predict(pd.DataFrame([[0.0] * 4, [0.0, None, 0.0, 0.0]], columns=cartpole.features))
    with pytest.raises(TidalError, match="column.*'obs_3'"):
        cartpole.predict(pd.DataFrame([[0.0] * 3], columns=["obs_0", "obs_1", "obs_2"]))


def test_evaluate_is_seeded_and_summarises():
    trained = rl.train(environment="CartPole-v1", total_timesteps=256, n_steps=128, batch_size=64, n_epochs=1, threads=1)
    first = rl.evaluate(trained.model, n_episodes=4, deterministic=False, seed=3)
    again = rl.evaluate(trained.model, n_episodes=4, deterministic=False, seed=3)
    assert first.episodes.equals(again.episodes)
    assert first.summary["std_reward"] == pytest.approx(first.episodes["reward"].std(ddof=0))
    capped = rl.evaluate(trained.model, n_episodes=2, max_episode_steps=5)
    assert list(capped.episodes["length"]) == [5, 5] and capped.episodes["truncated"].all()
