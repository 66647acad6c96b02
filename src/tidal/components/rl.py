"""Reinforcement learning: train PPO, A2C or DQN (Stable-Baselines3) on a Gymnasium environment, evaluate a policy.

A trained policy is an ordinary Model (flavor ``rl_policy``): safetensors weights and a JSON
description, never SB3's pickled zip; ``tidal serve`` answers a v2 request of observations with
actions (and, for PPO/A2C over discrete actions, their probabilities). Environments are Gymnasium
ids, checked before anything runs (see ``docs/rl.md``). gymnasium and stable-baselines3 are
imported only when a component runs: ``pip install 'tidal[rl]'``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import pandas as pd

from tidal.components._charts import xy_chart
from tidal.core import Metrics, Param, component
from tidal.core._errors import TidalError
from tidal.models import ModelPackage

CURVE_COLUMNS = ["episode", "timesteps", "reward", "length"]

ENVIRONMENT = Annotated[str | None, Param(help="a Gymnasium environment id (CartPole-v1, Pendulum-v1, FrozenLake-v1, or one "
                                               "a plug-in registers); empty: the connected policy's environment")]
ENV_KWARGS = Annotated[dict[str, Any] | None, Param(help="keyword arguments for gymnasium.make (e.g. {is_slippery: false})")]
SEED = Annotated[int, Param(ge=0, help="random seed; the same seed gives the same curve and policy")]


class TrainedPolicy(NamedTuple):
    model: ModelPackage
    curve: pd.DataFrame
    report: Metrics


class Evaluation(NamedTuple):
    episodes: pd.DataFrame
    summary: Metrics


def _environment(environment: str | None, policy: ModelPackage | None) -> tuple[str, dict[str, Any] | None]:
    if environment:
        return environment, None
    trained = policy.model if policy is not None else None
    if isinstance(trained, _policy_class()) and trained.environment.get("id"):
        return str(trained.environment["id"]), dict(trained.environment.get("kwargs") or {})
    raise TidalError("parameter 'environment': give a Gymnasium environment id (e.g. CartPole-v1)")


def _policy_class() -> Any:
    from tidal.components._rl_policy import RLPolicy

    return RLPolicy


def _policy_input(policy: ModelPackage | None) -> Any:
    if policy is None:
        return None
    if not isinstance(policy, ModelPackage) or not isinstance(policy.model, _policy_class()):
        flavor = getattr(policy, "flavor", type(policy).__name__)
        raise TidalError(f"input 'policy' must be a policy from rl.train (flavor rl_policy), got a {flavor} model")
    return policy.model


NET_ARCH = Annotated[list[int] | None, Param(help="hidden layer sizes (the same for the policy and the value network); "
                                                  "empty: [64, 64]")]
ACTIVATION = Annotated[Literal["tanh", "relu"] | None, Param(help="hidden activation; empty: tanh (PPO/A2C), relu (DQN)")]
OBSERVATION_COLUMNS = Annotated[list[str] | None, Param(help="names for the observation's elements as model input columns; "
                                                             "empty: obs_0, obs_1, ... (or the connected policy's)")]


@component("rl.policy", title="Policy (RL)", tags={
    "sample": "classification", "sample_params": {"environment": "CartPole-v1", "observation_columns": ["x1", "x2", "x3", "x4"]}})
def policy(
    *,
    environment: Annotated[str, Param(help="a Gymnasium environment id (CartPole-v1, Pendulum-v1, FrozenLake-v1, or one "
                                           "a plug-in registers)")],
    env_kwargs: ENV_KWARGS = None,
    algorithm: Annotated[Literal["PPO", "A2C", "DQN"], Param(help="the algorithm whose policy this is (DQN: discrete actions)")] = "PPO",
    net_arch: NET_ARCH = None,
    activation: ACTIVATION = None,
    observation_columns: OBSERVATION_COLUMNS = None,
    seed: SEED = 0,
) -> ModelPackage:
    """An untrained policy for an environment, with freshly drawn weights: connect it to ``rl.train``.

    The policy network is the one Stable-Baselines3 builds for the algorithm and the
    environment's spaces (an MLP; ``net_arch`` and ``activation`` change it), with the weights SB3
    draws for ``seed``: training it with ``rl.train`` and the same seed is training from scratch.
    The environment id is checked first: an unknown id is refused with the list of known ones.

    Examples
    --------
    >>> fresh = policy(environment="CartPole-v1", net_arch=[32, 32])
    >>> fresh.flavor, fresh.task, fresh.metadata["steps"], fresh.model.policy_kwargs["net_arch"]
    ('rl_policy', 'binary', 0, [32, 32])
    >>> fresh.predict(pd.DataFrame([[0.0, 0.1, 0.02, -0.1]], columns=fresh.features)).shape
    (1,)
    """
    from tidal.components._rl_envs import check_environment
    from tidal.components._rl_train import TrainSettings, build_algorithm, policy_of

    check_environment(environment)
    settings = TrainSettings(algorithm=algorithm, environment=environment, env_kwargs=dict(env_kwargs or {}),
                             total_timesteps=0, n_envs=1, seed=seed, hyperparameters={},
                             policy_kwargs=_policy_kwargs(net_arch, activation))
    model = build_algorithm(settings, settings.policy_kwargs)
    model.env.close()
    return _package(policy_of(model, environment, settings.env_kwargs, keep_checkpoint=False), observation_columns)


def _policy_kwargs(net_arch: list[int] | None, activation: str | None) -> dict[str, Any]:
    from tidal.core._errors import Issue, ValidationFailed

    policy_kwargs: dict[str, Any] = {}
    if net_arch is not None:
        if not net_arch or any(size < 1 or size > 65536 for size in net_arch):
            raise ValidationFailed([Issue("give 1 to 16 hidden layer sizes from 1 to 65536", param="net_arch", code="bad_param")],
                                   subject="parameters")
        policy_kwargs["net_arch"] = list(net_arch)
    if activation is not None:
        policy_kwargs["activation_fn"] = activation
    return policy_kwargs


def _package(trained: Any, names: list[str] | None) -> ModelPackage:
    from tidal.components._rl_envs import observation_columns, space_from_json

    return policy_package(trained, observation_columns(space_from_json(trained.observation_space, "observation"), names))


@component("rl.train", title="Train Policy (RL)", tags={
    "sample": "classification", "sample_model": "rl.policy",
    "sample_params": {"environment": "CartPole-v1", "total_timesteps": 256, "n_steps": 64, "batch_size": 32,
                      "n_epochs": 2, "threads": 1, "observation_columns": ["x1", "x2", "x3", "x4"]}})
def train(
    policy: ModelPackage | None = None,
    *,
    environment: ENVIRONMENT = None,
    env_kwargs: ENV_KWARGS = None,
    algorithm: Annotated[Literal["PPO", "A2C", "DQN"] | None,
                         Param(help="PPO, A2C or DQN (discrete actions only); empty: PPO, or the connected policy's")] = None,
    total_timesteps: Annotated[int, Param(ge=1, le=100_000_000, help="environment steps to train (more, when continuing)")] = 10_000,
    learning_rate: Annotated[float | None, Param(gt=0, le=1, log=True, tune=True, low=1e-5, high=1e-2,
                                                 help="empty: the algorithm's default (PPO 3e-4, A2C 7e-4, DQN 1e-4)")] = None,
    n_steps: Annotated[int | None, Param(ge=1, help="PPO/A2C: steps per environment per update (PPO 2048, A2C 5)")] = None,
    batch_size: Annotated[int | None, Param(ge=1, help="PPO: minibatch size (64); DQN: replay batch (32)")] = None,
    n_epochs: Annotated[int | None, Param(ge=1, le=1000, help="PPO: passes over each rollout (10)")] = None,
    gamma: Annotated[float | None, Param(ge=0, le=1, help="discount factor (0.99)")] = None,
    gae_lambda: Annotated[float | None, Param(ge=0, le=1, help="PPO/A2C: GAE lambda (PPO 0.95, A2C 1.0)")] = None,
    clip_range: Annotated[float | None, Param(gt=0, help="PPO: clipping (0.2)")] = None,
    ent_coef: Annotated[float | None, Param(ge=0, help="PPO/A2C: entropy bonus (0.0)")] = None,
    vf_coef: Annotated[float | None, Param(ge=0, help="PPO/A2C: value loss weight (0.5)")] = None,
    max_grad_norm: Annotated[float | None, Param(gt=0, help="gradient clipping (PPO/A2C 0.5, DQN 10)")] = None,
    buffer_size: Annotated[int | None, Param(ge=1, help="DQN: replay buffer size (1,000,000)")] = None,
    learning_starts: Annotated[int | None, Param(ge=0, help="DQN: steps before learning starts (100)")] = None,
    train_freq: Annotated[int | None, Param(ge=1, help="DQN: update every this many steps (4)")] = None,
    gradient_steps: Annotated[int | None, Param(ge=1, help="DQN: gradient steps per update (1)")] = None,
    target_update_interval: Annotated[int | None, Param(ge=1, help="DQN: steps between target network updates (10,000)")] = None,
    exploration_fraction: Annotated[float | None, Param(gt=0, le=1, help="DQN: share of training over which epsilon falls (0.1)")] = None,
    exploration_final_eps: Annotated[float | None, Param(ge=0, le=1, help="DQN: final epsilon (0.05)")] = None,
    schedule: Annotated[Literal["constant", "linear"], Param(help="linear: learning_rate (and PPO's clip_range) fall "
                                                                  "linearly to 0 over the run, as RL Zoo's lin_ values")] = "constant",
    net_arch: NET_ARCH = None,
    activation: ACTIVATION = None,
    n_envs: Annotated[int, Param(ge=1, le=64, help="environments stepped together (seeded seed, seed+1, ...)")] = 1,
    observation_columns: OBSERVATION_COLUMNS = None,
    keep_checkpoint: Annotated[bool, Param(help="keep the optimizer state and counters in the model, so rl.train "
                                                "(or population-based training) can continue it exactly")] = True,
    threads: Annotated[int | None, Param(ge=1, help="CPU threads for PyTorch; empty: PyTorch's default")] = None,
    seed: SEED = 0,
) -> TrainedPolicy:
    """Train a policy with Stable-Baselines3 on a Gymnasium environment; or continue a connected one.

    The environment id is checked first: an unknown id is refused with the list of known ones.
    Hyperparameters left empty take the algorithm's SB3 defaults; one that does not apply to the
    algorithm (``n_epochs`` with DQN) is refused, named. Training is SB3's own (``make_vec_env``,
    the algorithm with ``seed``, ``learn``), so a seed gives the curve and weights SB3 gives.

    With a connected ``policy`` (``rl.policy``, or an earlier ``rl.train``), training continues from its weights,
    and from its optimizer state and step count when it kept a checkpoint (``keep_checkpoint``):
    ``total_timesteps`` more steps, with the hyperparameters given now, as population-based
    training does. The model's ``metadata["steps"]`` is the step count so far.

    Outputs: the policy (flavor ``rl_policy``: ``predict`` gives the deterministic action for rows
    of observation columns), the reward curve (one row per finished episode: ``episode``,
    ``timesteps``, ``reward``, ``length``) and a report with its chart.

    Examples
    --------
    >>> trained = train(environment="CartPole-v1", total_timesteps=512, n_steps=128, batch_size=64,
    ...                 n_epochs=2, threads=1, seed=0)
    >>> trained.model.flavor, trained.model.task, trained.model.features
    ('rl_policy', 'binary', ['obs_0', 'obs_1', 'obs_2', 'obs_3'])
    >>> list(trained.curve.columns), trained.model.metadata["steps"]
    (['episode', 'timesteps', 'reward', 'length'], 512)
    >>> more = train(trained.model, total_timesteps=256, n_steps=128, batch_size=64, n_epochs=2, threads=1)
    >>> more.model.metadata["steps"], int(more.curve["timesteps"].min()) > 512
    (768, True)
    >>> try:
    ...     train(environment="CartPol-v1")
    ... except TidalError as error:
    ...     print(str(error).split(". Known")[0])
    parameter 'environment': unknown environment 'CartPol-v1' (did you mean CartPole-v1, CartPole-v0?)
    """
    from tidal.components._rl_envs import check_environment
    from tidal.components._rl_train import TrainSettings, train_policy

    start = _policy_input(policy)
    env_id, env_defaults = _environment(environment, policy)
    check_environment(env_id)
    given = {"learning_rate": learning_rate, "n_steps": n_steps, "batch_size": batch_size, "n_epochs": n_epochs,
             "gamma": gamma, "gae_lambda": gae_lambda, "clip_range": clip_range, "ent_coef": ent_coef, "vf_coef": vf_coef,
             "max_grad_norm": max_grad_norm, "buffer_size": buffer_size, "learning_starts": learning_starts,
             "train_freq": train_freq, "gradient_steps": gradient_steps, "target_update_interval": target_update_interval,
             "exploration_fraction": exploration_fraction, "exploration_final_eps": exploration_final_eps}
    policy_kwargs = _policy_kwargs(net_arch, activation)
    settings = TrainSettings(
        algorithm=algorithm or (start.algorithm if start is not None else "PPO"), environment=env_id,
        env_kwargs=dict(env_kwargs if env_kwargs is not None else env_defaults or {}), total_timesteps=total_timesteps,
        n_envs=n_envs, seed=seed, hyperparameters={name: value for name, value in given.items() if value is not None},
        policy_kwargs=policy_kwargs, keep_checkpoint=keep_checkpoint, schedule=schedule)
    _set_threads(threads)
    result = train_policy(settings, start)
    names = observation_columns if observation_columns is not None or policy is None else policy.features
    package = _package(result.policy, names)
    curve = pd.DataFrame(result.curve, columns=CURVE_COLUMNS).astype(
        {"episode": "int64", "timesteps": "int64", "reward": "float64", "length": "int64"})
    return TrainedPolicy(package, curve, _report(curve, settings, package.metadata["steps"], result.start_timesteps))


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))


def policy_package(policy: Any, columns: list[str]) -> ModelPackage:
    """A policy as a model package: observation columns in, actions out (probabilities for PPO/A2C over discrete actions)."""
    action, observation = policy.action_space, policy.observation_space
    discrete = action["type"] == "Discrete"
    classes = list(range(action["start"], action["start"] + action["n"])) if discrete else None
    task = ("binary" if action["n"] == 2 else "multiclass") if discrete and policy.algorithm != "DQN" else "other"
    dtype = "int64" if observation["type"] == "Discrete" else observation["dtype"]
    shape = [1] if observation["type"] == "Discrete" else list(observation["shape"])
    steps = int((policy.checkpoint or {}).get("num_timesteps", 0))
    return ModelPackage(
        model=policy, task=task, features=list(columns), flavor="rl_policy", classes=classes if task != "other" else None,
        feature_types=dict.fromkeys(columns, dtype), params={"algorithm": policy.algorithm},
        metadata={"algorithm": policy.algorithm, "environment": policy.environment, "steps": steps,
                  "action_space": action, "input_tensor": {"name": "observations", "shape": shape}})


def _report(curve: pd.DataFrame, settings: Any, steps: int, started: int) -> Metrics:
    last = curve["reward"].tail(10)
    values: dict[str, Any] = {"algorithm": settings.algorithm, "environment": settings.environment,
                              "timesteps": steps or started + settings.total_timesteps, "episodes": len(curve),
                              "continued_from": started}
    if len(curve):
        values.update(mean_reward_last_10=float(last.mean()), best_reward=float(curve["reward"].max()),
                      mean_length_last_10=float(curve["length"].tail(10).mean()))
    figure = xy_chart(curve["timesteps"], curve["reward"], x="timesteps", y="episode reward",
                      title=f"{settings.algorithm} on {settings.environment}: reward per episode")
    return Metrics(values, figures={"reward": figure}, tables={"hyperparameters": [
        {"name": name, "value": value} for name, value in sorted(settings.hyperparameters.items())]})


@component("rl.evaluate", title="Evaluate Policy (RL)", tags={
    "sample": "none", "sample_model": "rl.train", "sample_params": {"n_episodes": 2}})
def evaluate(
    policy: ModelPackage,
    *,
    environment: ENVIRONMENT = None,
    env_kwargs: ENV_KWARGS = None,
    n_episodes: Annotated[int, Param(ge=1, le=100_000, help="episodes to play")] = 10,
    deterministic: Annotated[bool, Param(help="take the most likely action (true) or sample from the policy")] = True,
    max_episode_steps: Annotated[int, Param(ge=1, help="cut an episode after this many steps (marked truncated)")] = 100_000,
    seed: SEED = 0,
) -> Evaluation:
    """Play episodes with a trained policy: one row per episode, and their mean and spread.

    The environment is the policy's own unless another is given; its spaces must match the
    policy's. The first episode starts from ``reset(seed=seed)``, the next ones continue the
    environment's generator, so a seed gives the same episodes. Stochastic actions
    (``deterministic: false``) draw from PyTorch's generator, seeded from ``seed`` too.

    Examples
    --------
    >>> trained = train(environment="CartPole-v1", total_timesteps=256, n_steps=128, batch_size=64,
    ...                 n_epochs=1, threads=1)
    >>> result = evaluate(trained.model, n_episodes=3)
    >>> list(result.episodes.columns), len(result.episodes)
    (['episode', 'reward', 'length', 'truncated'], 3)
    >>> bool(result.summary["mean_reward"] == result.episodes["reward"].mean())
    True
    """
    from tidal.components._rl_train import evaluate_policy

    start = _policy_input(policy)
    if start is None:
        raise TidalError("input 'policy' is required: connect rl.train's model")
    env_id, env_defaults = _environment(environment, policy)
    rows = evaluate_policy(start, env_id, dict(env_kwargs if env_kwargs is not None else env_defaults or {}),
                           episodes=n_episodes, deterministic=deterministic, seed=seed, max_steps=max_episode_steps)
    episodes = pd.DataFrame(rows, columns=["episode", "reward", "length", "truncated"])
    rewards = episodes["reward"]
    summary = {"environment": env_id, "episodes": len(episodes), "mean_reward": float(rewards.mean()),
               "std_reward": float(rewards.std(ddof=0)), "min_reward": float(rewards.min()),
               "max_reward": float(rewards.max()), "mean_length": float(episodes["length"].mean())}
    figure = xy_chart(episodes["episode"], rewards, x="episode", y="reward", title=f"Evaluation on {env_id}")
    return Evaluation(episodes, Metrics(summary, figures={"rewards": figure}))
