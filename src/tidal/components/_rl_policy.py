"""The ``rl_policy`` model flavor: a Stable-Baselines3 policy as safetensors + JSON, never SB3's zip.

::

    model/
      MANIFEST.json          flavor rl_policy, task, signature (one column per observation element)
      policy.safetensors     the payload: the policy network's state_dict
      rl.json                algorithm, policy kwargs (net_arch, activation and optimizer by name),
                             observation and action spaces as JSON, the environment, and the
                             checkpoint's counters (timesteps, updates) and optimizer hyperparameters
      optimizer.safetensors  (a checkpoint only) the optimizer's state tensors

SB3's own ``model.zip`` holds pickled objects (``cloudpickle`` of the spaces, schedules and the
policy class) that run code when loaded; Tidal never loads one. A policy package is rebuilt
instead: the spaces from their JSON, the policy class from the algorithm's name, the activation
and optimizer classes from allow-lists, then the weights are loaded with their keys and shapes
checked against the rebuilt network. A package holding any other file (a pickle, an SB3 zip) is
refused, as is one whose weights do not fit its manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tidal.core._errors import DataError, TidalError
from tidal.models._archive import MANIFEST, PackageRefused, contained
from tidal.models._flavors import register_flavor

FLAVOR = "rl_policy"
SETTINGS = "rl.json"
WEIGHTS = "policy.safetensors"
OPTIMIZER = "optimizer.safetensors"
ALLOWED_FILES = frozenset({MANIFEST, SETTINGS, WEIGHTS, OPTIMIZER})
ALGORITHMS = ("PPO", "A2C", "DQN")
ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")
OPTIMIZERS = ("Adam", "AdamW", "RMSprop", "SGD")
MAX_SETTINGS_BYTES = 16 * 1024 * 1024
#: a policy whose manifest asks for more weights than this is refused before anything is built
MAX_PARAMETERS = 50_000_000


def _activation_class(name: str) -> Any:
    import torch.nn

    return {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU,
            "gelu": torch.nn.GELU, "silu": torch.nn.SiLU}[name]


def _optimizer_class(name: str) -> Any:
    import torch.optim

    return getattr(torch.optim, name)


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (bool, int, float, str)


def kwargs_to_json(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """SB3 policy kwargs with classes replaced by their names (only the allow-listed ones)."""
    out: dict[str, Any] = {}
    for key, value in policy_kwargs.items():
        if key == "activation_fn":
            names = {_activation_class(name): name for name in ACTIVATIONS}
            if value not in names:
                raise TidalError(f"activation {value} cannot be saved; use one of {', '.join(ACTIVATIONS)}")
            out[key] = names[value]
        elif key == "optimizer_class":
            if value.__name__ not in OPTIMIZERS or _optimizer_class(value.__name__) is not value:
                raise TidalError(f"optimizer {value} cannot be saved; use one of {', '.join(OPTIMIZERS)}")
            out[key] = value.__name__
        else:
            out[key] = json.loads(json.dumps(value))
    kwargs_from_json(out, raw=False)  # what a package may hold, checked before it is written
    return out


def kwargs_from_json(data: Any, *, raw: bool = True) -> dict[str, Any]:
    """Checked policy kwargs; with ``raw`` the class names are turned back into classes. ``ValueError`` if malformed."""
    if not isinstance(data, dict):
        raise ValueError("'policy_kwargs' must be an object")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "net_arch":
            layers = [value] if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else None
            if layers is None or (isinstance(value, dict) and set(value) - {"pi", "vf", "qf"}) or not all(
                    isinstance(sizes, list) and len(sizes) <= 16 and all(type(size) is int and 0 < size <= 65536 for size in sizes)
                    for sizes in layers):
                raise ValueError("'net_arch' must be a list of up to 16 layer sizes (1 to 65536), or {pi: [...], vf: [...]}")
            out[key] = value
        elif key == "activation_fn":
            if value not in ACTIVATIONS:
                raise ValueError(f"'activation_fn' must be one of {', '.join(ACTIVATIONS)}, got {value!r}")
            out[key] = _activation_class(value) if raw else value
        elif key == "optimizer_class":
            if value not in OPTIMIZERS:
                raise ValueError(f"'optimizer_class' must be one of {', '.join(OPTIMIZERS)}, got {value!r}")
            out[key] = _optimizer_class(value) if raw else value
        elif key == "optimizer_kwargs":
            if not isinstance(value, dict) or not all(_scalar(item) or (isinstance(item, list) and all(map(_scalar, item)))
                                                      for item in value.values()):
                raise ValueError("'optimizer_kwargs' must map names to numbers")
            out[key] = value
        elif key in ("ortho_init", "log_std_init"):
            if type(value) not in ((bool,) if key == "ortho_init" else (int, float)):
                raise ValueError(f"'{key}' has the wrong type")
            out[key] = value
        else:
            raise ValueError(f"policy kwarg '{key}' is not one a policy package may set "
                             "(net_arch, activation_fn, ortho_init, log_std_init, optimizer_class, optimizer_kwargs)")
    return out


@dataclass
class RLPolicy:
    """A trained policy: what ``rl.train`` returns and an ``rl_policy`` package holds."""

    algorithm: str
    policy_kwargs: dict[str, Any]
    observation_space: dict[str, Any]
    action_space: dict[str, Any]
    state: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    #: counters (``num_timesteps``, ``n_updates``, ``n_calls``), optimizer ``groups`` and ``scalars``,
    #: and ``tensors`` (the optimizer's state tensors): what continuing training needs; None: weights only
    checkpoint: dict[str, Any] | None = None
    _policy: Any = field(default=None, init=False, repr=False, compare=False)

    def spaces(self) -> tuple[Any, Any]:
        from tidal.components._rl_envs import space_from_json

        return space_from_json(self.observation_space, "observation"), space_from_json(self.action_space, "action")

    def policy(self) -> Any:
        """The SB3 policy rebuilt from the JSON description, holding these weights, in eval mode."""
        if self._policy is None:
            module = build_policy(self.algorithm, self.policy_kwargs, *self.spaces())
            module.load_state_dict(self.state)
            module.set_training_mode(False)
            self._policy = module
        return self._policy

    @property
    def discrete(self) -> bool:
        return self.action_space["type"] == "Discrete"

    def observations(self, features: Any) -> np.ndarray:
        """Table rows as a batch of observations in the observation space's shape and dtype."""
        space = self.observation_space
        try:
            matrix = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("a policy takes numeric observation columns only") from None
        width = 1 if space["type"] == "Discrete" else math.prod(space["shape"])
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise DataError(f"a policy takes {width} observation column(s) per row, got shape {list(matrix.shape)}")
        if len(matrix) == 0:
            raise DataError("there are no observations to act on")
        if np.isnan(matrix).any():
            row = int(np.flatnonzero(np.isnan(matrix).any(axis=1))[0])
            raise DataError(f"row {row} has a missing observation value")
        if space["type"] == "Discrete":
            states = matrix[:, 0]
            bad = np.flatnonzero((states != np.round(states)) | (states < space["start"]) | (states >= space["start"] + space["n"]))
            if len(bad):
                raise DataError(f"row {int(bad[0])}: observation {states[bad[0]]:g} is not a state of the environment "
                                f"(whole numbers {space['start']} to {space['start'] + space['n'] - 1})")
            return states.astype(np.int64)
        return matrix.reshape(len(matrix), *space["shape"]).astype(space["dtype"])

    def act(self, observations: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations, exactly as SB3's ``model.predict`` gives them."""
        actions, _ = self.policy().predict(observations, deterministic=deterministic)
        return np.asarray(actions)

    def predict(self, features: Any) -> np.ndarray:
        return self.act(self.observations(features), deterministic=True)

    def predict_proba(self, features: Any) -> np.ndarray:
        """Action probabilities of a PPO/A2C policy over a Discrete action space."""
        import torch

        if not self.discrete or self.algorithm == "DQN":
            raise TidalError(f"a {self.algorithm} policy over a {self.action_space['type']} action space gives no action probabilities")
        policy = self.policy()
        tensor, _ = policy.obs_to_tensor(self.observations(features))
        with torch.no_grad():
            return policy.get_distribution(tensor).distribution.probs.cpu().numpy().astype(np.float64)  # type: ignore[no-any-return]

    def q_values(self, features: Any) -> np.ndarray:
        """A DQN policy's Q-value per action."""
        import torch

        if self.algorithm != "DQN":
            raise TidalError(f"a {self.algorithm} policy has no Q-values; DQN policies do")
        policy = self.policy()
        tensor, _ = policy.obs_to_tensor(self.observations(features))
        with torch.no_grad():
            return policy.q_net(tensor).cpu().numpy().astype(np.float64)  # type: ignore[no-any-return]


def _parameter_estimate(policy_kwargs: dict[str, Any], observation: Any, action: Any) -> int:
    width = int(getattr(observation, "n", 0)) or math.prod(observation.shape)
    outputs = int(getattr(action, "n", 0)) or math.prod(action.shape)
    arch = policy_kwargs.get("net_arch") or [64, 64]
    total = 0
    for sizes in ([arch] if isinstance(arch, list) else list(arch.values())) * 2:
        previous = width
        for size in [*sizes, outputs]:
            total += previous * size + size
            previous = size
    return total


def build_policy(algorithm: str, policy_kwargs: dict[str, Any], observation: Any, action: Any) -> Any:
    """The SB3 policy of ``algorithm`` for these spaces (fresh weights, drawn without touching the global RNG)."""
    import torch

    if algorithm not in ALGORITHMS:
        raise TidalError(f"algorithm '{algorithm}' is not one of {', '.join(ALGORITHMS)}")
    estimate = _parameter_estimate(policy_kwargs, observation, action)
    if estimate > MAX_PARAMETERS:
        raise TidalError(f"the policy would hold about {estimate} weights, more than {MAX_PARAMETERS}")
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy

    policy_class: Any = DQNPolicy if algorithm == "DQN" else ActorCriticPolicy
    with torch.random.fork_rng(devices=[]):
        return policy_class(observation, action, lambda _: 0.0, **kwargs_from_json(policy_kwargs))


# -- the flavor ------------------------------------------------------------------------------------


def tensors_bytes(tensors: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    return save({key: value.detach().cpu().contiguous().clone() for key, value in tensors.items()}, metadata={"format": "pt"})


def _read_tensors(folder: Path, name: str) -> dict[str, Any]:
    from safetensors.torch import load

    path = contained(folder, name, field=SETTINGS)
    if not name.endswith(".safetensors"):
        raise PackageRefused(f"{folder}: '{name}' is not a safetensors file; a policy package holds its tensors only as safetensors")
    if not path.is_file():
        raise PackageRefused(f"{folder}: '{name}' is missing from the package")
    try:
        return dict(load(path.read_bytes()))
    except Exception as error:  # safetensors' own errors: a header or data that is not a tensor file
        raise PackageRefused(f"{folder}: {name} is not a valid safetensors file: {error}") from None


class RLPolicyFlavor:
    """Policies trained by ``rl.train`` (:class:`RLPolicy`): safetensors weights + a JSON description."""

    name = FLAVOR
    libraries = ("stable-baselines3", "gymnasium", "torch", "safetensors")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, RLPolicy)

    def save(self, model: Any, folder: Path) -> str:
        (folder / WEIGHTS).write_bytes(tensors_bytes(model.state))
        settings: dict[str, Any] = {
            "format": 1, "algorithm": model.algorithm, "policy": "MlpPolicy", "policy_kwargs": model.policy_kwargs,
            "observation_space": model.observation_space, "action_space": model.action_space,
            "environment": model.environment, "checkpoint": None,
        }
        if model.checkpoint is not None:
            checkpoint = {key: value for key, value in model.checkpoint.items() if key != "tensors"}
            (folder / OPTIMIZER).write_bytes(tensors_bytes(model.checkpoint["tensors"]))
            settings["checkpoint"] = {**checkpoint, "optimizer": OPTIMIZER}
        (folder / SETTINGS).write_text(json.dumps(settings, indent=1))
        return WEIGHTS

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        _check_files(folder)
        settings = _read_settings(folder)
        state = _read_tensors(folder, payload)
        try:
            module = build_policy(settings["algorithm"], settings["policy_kwargs"],
                                  _space(settings, "observation"), _space(settings, "action"))
        except TidalError as error:
            raise PackageRefused(f"{folder}: {SETTINGS} describes a policy that cannot be built: {error}") from None
        _check_fit(folder, WEIGHTS, {key: (tuple(value.shape), value.dtype) for key, value in module.state_dict().items()}, state)
        checkpoint = settings["checkpoint"]
        if checkpoint is not None:
            tensors = _read_tensors(folder, checkpoint.pop("optimizer"))
            parameters = [parameter for group in module.optimizer.param_groups for parameter in group["params"]]
            _check_optimizer(folder, checkpoint, tensors, parameters)
            checkpoint["tensors"] = tensors
        policy = RLPolicy(settings["algorithm"], settings["policy_kwargs"], settings["observation_space"],
                          settings["action_space"], state, settings["environment"], checkpoint)
        module.load_state_dict(state)
        module.set_training_mode(False)
        policy._policy = module
        return policy


def _space(settings: dict[str, Any], role: str) -> Any:
    from tidal.components._rl_envs import space_from_json

    return space_from_json(settings[f"{role}_space"], role)


def _check_files(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() or relative in ALLOWED_FILES:
            continue
        kind = ("a Stable-Baselines3 zip or other archive" if relative.endswith(".zip")
                else "a pickle" if relative.endswith((".pkl", ".pickle", ".pt", ".pth")) else "a file a policy package never holds")
        raise PackageRefused(f"{folder}: the policy package holds '{relative}' ({kind}); a policy package holds only "
                             f"{', '.join(sorted(ALLOWED_FILES))}. SB3 zips are never loaded: they hold pickled objects "
                             "that run code. Retrain with rl.train, or rebuild the package from the policy's state_dict")


def _read_settings(folder: Path) -> dict[str, Any]:
    path = contained(folder, SETTINGS, field=SETTINGS)
    if not path.is_file():
        raise PackageRefused(f"{folder}: a policy package needs {SETTINGS}, which is missing")
    if path.stat().st_size > MAX_SETTINGS_BYTES:
        raise PackageRefused(f"{folder}: {SETTINGS} is larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is not valid JSON: {error}") from None
    try:
        if not isinstance(settings, dict) or settings.get("format") != 1:
            raise ValueError("it must be an object with 'format': 1")
        if settings.get("algorithm") not in ALGORITHMS:
            raise ValueError(f"'algorithm' must be one of {', '.join(ALGORITHMS)}")
        if settings.get("policy") != "MlpPolicy":
            raise ValueError("'policy' must be 'MlpPolicy'")
        kwargs_from_json(settings.get("policy_kwargs"))
        for role in ("observation", "action"):
            _space(settings, role)
        environment = settings.setdefault("environment", {})
        if not isinstance(environment, dict) or not isinstance(environment.get("id", ""), str):
            raise ValueError("'environment' must be an object with a string 'id'")
        checkpoint = settings.get("checkpoint")
        if checkpoint is not None:
            _check_counters(checkpoint)
    except ValueError as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is malformed: {error}") from None
    return settings  # type: ignore[no-any-return]


def _check_counters(checkpoint: Any) -> None:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("optimizer"), str):
        raise ValueError("'checkpoint' must be null or an object naming its 'optimizer' file")
    for key in ("num_timesteps", "n_updates", "n_calls"):
        if type(checkpoint.get(key, 0)) is not int or checkpoint.get(key, 0) < 0:
            raise ValueError(f"checkpoint '{key}' must be a whole number >= 0")
    groups = checkpoint.get("groups")
    if not isinstance(groups, list) or not all(
            isinstance(group, dict) and all(_scalar(value) or (isinstance(value, list) and all(map(_scalar, value)))
                                            for value in group.values()) for group in groups):
        raise ValueError("checkpoint 'groups' must be a list of objects of numbers (the optimizer's parameter groups)")
    scalars = checkpoint.setdefault("scalars", {})
    if not isinstance(scalars, dict) or not all(type(value) in (int, float) for value in scalars.values()):
        raise ValueError("checkpoint 'scalars' must map names to numbers")


def _check_fit(folder: Path, name: str, expected: dict[str, tuple[tuple[int, ...], Any]], given: dict[str, Any]) -> None:
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = [f"{key} is {list(given[key].shape)} {given[key].dtype}, the policy needs {list(expected[key][0])} {expected[key][1]}"
             for key in sorted(set(expected) & set(given))
             if (tuple(given[key].shape), given[key].dtype) != expected[key]]
    if missing or unexpected or wrong:
        parts = [f"missing {', '.join(missing[:5])}" if missing else "",
                 f"unexpected {', '.join(unexpected[:5])}" if unexpected else "", "; ".join(wrong[:5])]
        raise PackageRefused(f"{folder}: {name} does not fit the policy {SETTINGS} describes: "
                             f"{'; '.join(part for part in parts if part)}")


def _check_optimizer(folder: Path, checkpoint: dict[str, Any], tensors: dict[str, Any], parameters: list[Any]) -> None:
    """Optimizer state tensors are ``state.<index>.<name>``: each index a parameter, each moment of its shape."""
    expected: dict[str, tuple[tuple[int, ...], Any]] = {}
    for key, value in tensors.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit() or int(parts[1]) >= len(parameters):
            raise PackageRefused(f"{folder}: {OPTIMIZER} holds '{key}', not 'state.<parameter index>.<name>'")
        parameter = parameters[int(parts[1])]
        expected[key] = ((), value.dtype) if parts[2] == "step" else (tuple(parameter.shape), parameter.dtype)
    _check_fit(folder, OPTIMIZER, expected, tensors)
    indices = sorted(index for group in checkpoint["groups"] for index in group.get("params", []))
    if indices != list(range(len(parameters))):
        raise PackageRefused(f"{folder}: the checkpoint's optimizer groups name parameters {indices[:10]}, "
                             f"the policy has {len(parameters)}")


register_flavor(RLPolicyFlavor())
