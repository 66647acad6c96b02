"""Helpers for the reinforcement-learning tests: SB3 called directly, as the reference.

A module of its own (not conftest.py), so that `from rl_helpers import ...` cannot pick up another
folder's conftest.
"""

from __future__ import annotations

from typing import Any

#: small PPO settings: a few thousand steps train in a second or two on one thread
PPO_SMALL: dict[str, Any] = {"n_steps": 256, "batch_size": 64, "n_epochs": 4}


def sb3_direct(algorithm: str, env_id: str, steps: int, seed: int, n_envs: int = 1, **hyper: Any) -> Any:
    """SB3 as a user calls it: make_vec_env, the algorithm with a seed on the CPU, learn."""
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    from stable_baselines3.common.logger import Logger

    model = getattr(stable_baselines3, algorithm)("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **hyper)
    model.set_logger(Logger(folder=None, output_formats=[]))  # no empty SB3-* folder in the temp dir
    if steps:
        model.learn(total_timesteps=steps)
    return model


def monitor_curve(model: Any) -> list[tuple[float, int]]:
    """(reward, length) of every finished episode, from the Monitor wrappers (one environment)."""
    monitor = model.env.envs[0]
    return list(zip(monitor.get_episode_rewards(), monitor.get_episode_lengths(), strict=True))


def corridor_class() -> Any:
    """A plug-in's environment: walk right along a corridor of 5 cells (observation: the cell) to reach the end."""
    import gymnasium

    class Corridor(gymnasium.Env):  # type: ignore[misc]
        metadata = {"render_modes": ["rgb_array"]}  # SB3's make_vec_env asks for rgb_array
        observation_space = gymnasium.spaces.Discrete(5)
        action_space = gymnasium.spaces.Discrete(2)

        def __init__(self, render_mode: str | None = None) -> None:
            self.render_mode = render_mode

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
            super().reset(seed=seed)
            self.cell = 0
            return self.cell, {}

        def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
            self.cell = max(0, min(4, self.cell + (1 if int(action) == 1 else -1)))
            return self.cell, float(self.cell == 4), self.cell == 4, False, {}

    return Corridor
