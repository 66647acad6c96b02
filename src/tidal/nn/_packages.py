"""Networks as model packages: :func:`network_package` wraps a spec (untrained, seeded weights).

A package's features are table columns; they fill the network's one input in order, reshaped
row-major to its per-row shape. An input of more than one dim (images ``[1, 8, 8]``) is also
recorded as the package's ``input_tensor``, so a server takes the same rows as one tensor of
that shape (see :meth:`tidal.models.ModelPackage.signature`).
"""

from __future__ import annotations

from typing import Any

import tidal.nn._flavor  # noqa: F401 - registers the torch flavor
from tidal.core._errors import TidalError
from tidal.models._package import ModelPackage
from tidal.nn._network_model import NetworkModel, input_of, output_of
from tidal.nn._spec import NetworkSpec
from tidal.nn._torch import require_torch


def seeded_module(spec: NetworkSpec, seed: int) -> Any:
    """``build_module(spec)`` with weights drawn from ``seed``, leaving torch's global generator as it was."""
    torch = require_torch()
    from tidal.nn._build import build_module

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_module(spec)


def default_features(name: str, width: int) -> list[str]:
    return [f"{name}_{index}" for index in range(width)]


def input_tensor(model: NetworkModel) -> dict[str, Any] | None:
    """The ``input_tensor`` metadata of a package: only for inputs of more than one dim per row."""
    if len(model.input_shape) < 2:
        return None
    return {"name": model.input_name, "shape": list(model.input_shape)}


def network_package(spec: NetworkSpec, *, features: list[str] | None = None, output: str | None = None,
                    seed: int = 0) -> ModelPackage:
    """An untrained network as a package (task ``other``): shapes checked, weights drawn from ``seed``.

    ``features`` names the table columns that fill the input, in order (default ``<input>_0`` ...);
    ``predict`` gives the chosen output as it is. Train it with ``nn.train`` (or
    :func:`tidal.nn.train_network`).
    """
    name, shape, dtype = input_of(spec)
    chosen = output_of(spec, output)
    module = seeded_module(spec, seed)
    model = NetworkModel(spec=spec, state={key: value.detach().clone() for key, value in module.state_dict().items()},
                         input_name=name, input_shape=shape, input_dtype=dtype, output_name=chosen, head="raw")
    model._module = module.eval()
    columns = list(features) if features else default_features(name, model.width)
    if len(columns) != model.width:
        raise TidalError(f"network '{spec.name}' input '{name}' {list(shape)} takes {model.width} columns; "
                         f"'features' names {len(columns)}")
    if len(set(columns)) != len(columns):
        raise TidalError("'features' names a column twice")
    metadata: dict[str, Any] = {"network": spec.name, "trained": False}
    tensor = input_tensor(model)
    if tensor:
        metadata["input_tensor"] = tensor
    kind = "int64" if dtype == "int64" else "float64"
    return ModelPackage(model=model, task="other", features=columns, flavor="torch",
                        feature_types=dict.fromkeys(columns, kind), params={"seed": seed}, metadata=metadata)
