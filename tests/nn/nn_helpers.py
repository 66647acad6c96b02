"""Helpers for the network tests: the example specs, spec builders, inputs, generated classes.

A module of its own (not conftest.py), so that `from nn_helpers import ...` cannot pick up another
folder's conftest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"


def network(layers: list[dict[str, Any]], inputs: dict[str, Any] | None = None, outputs: Any = None,
            **extra: Any) -> dict[str, Any]:
    """A network file as data: ``inputs`` default to ``x: [batch, 8]``, outputs to the last layer."""
    return {
        "tidal-nn": 1,
        "name": extra.pop("name", "test-net"),
        "inputs": inputs or {"x": {"shape": ["batch", 8]}},
        "layers": layers,
        "outputs": outputs or {"y": layers[-1]["id"]},
        **extra,
    }


def spec_of(data: dict[str, Any]):
    from tidal.nn import NetworkSpec

    return NetworkSpec.from_dict(data)


def sized(path: Path, shape: list[Any], **fc: Any):
    """The example network at ``path`` with its input's shape set to ``shape`` and its ``fc`` layer's params
    updated with ``fc`` (ResNet-18 on 32x32 images with 10 classes, say)."""
    from tidal.nn import load_network, parse_network

    data = load_network(path).to_dict()
    data["inputs"][next(iter(data["inputs"]))]["shape"] = shape
    for layer in data["layers"]:
        if layer["id"] == "fc":
            layer["params"].update(fc)
    return parse_network(yaml.safe_dump(data), base_dir=path.parent)


def write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SIZES = {"batch": 2, "seq": 5, "h": 6, "w": 6}


def concrete(shape, sizes=SIZES) -> tuple[int, ...]:
    """An inferred shape with its symbols replaced by ``sizes``."""
    from tidal.nn._dims import substitute

    return tuple(substitute(dim, sizes) for dim in shape)


def make_inputs(spec, torch, sizes=SIZES, seed: int = 0):
    """Random tensors for ``spec``'s inputs (symbols from ``sizes``); integer inputs hold small indices."""
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for tensor in spec.inputs.values():
        shape = [sizes.get(dim, 4) if isinstance(dim, str) else dim for dim in tensor.shape]
        if tensor.dtype.startswith(("int", "uint")):
            tensors.append(torch.randint(0, 2, shape, generator=generator, dtype=getattr(torch, tensor.dtype)))
        else:
            tensors.append(torch.randn(shape, generator=generator, dtype=getattr(torch, tensor.dtype)))
    return tensors


def load_generated(source: str, class_name: str):
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<generated {class_name}>", "exec"), namespace)
    return namespace[class_name]


def sample_spec(kind, all_outputs: bool = True):
    """A one-layer network using ``kind``'s sample (its inputs in0, in1, ...), with every output port as an output."""
    from tidal.nn import NetworkSpec, infer_shapes

    inputs = {f"in{index}": {"shape": list(shape), "dtype": dtype} for index, (shape, dtype) in enumerate(kind.sample.inputs)}
    layer = {"id": "layer", "kind": kind.name, "inputs": list(inputs), "params": dict(kind.sample.params)}
    data = network([layer], inputs=inputs, modules=dict(kind.sample.modules), name=f"sample-{kind.name}")
    spec = NetworkSpec.from_dict(data)
    if all_outputs:
        ports = list(infer_shapes(spec).layers["layer"].outputs)
        data["outputs"] = {f"out_{port}": f"layer.{port}" for port in ports}
        spec = NetworkSpec.from_dict(data)
    return spec
