"""The ``torch`` model flavor: a network spec and safetensors weights, never a pickle.

::

    model/
      MANIFEST.json              flavor torch, task, signature (the feature columns, in order)
      weights.safetensors        the payload: the network's state_dict
      torch.json                 which input the columns fill (and its per-row shape), the output
                                 read, the head, class labels, column scaling, checkpoint files
      network/network.yaml       the spec (tidal-nn: 1), with the sub-network files it names
      checkpoints/epoch_001.safetensors ...   weights after each epoch (nn.train)

Loading reads the spec through the safe YAML loader (sub-network files only from inside
``network/``), infers its shapes, builds the module and loads the weights with ``strict`` keys and
shapes; any mismatch refuses the package, naming the key. Weights and checkpoints in any format
other than safetensors (``torch.save`` files are pickles) are refused unless the operator trusts
the package (``trust=True``, CLI ``--trust``); with trust they load with ``torch.load(...,
weights_only=True)``. torch is imported only when a package is saved or loaded.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from tidal.core._errors import TidalError
from tidal.models._archive import PackageRefused, contained
from tidal.models._export import register_onnx_converter
from tidal.models._flavors import register_flavor
from tidal.models._trust import require_trust
from tidal.nn._network_model import HEADS, NetworkModel
from tidal.nn._spec import NetworkSpec
from tidal.nn._torch import require_torch

SETTINGS = "torch.json"
WEIGHTS = "weights.safetensors"
NETWORK = "network/network.yaml"
SAFE_SUFFIX = ".safetensors"
#: torch.json is a few numbers and names; anything larger is not one
MAX_SETTINGS_BYTES = 64 * 1024 * 1024


def state_bytes(state: dict[str, Any]) -> bytes:
    """A state_dict as safetensors bytes (tensors made contiguous and unshared, as safetensors requires)."""
    from safetensors.torch import save

    return save({key: value.detach().cpu().contiguous().clone() for key, value in state.items()}, metadata={"format": "pt"})


def state_from_bytes(data: bytes) -> dict[str, Any]:
    from safetensors.torch import load

    return dict(load(data))


def write_network(spec: NetworkSpec, folder: Path, name: str = "network.yaml") -> None:
    """``spec`` as ``folder/name``, with every sub-network file it names at the same relative path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(spec.to_yaml(), encoding="utf-8")
    root = folder.resolve()
    for written, sub in spec.files.items():
        target = (folder / written).resolve()
        if not target.is_relative_to(root):  # resolve_files refused these when the spec was read
            raise TidalError(f"network '{spec.name}': sub-network file '{written}' lies outside the spec's folder")
        write_network(sub, target.parent, target.name)


class TorchFlavor:
    """Networks built with :mod:`tidal.nn` (:class:`NetworkModel`): spec YAML + safetensors weights."""

    name = "torch"
    libraries = ("torch", "safetensors", "numpy")

    def accepts(self, model: Any) -> bool:
        return isinstance(model, NetworkModel)

    def save(self, model: Any, folder: Path) -> str:
        require_torch()
        write_network(model.spec, folder / "network")
        (folder / WEIGHTS).write_bytes(state_bytes(model.state))
        names = sorted(model.checkpoints)
        for name in names:
            path = folder / "checkpoints" / PurePosixPath(name).name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(model.checkpoints[name])
        settings = {
            "format": 1,
            "network": NETWORK,
            "input": {"name": model.input_name, "shape": list(model.input_shape), "dtype": model.input_dtype},
            "output": model.output_name,
            "head": model.head,
            "classes": model.classes,
            "scaling": None if model.mean is None else {"mean": model.mean.tolist(), "std": model.std.tolist()},
            "target_scale": None if model.target_scale is None else [float(value) for value in model.target_scale],
            "checkpoints": [f"checkpoints/{PurePosixPath(name).name}" for name in names],
        }
        (folder / SETTINGS).write_text(json.dumps(settings, indent=1))
        return WEIGHTS

    def load(self, folder: Path, payload: str, trust: bool) -> Any:
        require_torch()
        from tidal.nn._spec import load_network

        settings = _read_settings(folder)
        try:
            spec = load_network(contained(folder, settings["network"], field=f"{SETTINGS} network"))
        except TidalError as error:
            raise PackageRefused(f"{folder}: the package's network cannot be read: {error}") from None
        model = NetworkModel(
            spec=spec,
            state=read_weights(folder, payload, trust),
            input_name=settings["input"]["name"],
            input_shape=tuple(settings["input"]["shape"]),
            input_dtype=settings["input"]["dtype"],
            output_name=settings["output"],
            head=settings["head"],
            classes=settings["classes"],
            mean=None if settings["scaling"] is None else np.asarray(settings["scaling"]["mean"], dtype=np.float64),
            std=None if settings["scaling"] is None else np.asarray(settings["scaling"]["std"], dtype=np.float64),
            target_scale=None if settings["target_scale"] is None else (settings["target_scale"][0], settings["target_scale"][1]),
        )
        for name in settings["checkpoints"]:
            path = contained(folder, name, field=f"{SETTINGS} checkpoints")
            if not path.name.endswith(SAFE_SUFFIX):
                require_trust(trust, f"a PyTorch checkpoint that is not safetensors ({path.name}: it is unpickled)", folder)
            model.checkpoints[path.name] = path.read_bytes()
        _check_fit(model, folder)
        return model


def read_weights(folder: Path, payload: str, trust: bool) -> dict[str, Any]:
    """The weights file: safetensors always; anything else (a pickle) only with trust, through ``weights_only``."""
    torch = require_torch()
    path = contained(folder, payload, field="payload")
    if path.name.endswith(SAFE_SUFFIX):
        try:
            return state_from_bytes(path.read_bytes())
        except Exception as error:  # safetensors' own errors: a header or data that is not a tensor file
            raise PackageRefused(f"{folder}: {path.name} is not a valid safetensors file: {error}") from None
    require_trust(trust, f"PyTorch weights that are not safetensors ({path.name}: loading unpickles it)", folder)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's own errors for files that are not (safe) checkpoints
        raise PackageRefused(f"{folder}: {path.name} cannot be read as PyTorch weights: {error}") from None
    if not isinstance(loaded, dict) or not all(isinstance(key, str) and isinstance(value, torch.Tensor)
                                               for key, value in loaded.items()):
        raise PackageRefused(f"{folder}: {path.name} does not hold a state_dict (names -> tensors)")
    return loaded


def _read_settings(folder: Path) -> dict[str, Any]:
    path = contained(folder, SETTINGS, field=SETTINGS)
    if not path.is_file():
        raise PackageRefused(f"{folder}: a torch package needs {SETTINGS}, which is missing")
    if path.stat().st_size > MAX_SETTINGS_BYTES:
        raise PackageRefused(f"{folder}: {SETTINGS} is larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(f"{folder}: {SETTINGS} is not valid JSON: {error}") from None
    problems = _settings_problems(settings)
    if problems:
        raise PackageRefused(f"{folder}: {SETTINGS} is malformed: {'; '.join(problems)}")
    return settings  # type: ignore[no-any-return]


def _settings_problems(settings: Any) -> list[str]:
    if not isinstance(settings, dict):
        return ["it must be an object"]
    problems = []
    shape = (settings.get("input") or {}).get("shape") if isinstance(settings.get("input"), dict) else None
    checks = {
        "network": isinstance(settings.get("network"), str),
        "input": isinstance(settings.get("input"), dict) and isinstance(settings["input"].get("name"), str)
        and settings["input"].get("dtype") in ("float32", "int64"),
        "input.shape": isinstance(shape, list) and 0 < len(shape) <= 16
        and all(type(size) is int and 0 < size <= 2**31 for size in shape),
        "output": isinstance(settings.get("output"), str),
        "head": settings.get("head") in HEADS,
        "classes": settings.get("classes") is None or (isinstance(settings["classes"], list) and all(
            isinstance(value, (str, int, float, bool)) for value in settings["classes"])),
        "checkpoints": isinstance(settings.get("checkpoints", []), list)
        and all(isinstance(name, str) for name in settings.get("checkpoints", [])),
    }
    problems = [f"'{key}' is missing or of the wrong type" for key, good in checks.items() if not good]
    scaling = settings.get("scaling")
    if scaling is not None and not (isinstance(scaling, dict) and all(
            isinstance(scaling.get(key), list) and all(type(value) in (int, float) for value in scaling[key])
            for key in ("mean", "std"))):
        problems.append("'scaling' must be null or {mean: [numbers], std: [numbers]}")
    target_scale = settings.setdefault("target_scale", None)
    if target_scale is not None and not (isinstance(target_scale, list) and len(target_scale) == 2
                                         and all(type(value) in (int, float) for value in target_scale)):
        problems.append("'target_scale' must be null or [mean, std]")
    if not problems:
        settings.setdefault("checkpoints", [])
        width = int(np.prod(shape or [1]))
        if scaling is not None and not (len(scaling["mean"]) == len(scaling["std"]) == width):
            problems.append(f"'scaling' must give {width} means and standard deviations (one per column)")
        if settings["head"] in ("softmax", "sigmoid") and not settings["classes"]:
            problems.append(f"a '{settings['head']}' head needs 'classes'")
    return problems


def _check_fit(model: NetworkModel, folder: Path) -> None:
    """The spec's input and output are those the settings name, and the weights are exactly the module's."""
    from tidal.nn._network_model import input_of, output_of

    try:
        name, shape, dtype = input_of(model.spec)
        output_of(model.spec, model.output_name)
        from tidal.nn._build import build_module

        module = build_module(model.spec)
    except TidalError as error:  # NetworkError included: the packaged spec does not check
        raise PackageRefused(f"{folder}: the package's network does not check: {error}") from None
    if (name, shape, dtype) != (model.input_name, model.input_shape, model.input_dtype):
        raise PackageRefused(f"{folder}: {SETTINGS} says input '{model.input_name}' {list(model.input_shape)} "
                             f"{model.input_dtype}, but the network's input is '{name}' {list(shape)} {dtype}")
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    given = {key: tuple(value.shape) for key, value in model.state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(key for key in set(expected) & set(given) if expected[key] != given[key])
    if missing or unexpected or wrong:
        parts = [f"missing {', '.join(missing[:5])}" if missing else "",
                 f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
                 ", ".join(f"{key} is {list(given[key])}, the network needs {list(expected[key])}" for key in wrong[:5])]
        raise PackageRefused(f"{folder}: the weights do not fit the network: {'; '.join(part for part in parts if part)}")
    module.load_state_dict(model.state)
    model._module = module.eval()


register_flavor(TorchFlavor())
register_onnx_converter("torch", "tidal.nn._onnx")
