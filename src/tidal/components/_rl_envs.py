"""Gymnasium environments for ``rl.*``: which ids are known, checking an id up front, and spaces as JSON.

Known environments are Gymnasium's registry: its classic-control and toy-text environments (no
extra dependency) and any environment a plug-in registers. A plug-in registers environments the
way Gymnasium documents (``gymnasium.register(id=..., entry_point=...)`` when its module is
imported); Tidal imports every module named by an entry point of the group
``tidal.environments`` before it looks an id up, so an installed package's environments are known
without an import in the pipeline. Environments of Gymnasium's that need other packages (Box2D,
MuJoCo, Atari) are accepted when those are installed; their absence is reported when the
environment is made.

A policy package describes its observation and action spaces in JSON (:func:`space_to_json`) and
rebuilds them without unpickling anything (:func:`space_from_json`). Box and Discrete spaces are
supported; Dict, Tuple, MultiDiscrete and MultiBinary are refused, naming the space.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import math
from typing import Any

import numpy as np

from tidal.core._errors import TidalError

#: entry-point group: each names a module (or a callable) that registers Gymnasium environments
ENTRY_POINTS = "tidal.environments"
#: Gymnasium's own environments that need nothing beyond gymnasium itself
BUILTIN_PREFIXES = ("gymnasium.envs.classic_control.", "gymnasium.envs.toy_text.")
#: the biggest observation or action a policy package may describe (elements per row)
MAX_SPACE_SIZE = 1_000_000
_plugins_loaded = False
log = logging.getLogger(__name__)


def require_gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise TidalError("reinforcement learning needs gymnasium and stable-baselines3: pip install 'tidal[rl]'") from None
    return gymnasium


def load_environment_plugins() -> None:
    """Import the modules named in the ``tidal.environments`` entry-point group (once)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINTS):
        try:
            loaded = entry.load()
            if callable(loaded) and not hasattr(loaded, "__path__"):
                loaded()
        except Exception as error:  # a broken plug-in must not hide Gymnasium's own environments
            log.warning("environment plug-in %s failed to load: %s", entry.name, error)


def _origin(spec: Any) -> str:
    entry = spec.entry_point
    if isinstance(entry, str):
        return entry
    return f"{getattr(entry, '__module__', '')}:{getattr(entry, '__qualname__', '')}"


def known_environments() -> list[str]:
    """Ids usable without extra packages: Gymnasium's classic control and toy text, then plug-ins' ids."""
    gymnasium = require_gymnasium()
    load_environment_plugins()
    builtin, plugins = [], []
    for env_id, spec in gymnasium.registry.items():
        origin = _origin(spec)
        if origin.startswith(BUILTIN_PREFIXES):
            builtin.append(env_id)
        elif not origin.startswith("gymnasium."):
            plugins.append(env_id)
    return builtin + sorted(plugins)


def check_environment(env_id: str, where: str = "parameter 'environment'") -> None:
    """Refuse an id Gymnasium does not know, listing the ids that are known."""
    gymnasium = require_gymnasium()
    load_environment_plugins()
    if env_id in gymnasium.registry:
        return
    known = known_environments()
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise TidalError(f"{where}: unknown environment '{env_id}'{hint}. Known: {', '.join(known)}. "
                     f"Gymnasium's other environments (Box2D, MuJoCo) need their packages; a plug-in adds its "
                     f"own through the entry-point group '{ENTRY_POINTS}'")


def make_environment(env_id: str, kwargs: dict[str, Any] | None) -> Any:
    """One environment, with the make errors (bad kwargs, missing dependencies) said plainly."""
    gymnasium = require_gymnasium()
    check_environment(env_id)
    try:
        return gymnasium.make(env_id, **(kwargs or {}))
    except TypeError as error:
        raise TidalError(f"parameter 'env_kwargs': environment '{env_id}' does not take {kwargs}: {error}") from None
    except gymnasium.error.Error as error:
        raise TidalError(f"environment '{env_id}' cannot be made: {error}") from None


# -- spaces as JSON --------------------------------------------------------------------------------


def _bound(value: float) -> float | str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def _unbound(value: Any) -> float:
    if value in ("inf", "-inf"):
        return math.inf if value == "inf" else -math.inf
    if type(value) in (int, float):
        return float(value)
    raise ValueError(f"a bound must be a number, 'inf' or '-inf', got {value!r}")


def space_to_json(space: Any, role: str) -> dict[str, Any]:
    """A Box or Discrete space as JSON (bounds as numbers, infinities as ``"inf"``/``"-inf"``)."""
    gymnasium = require_gymnasium()
    spaces = gymnasium.spaces
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": [int(size) for size in space.shape], "dtype": str(space.dtype),
                "low": [_bound(value) for value in np.asarray(space.low, dtype=np.float64).ravel()],
                "high": [_bound(value) for value in np.asarray(space.high, dtype=np.float64).ravel()]}
    raise TidalError(f"the {role} space {space} is not supported: rl.* takes Box and Discrete spaces "
                     "(flatten Dict and Tuple spaces with a Gymnasium wrapper in a plug-in environment)")


def space_from_json(data: Any, role: str) -> Any:
    """The space a JSON description gives; ``ValueError`` naming what is wrong when it is not one."""
    gymnasium = require_gymnasium()
    if not isinstance(data, dict):
        raise ValueError(f"{role} space must be an object")
    kind = data.get("type")
    if kind == "Discrete":
        n, start = data.get("n"), data.get("start", 0)
        if type(n) is not int or not 0 < n <= MAX_SPACE_SIZE or type(start) is not int:
            raise ValueError(f"{role} space: Discrete needs a whole 'n' from 1 to {MAX_SPACE_SIZE} and a whole 'start'")
        return gymnasium.spaces.Discrete(n, start=start)
    if kind == "Box":
        shape, dtype = data.get("shape"), data.get("dtype")
        if not (isinstance(shape, list) and 0 < len(shape) <= 8 and all(type(size) is int and size > 0 for size in shape)):
            raise ValueError(f"{role} space: Box 'shape' must be a list of 1 to 8 positive whole numbers")
        size = math.prod(shape)
        if size > MAX_SPACE_SIZE:
            raise ValueError(f"{role} space: Box of {size} elements is larger than {MAX_SPACE_SIZE}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"{role} space: Box 'dtype' must be float32 or float64, got {dtype!r}")
        bounds = []
        for name in ("low", "high"):
            values = data.get(name)
            if not isinstance(values, list) or len(values) != size:
                raise ValueError(f"{role} space: Box '{name}' must list {size} bounds, one per element")
            bounds.append(np.asarray([_unbound(value) for value in values], dtype=np.float64).reshape(shape))
        return gymnasium.spaces.Box(low=bounds[0].astype(dtype), high=bounds[1].astype(dtype), shape=tuple(shape), dtype=dtype)
    raise ValueError(f"{role} space: type must be Box or Discrete, got {kind!r}")


def observation_columns(space: Any, names: list[str] | None) -> list[str]:
    """The table columns an observation fills: one per Box element (row-major), or one for a Discrete state."""
    gymnasium = require_gymnasium()
    width = 1 if isinstance(space, gymnasium.spaces.Discrete) else math.prod(space.shape)
    if not names:
        return ["observation"] if width == 1 and isinstance(space, gymnasium.spaces.Discrete) else [f"obs_{index}" for index in range(width)]
    if len(names) != width:
        raise TidalError(f"parameter 'observation_columns': the observation has {width} elements, "
                         f"but {len(names)} names are given ({', '.join(names)})")
    if len(set(names)) != len(names):
        raise TidalError("parameter 'observation_columns': the names must be distinct")
    return list(names)
