"""Training and evaluating Stable-Baselines3 policies for ``rl.train`` and ``rl.evaluate``.

Training does what a user calling SB3 directly does, nothing more: ``make_vec_env(id, n_envs,
seed)`` (each environment wrapped in a ``Monitor``), the algorithm built with ``seed`` on the CPU,
``learn(total_timesteps)``; a callback reads the finished episodes from the ``Monitor`` infos
(it draws no random numbers), so the same seed gives SB3's own curve and weights.

Continuing from a policy (``rl.train``'s ``policy`` input) builds the same algorithm, loads the
policy's weights and, when the policy is a checkpoint, the optimizer state and the counters
(timesteps, updates), then learns ``total_timesteps`` more with ``reset_num_timesteps=False``.
The environments start fresh episodes and the random generators restart from ``seed``: a
checkpoint does not hold the environments' inner state (no safe format does, in general), so
2k + 2k steps is close to, not equal to, one run of 4k steps (see docs/rl.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tidal.components._rl_envs import check_environment, make_environment, space_to_json
from tidal.components._rl_policy import RLPolicy, kwargs_from_json, kwargs_to_json
from tidal.core._errors import Issue, TidalError, ValidationFailed

#: hyperparameters each algorithm takes (the others are refused, named, when given)
ALGORITHM_PARAMS: dict[str, tuple[str, ...]] = {
    "PPO": ("learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "clip_range", "ent_coef",
            "vf_coef", "max_grad_norm", "normalize_advantage"),
    "A2C": ("learning_rate", "n_steps", "gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "normalize_advantage"),
    "DQN": ("learning_rate", "batch_size", "gamma", "max_grad_norm", "buffer_size", "learning_starts", "train_freq",
            "gradient_steps", "target_update_interval", "exploration_fraction", "exploration_final_eps", "tau"),
}


@dataclass
class TrainSettings:
    algorithm: str
    environment: str
    env_kwargs: dict[str, Any]
    total_timesteps: int
    n_envs: int
    seed: int
    hyperparameters: dict[str, Any]
    policy_kwargs: dict[str, Any]
    keep_checkpoint: bool = True
    #: "linear": learning_rate (and PPO's clip_range) fall linearly to 0 over the run, as RL Zoo's ``lin_`` values
    schedule: str = "constant"


@dataclass
class TrainResult:
    policy: RLPolicy
    curve: list[dict[str, Any]]
    start_timesteps: int


def _bad(name: str, message: str) -> ValidationFailed:
    return ValidationFailed([Issue(message, param=name, code="bad_param")], subject="rl.train parameters")


def check_settings(settings: TrainSettings) -> None:
    """Hyperparameters that do not apply to the algorithm, or that do not fit together, named."""
    issues = []
    allowed = ALGORITHM_PARAMS[settings.algorithm]
    for name in settings.hyperparameters:
        if name not in allowed:
            users = [algorithm for algorithm, names in ALGORITHM_PARAMS.items() if name in names]
            issues.append(Issue(f"{settings.algorithm} does not take it (it is for {', '.join(users)})", param=name,
                                code="bad_param", hint=f"{settings.algorithm} takes: {', '.join(allowed)}"))
    hyper = settings.hyperparameters
    if settings.algorithm == "PPO":
        rollout = hyper.get("n_steps", 2048) * settings.n_envs
        if rollout < 2:
            issues.append(Issue("n_steps x n_envs must be at least 2 (PPO's rollout)", param="n_steps", code="bad_param"))
        if hyper.get("batch_size", 64) > rollout:
            issues.append(Issue(f"batch_size {hyper.get('batch_size', 64)} is larger than the rollout of n_steps x n_envs = "
                                f"{rollout} steps", param="batch_size", code="bad_param"))
        if hyper.get("batch_size", 64) < 2:
            issues.append(Issue("PPO needs a batch_size of at least 2", param="batch_size", code="bad_param"))
    if "net_arch" in settings.policy_kwargs and settings.algorithm != "DQN" and not settings.policy_kwargs["net_arch"]:
        issues.append(Issue("give at least one hidden layer size", param="net_arch", code="bad_param"))
    if issues:
        raise ValidationFailed(issues, subject="rl.train parameters")


def _algorithm_class(name: str) -> Any:
    import stable_baselines3

    return getattr(stable_baselines3, name)


def make_vector_environment(env_id: str, env_kwargs: dict[str, Any], n_envs: int, seed: int) -> Any:
    """SB3's ``make_vec_env``: ``n_envs`` copies in a DummyVecEnv, each in a Monitor, seeded ``seed + rank``."""
    from stable_baselines3.common.env_util import make_vec_env

    check_environment(env_id)
    make_environment(env_id, env_kwargs).close()  # bad kwargs and missing dependencies, said plainly
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs or None)


def build_algorithm(settings: TrainSettings, policy_kwargs: dict[str, Any]) -> Any:
    env = make_vector_environment(settings.environment, settings.env_kwargs, settings.n_envs, settings.seed)
    space_to_json(env.observation_space, "observation")
    space_to_json(env.action_space, "action")
    import gymnasium

    if settings.algorithm == "DQN" and not isinstance(env.action_space, gymnasium.spaces.Discrete):
        raise _bad("algorithm", f"DQN needs a Discrete action space; '{settings.environment}' has {env.action_space}: use PPO or A2C")
    return _algorithm_class(settings.algorithm)("MlpPolicy", env, seed=settings.seed, device="cpu", verbose=0,
                                                policy_kwargs=kwargs_from_json(policy_kwargs) or None,
                                                **scheduled(settings))


#: SB3's defaults, the starting values of a linear schedule
DEFAULT_LEARNING_RATE = {"PPO": 3e-4, "A2C": 7e-4, "DQN": 1e-4}


def linear(start: float) -> Any:
    """RL Zoo's ``lin_<start>``: ``start`` times the share of training left (1 at the start, 0 at the end)."""
    return lambda progress_remaining: progress_remaining * start


def scheduled(settings: TrainSettings) -> dict[str, Any]:
    hyper = dict(settings.hyperparameters)
    if settings.schedule == "linear":
        hyper["learning_rate"] = linear(hyper.get("learning_rate", DEFAULT_LEARNING_RATE[settings.algorithm]))
        if settings.algorithm == "PPO":
            hyper["clip_range"] = linear(hyper.get("clip_range", 0.2))
    return hyper


def _curve_callback() -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeCurve(BaseCallback):  # type: ignore[misc]
        """Finished episodes from the Monitor infos: (episode, timesteps, reward, length). Draws no random numbers."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.rows: list[dict[str, Any]] = []

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                episode = info.get("episode")
                if episode is not None:
                    self.rows.append({"episode": len(self.rows) + 1, "timesteps": int(self.num_timesteps),
                                      "reward": float(episode["r"]), "length": int(episode["l"])})
            return True

    return EpisodeCurve()


def train_policy(settings: TrainSettings, start: RLPolicy | None) -> TrainResult:
    check_settings(settings)
    policy_kwargs = dict(settings.policy_kwargs)
    if start is not None:
        _check_start(settings, start, policy_kwargs)
        policy_kwargs = dict(start.policy_kwargs)
    model = build_algorithm(settings, policy_kwargs)
    begun = 0
    if start is not None:
        model.policy.load_state_dict(start.state)
        if start.checkpoint is not None:
            restore_checkpoint(model, start.checkpoint)
            begun = int(model.num_timesteps)
    from stable_baselines3.common.logger import Logger

    # a logger that writes nowhere: left to itself, SB3 makes an empty folder in the temp dir for every learn()
    model.set_logger(Logger(folder=None, output_formats=[]))
    callback = _curve_callback()
    model.learn(total_timesteps=settings.total_timesteps, callback=callback,
                reset_num_timesteps=start is None or start.checkpoint is None,
                progress_bar=False)
    model.env.close()
    policy = policy_of(model, settings.environment, settings.env_kwargs, settings.keep_checkpoint)
    return TrainResult(policy, callback.rows, begun)


def _check_start(settings: TrainSettings, start: RLPolicy, policy_kwargs: dict[str, Any]) -> None:
    if start.algorithm != settings.algorithm:
        raise _bad("algorithm", f"the connected policy was trained with {start.algorithm}; continue it with "
                                f"algorithm {start.algorithm} (or leave 'algorithm' empty)")
    for name, value in policy_kwargs.items():
        if start.policy_kwargs.get(name) != value:
            shown = {"net_arch": "net_arch", "activation_fn": "activation"}.get(name, name)
            raise _bad(shown, f"the connected policy's network is fixed ({start.policy_kwargs.get(name)!r}); "
                              f"leave '{shown}' empty to continue it")


def policy_of(model: Any, env_id: str, env_kwargs: dict[str, Any], keep_checkpoint: bool) -> RLPolicy:
    """What a trained SB3 model is as an :class:`RLPolicy`: weights, description and (optionally) checkpoint."""
    import torch

    state = {key: value.detach().cpu().clone() for key, value in model.policy.state_dict().items()}
    checkpoint = None
    if keep_checkpoint:
        saved = model.policy.optimizer.state_dict()
        tensors, scalars = {}, {}
        for index, values in saved["state"].items():
            for name, value in values.items():
                key = f"state.{index}.{name}"
                if torch.is_tensor(value):
                    tensors[key] = value.detach().cpu().clone()
                else:
                    scalars[key] = value
        groups = [{key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
                  for group in saved["param_groups"]]
        checkpoint = {"num_timesteps": int(model.num_timesteps), "n_updates": int(model._n_updates),
                      "n_calls": int(getattr(model, "_n_calls", 0)), "groups": groups, "scalars": scalars, "tensors": tensors}
    return RLPolicy(
        algorithm=type(model).__name__,
        policy_kwargs=kwargs_to_json(model.policy_kwargs),
        observation_space=space_to_json(model.observation_space, "observation"),
        action_space=space_to_json(model.action_space, "action"),
        state=state,
        environment={"id": env_id, "kwargs": env_kwargs},
        checkpoint=checkpoint,
    )


def restore_checkpoint(model: Any, checkpoint: dict[str, Any]) -> None:
    """Optimizer state and counters back into a freshly built SB3 model."""
    state: dict[int, dict[str, Any]] = {}
    for source in (checkpoint["tensors"], checkpoint.get("scalars", {})):
        for key, value in source.items():
            _, index, name = key.split(".")
            state.setdefault(int(index), {})[name] = value.clone() if hasattr(value, "clone") else value
    groups = [{key: tuple(value) if key == "betas" else value for key, value in group.items()} for group in checkpoint["groups"]]
    try:
        model.policy.optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as error:
        raise TidalError(f"input 'policy': its checkpoint's optimizer state does not fit this optimizer: {error}") from None
    model.num_timesteps = int(checkpoint.get("num_timesteps", 0))
    model._n_updates = int(checkpoint.get("n_updates", 0))
    if hasattr(model, "_n_calls"):
        model._n_calls = int(checkpoint.get("n_calls", 0))


def evaluate_policy(policy: RLPolicy, env_id: str, env_kwargs: dict[str, Any], *, episodes: int, deterministic: bool,
                    seed: int, max_steps: int) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes on one environment (reset with ``seed`` first); one row per episode."""
    import torch

    env = make_environment(env_id, env_kwargs)
    try:
        for role in ("observation", "action"):
            given = space_to_json(getattr(env, f"{role}_space"), role)
            wanted = getattr(policy, f"{role}_space")
            if (given["type"], given.get("shape", given.get("n"))) != (wanted["type"], wanted.get("shape", wanted.get("n"))):
                raise TidalError(f"parameter 'environment': '{env_id}' has the {role} space {getattr(env, f'{role}_space')}, "
                                 f"but the policy was trained on {wanted['type']} {wanted.get('shape', wanted.get('n'))} "
                                 f"(in '{policy.environment.get('id', '?')}')")
        rows = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # stochastic actions draw from torch's generator
            observation, _ = env.reset(seed=seed)
            for episode in range(1, episodes + 1):
                if episode > 1:
                    observation, _ = env.reset()
                total, length, done, truncated = 0.0, 0, False, False
                while not done and length < max_steps:
                    action = policy.act(np.asarray(observation)[None], deterministic)[0]
                    observation, reward, terminated, truncated, _ = env.step(action)
                    total += float(reward)
                    length += 1
                    done = bool(terminated or truncated)
                rows.append({"episode": episode, "reward": total, "length": length,
                             "truncated": bool(truncated or not done)})
        return rows
    finally:
        env.close()
