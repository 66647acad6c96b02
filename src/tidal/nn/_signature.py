"""Do two specs describe the same network? :func:`same_structure` compares graphs, not text.

Each layer gets a digest of its kind, its resolved params (defaults filled in, inferred sizes
included, ``3`` and ``[3, 3]`` alike) and the digests of its inputs, in port order; inputs
count by position, dtype and rank. Two specs have the same structure when their layers'
digests form the same multiset and their outputs the same list: layer ids, file order, YAML
spelling, blocks versus files, and whether ``attn(x)`` or ``attn(x, x, x)`` was written do not
matter. Sub-networks are compared by structure, not by name.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tidal.nn._infer import NetworkShapes, infer_shapes
from tidal.nn._kind import LayerKind
from tidal.nn._spec import NetworkSpec

Structure = tuple[tuple[str, ...], tuple[str, ...]]


def _canonical(value: Any) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        items = [_canonical(item) for item in value]
        return items[0] if items and all(item == items[0] for item in items) and isinstance(items[0], int) else items
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _params(kind: LayerKind, params: dict[str, Any]) -> str:
    shown = {}
    for param in kind.params:
        value = params.get(param.name)
        if param.name == "stride" and param.type == "optional_ints" and value is None:
            value = params.get("kernel_size")  # pools: no stride means a stride of the kernel size
        shown[param.name] = _canonical(value)
    return repr(sorted(shown.items()))


def network_structure(shapes: NetworkShapes) -> Structure:
    """The structure of an inferred network (see the module docstring)."""
    digests: dict[str, str] = {}
    for position, (name, tensor) in enumerate(shapes.inputs.items()):
        digests[name] = f"input{position}:{tensor.dtype}:{tensor.rank}"
    layers: list[str] = []
    for step in shapes.plan.steps:
        layer = shapes.layers[step.layer.id]
        kind = step.kind
        assert kind is not None
        inputs = [digests[ref] for _, ref, _ in layer.inputs]
        if not kind.nested:
            by_port = dict(zip(kind.port_names(len(inputs)), inputs, strict=True))
            for port in kind.inputs[len(inputs):]:
                if port.default in by_port:
                    by_port[port.name] = by_port[port.default]
                    inputs.append(by_port[port.name])
        inner = repr(network_structure(layer.module)) if layer.module is not None else ""
        params = "" if kind.nested else _params(kind, layer.params)
        digest = hashlib.sha256(f"{kind.name}|{params}|{inputs}|{inner}".encode()).hexdigest()[:20]
        layers.append(digest)
        for index, output in enumerate(layer.outputs):
            digests[f"{layer.id}.{output}"] = f"{digest}.{index}"
            if index == 0:
                digests[layer.id] = f"{digest}.0"
    outputs = []
    for target, output_port in shapes.plan.outputs.values():
        outputs.append(digests[target if output_port is None else f"{target}.{output_port}"])
    return tuple(sorted(layers)), tuple(outputs)


def same_structure(first: NetworkSpec, second: NetworkSpec) -> bool:
    """Whether two specs are the same graph of layers (isomorphic, params and port order included)."""
    return network_structure(infer_shapes(first)) == network_structure(infer_shapes(second))
