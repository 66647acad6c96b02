"""Sub-networks written out in place: :func:`inline_modules` and :func:`inline_network`.

A ``module`` layer runs a block under ``modules:`` (or another network file) as one step. Written
out, the block's layers join the top-level graph under ids joined with ``__`` (layer ``conv1`` of
the module layer ``layer1_0`` becomes ``layer1_0__conv1``, nested blocks joining again), the
block's inputs read what the module layer read, and every reader of the module layer reads the
block's output layer instead. The network computes exactly the same: a module layer's weights
are its own (two layers naming one block never share them), and the weights move from the
built module's key ``layer1_0.conv1.weight`` to ``layer1_0__conv1.weight``.

Structured pruning works on the written-out graph: a ResNet's blocks each get widths of their
own, which one shared block under ``modules:`` cannot express.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from tidal.core._errors import TidalError
from tidal.nn._infer import MAX_NESTING, infer_shapes
from tidal.nn._network_model import NetworkModel
from tidal.nn._spec import ID_PATTERN, LayerSpec, NetworkSpec, output_map
from tidal.nn._validate import parse_ref, resolve_sub

#: joins a module layer's id and its block's layer ids
JOIN = "__"
#: the longest layer id a spec takes
MAX_ID = 100
#: the most layers a network file holds
MAX_LAYERS = 20_000


def has_modules(spec: NetworkSpec) -> bool:
    """Whether any top-level layer of ``spec`` is a ``module`` (runs a sub-network)."""
    return any(layer.kind == "module" for layer in spec.layers)


class _Writer:
    """Writes one graph's layers, and its module layers' blocks, into one flat list."""

    def __init__(self) -> None:
        self.layers: list[LayerSpec] = []
        #: flat layer id -> the built module's attribute path of that layer (``layer1_0.conv1``)
        self.paths: dict[str, str] = {}

    def flat_id(self, prefix: str, layer_id: str) -> str:
        name = f"{prefix}{layer_id}"
        if len(name) > MAX_ID or re.match(ID_PATTERN, name) is None:
            raise TidalError(f"layer '{name[:60]}...' written out from its module is longer than {MAX_ID} characters; "
                             "shorten the module layers' ids")
        return name

    def graph(self, layers: list[LayerSpec], outputs: dict[str, str], scope: NetworkSpec, prefix: str, path: str,
              bound: dict[str, str], depth: int = 0) -> dict[str, str]:
        """Write ``layers`` (a graph whose inputs read ``bound``) under ``prefix``; its outputs as flat refs."""
        if depth > MAX_NESTING:  # infer_shapes refuses deeper nesting first; this keeps the recursion bounded
            raise TidalError(f"sub-networks nest more than {MAX_NESTING} deep; they cannot be written out")
        by_id = {layer.id: layer for layer in layers}
        expanded: dict[str, dict[str, str]] = {}

        def resolve(ref: str) -> str:
            target, port = parse_ref(ref)
            if target in bound:
                return bound[target]
            layer = by_id[target]
            if layer.kind != "module":
                return f"{prefix}{ref}"
            if target not in expanded:
                expand(layer)
            found = expanded[target]
            return found[port] if port is not None else next(iter(found.values()))

        def expand(layer: LayerSpec) -> None:
            resolved = resolve_sub(layer, scope)
            if isinstance(resolved, str):
                raise TidalError(f"layer '{prefix}{layer.id}' (module): {resolved}")
            network, sub_scope, _ = resolved
            sub_bound = {name: resolve(ref) for name, ref in zip(network.inputs, layer.inputs, strict=True)}
            expanded[layer.id] = self.graph(list(network.layers), output_map(network.outputs), sub_scope,
                                            f"{prefix}{layer.id}{JOIN}", f"{path}{layer.id}.", sub_bound, depth + 1)

        for layer in layers:
            if layer.kind == "module":
                if layer.id not in expanded:
                    expand(layer)
                continue
            flat = self.flat_id(prefix, layer.id)
            if flat in self.paths:
                raise TidalError(f"layer '{flat}' (from '{self.paths[flat]}') would get the id of layer "
                                 f"'{path}{layer.id}' when sub-networks are written out; rename one of them")
            self.layers.append(LayerSpec.model_validate({
                **layer.model_dump(mode="python", exclude_none=True, by_alias=True),
                "id": flat, "inputs": [resolve(ref) for ref in layer.inputs]}))
            self.paths[flat] = f"{path}{layer.id}"
        return {name: resolve(ref) for name, ref in outputs.items()}


def inline_modules(spec: NetworkSpec) -> tuple[NetworkSpec, dict[str, str]]:
    """``spec`` with every ``module`` layer replaced by its block's layers (see the module notes), and, for each
    layer written out, its flat id -> the built module's path of it (``layer1_0__conv1`` -> ``layer1_0.conv1``).

    A spec without module layers comes back as a copy, its paths the identity.
    """
    infer_shapes(spec).raise_for_issues()
    writer = _Writer()
    outputs = writer.graph(list(spec.layers), spec.output_map, spec, "", "", {name: name for name in spec.inputs})
    if len(writer.layers) > MAX_LAYERS:
        raise TidalError(f"network '{spec.name}' written out has {len(writer.layers):,} layers, more than the "
                         f"{MAX_LAYERS:,} a network file holds; it cannot be written out (or pruned)")
    data = spec.to_dict()
    data.pop("modules", None)
    data["layers"] = [layer.model_dump(mode="python", exclude_none=True, by_alias=True) for layer in writer.layers]
    data["outputs"] = outputs
    if "layout" in data:
        data["layout"] = {key: point for key, point in data["layout"].items() if key in writer.paths}
        if not data["layout"]:
            data.pop("layout")
    flat = NetworkSpec.from_dict(data)
    infer_shapes(flat).raise_for_issues()
    return flat, writer.paths


def inline_state(state: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    """A ``state_dict`` of the network with modules, keyed for the written-out network (``paths`` as
    :func:`inline_modules` returned them)."""
    by_path = {path: flat for flat, path in paths.items()}
    result: dict[str, Any] = {}
    for key, value in state.items():
        owner, _, rest = key, "", ""
        while owner not in by_path and "." in owner:  # the longest layer path the key starts with
            owner, _, tail = owner.rpartition(".")
            rest = f"{tail}.{rest}" if rest else tail
        if owner not in by_path:
            raise TidalError(f"weight '{key}' belongs to no layer of the network; the weights do not match the spec")
        result[f"{by_path[owner]}.{rest}" if rest else by_path[owner]] = value
    return result


def inline_network(model: NetworkModel) -> NetworkModel:
    """``model`` with its sub-networks written out (same answers, weights re-keyed); itself when it has none."""
    if not has_modules(model.spec):
        return model
    spec, paths = inline_modules(model.spec)
    flat = replace(model, spec=spec, state=inline_state(model.state, paths), checkpoints={})
    flat.forget_module()
    return flat
