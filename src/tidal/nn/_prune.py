"""Structured pruning on the layer graph: fewer output channels in convolutions and linear layers.

Pruning a layer's output channel removes a whole row of its weight, and with it the matching input
column of every layer that reads that channel: the channels form a *group* across the graph
(Torch-Pruning calls this the dependency graph). Tidal's networks are specs with inferred shapes,
so the groups are read off the spec:

* a **prunable** layer is a ``conv1d`` or ``conv2d`` (``groups: 1``) or a ``linear`` on a
  ``[batch, features]`` tensor;
* its output may pass, unchanged in channel order, through **channel-wise** layers (activations,
  dropout, pooling, batch normalization, and depthwise convolutions, whose own per-channel
  parameters are cut to match);
* and must end in **consumers** that take it as input channels: a convolution (``groups: 1``), a
  linear layer on ``[batch, features]``, or a ``flatten`` of ``[batch, channels, ...]`` followed by
  element-wise layers and one linear layer (each channel is then a block of its input features).

A residual ``add`` (of tensors of the same rank) ties channels together: channel *c* of the sum is
channel *c* of each input, so every prunable layer behind an input of the add (through channel-wise
layers or other adds) must keep the same channels. Those layers are the group's **members**; the
channels kept are chosen on the sum of the members' L1 norms (as Torch-Pruning sums a group's
importance), every member is cut alike, and the sum's readers are followed like a producer's. A
``multiply`` of two tensors with the same channels ties them the same way (a squeeze-and-excitation
gate: the gate's last convolution joins the group). A group whose add also takes the network
input, a grouped convolution or any other layer, or broadcasts over channels, is not pruned, and
the plan names it.

A ``concat`` on the channel dim places a layer's channels at an offset among the concatenated
ones: the concat and the channel-wise layers after it (a DenseNet's batch normalization) pass them
on at that offset, and the readers of the concatenated tensor lose only the columns of the removed
channels. Several groups may feed one concat, each cut on its own; a residual ``add`` after a
concat is not followed.

A layer whose channels reach anything else (a network output, attention, reshapes) is not pruned;
:func:`prunable_layers` says which layers can be and :func:`pruning_plan` says why each
other one cannot.

Sub-networks (``module`` layers, as ResNet-18's blocks) are written out first
(:func:`tidal.nn.inline_modules`): the plan and the pruned network then name their layers
``block__layer`` (``layer1_0__conv1``), and each block gets widths of its own.

Which channels go: those with the smallest L1 norm of their weights (Li et al., 2017), a plain and
data-free rule; the network is then fine-tuned (``train_network`` on the pruned package) to win
back what was lost. The result is a new spec, still editable, and its sliced weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tidal.core._errors import TidalError
from tidal.nn._infer import NetworkShapes, infer_shapes
from tidal.nn._inline import has_modules, inline_modules, inline_network
from tidal.nn._network_model import NetworkModel
from tidal.nn._spec import NetworkSpec

PRODUCERS = ("conv1d", "conv2d", "linear")
#: layers that keep each channel in its place: their output channel c is made from input channel c alone
CHANNEL_WISE = frozenset({
    "relu", "relu6", "gelu", "elu", "leaky_relu", "silu", "mish", "sigmoid", "tanh", "hardswish", "hardsigmoid",
    "softplus", "dropout", "identity", "maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d", "adaptive_avgpool1d",
    "adaptive_avgpool2d", "adaptive_maxpool2d", "batchnorm1d", "batchnorm2d"})
#: element-wise layers allowed between a flatten and the linear layer that reads it
ELEMENT_WISE = frozenset({"relu", "relu6", "gelu", "elu", "leaky_relu", "silu", "mish", "sigmoid", "tanh",
                          "hardswish", "hardsigmoid", "softplus", "dropout", "identity"})
NORMS = ("batchnorm1d", "batchnorm2d")
#: element-wise layers of two inputs that tie their channels together: a residual add, a squeeze-and-excitation
#: gate multiplied onto its input
JOINS = ("add", "multiply")


@dataclass
class Group:
    """One prunable layer, the channel-wise layers its output passes through, and the layers reading it.

    ``consumers``: layer id -> how many input features each of this layer's channels is (1 for a
    convolution or linear layer reading it directly; the spatial size for a linear layer after a flatten).
    """

    layer: str
    channels: int
    passes: list[str] = field(default_factory=list)
    consumers: dict[str, int] = field(default_factory=dict)
    #: the layers whose output channels are cut together (the layer, and those added to its output)
    members: list[str] = field(default_factory=list)
    #: the joins that tie the members' channels (residual adds, squeeze-and-excitation multiplies)
    adds: list[str] = field(default_factory=list)
    #: the depthwise convolutions among ``passes``: their own filters are cut with the group's channels
    depthwise: list[str] = field(default_factory=list)
    #: layer id (a pass or a consumer) -> where the group's channels start among its input channels, when a
    #: ``concat`` put them after others (absent: 0)
    offsets: dict[str, int] = field(default_factory=dict)


def _readers(spec: NetworkSpec) -> dict[str, list[str]]:
    readers: dict[str, list[str]] = {}
    for layer in spec.layers:
        for reference in layer.inputs:
            readers.setdefault(reference.split(".")[0], []).append(layer.id)
    return readers


def _rank(shapes: NetworkShapes, layer: str) -> int | None:
    output = shapes.layers[layer].output
    return len(output.shape) if output is not None and output.shape is not None else None


def _producer_problem(layer_id: str, shapes: NetworkShapes) -> str:
    """Why the convolution or linear layer ``layer_id`` cannot have its output channels cut, or ``""``."""
    layer = shapes.layers[layer_id]
    if layer.kind == "linear":
        if _rank(shapes, layer_id) != 2:
            return "a linear layer is pruned only on [batch, features] (its features are the last of more dims here)"
        return ""
    if int(layer.params.get("groups", 1)) != 1:
        return f"a grouped convolution (groups: {layer.params['groups']}) ties its channels to its input's"
    return ""


def _depthwise(layer_id: str, shapes: NetworkShapes) -> bool:
    """Whether ``layer_id`` is a depthwise convolution (one filter per channel: ``groups`` equal to its input and
    output channels), which keeps each channel in its place like a channel-wise layer."""
    layer = shapes.layers[layer_id]
    if layer.kind not in ("conv1d", "conv2d") or len(layer.inputs) != 1:
        return False
    groups = int(layer.params.get("groups", 1))
    source = layer.inputs[0][2].shape
    return groups > 1 and int(layer.params.get("out_channels", 0)) == groups and len(source) > 1 and source[1] == groups


def _width_of(layer_id: str, shapes: NetworkShapes) -> int:
    params = shapes.layers[layer_id].params
    return int(params["out_features"] if shapes.layers[layer_id].kind == "linear" else params["out_channels"])


def _group(layer_id: str, spec: NetworkSpec, shapes: NetworkShapes, readers: dict[str, list[str]],
           outputs: set[str]) -> Group | str:
    """The group of ``layer_id``, or why it cannot be pruned.

    A residual ``add`` couples channels: the layers whose outputs are added must keep the same channels,
    so each producer found behind another input of the add (through channel-wise layers, or another
    add) joins the group as a member, and the sum's readers are followed like the producer's own.
    """
    layers = shapes.layers
    problem = _producer_problem(layer_id, shapes)
    if problem:
        return problem
    channels = _width_of(layer_id, shapes)
    if channels < 2:
        return "it has a single output channel"
    rank = _rank(shapes, layer_id)
    group = Group(layer_id, channels, members=[layer_id])
    seen = {layer_id}
    #: (layer, offset of the group's channels in its output, whether a concat was passed)
    pending: list[tuple[str, int, bool]] = [(layer_id, 0, False)]
    while pending:
        current, offset, concatenated = pending.pop()
        if current in outputs:
            return f"its channels reach the network output through '{current}'"
        for reader in readers.get(current, []):
            reader_kind = layers[reader].kind
            if reader_kind == "concat":
                placed = _concat_offset(current, reader, shapes, rank)
                if isinstance(placed, str):
                    return placed
                if reader in seen:
                    return f"its channels reach '{reader}' (concat) twice"
                seen.add(reader)
                group.passes.append(reader)
                pending.append((reader, offset + placed, True))
                continue
            if reader in seen:
                continue
            if offset:
                group.offsets[reader] = offset
            depthwise = _depthwise(reader, shapes)
            if (reader_kind in CHANNEL_WISE and len(layers[reader].inputs) == 1) or depthwise:
                if reader_kind not in NORMS and _rank(shapes, reader) != rank:
                    return f"'{reader}' ({reader_kind}) changes the tensor's rank"
                seen.add(reader)
                group.passes.append(reader)
                if depthwise:
                    group.depthwise.append(reader)
                pending.append((reader, offset, concatenated))
            elif reader_kind in PRODUCERS and len(layers[reader].inputs) == 1:
                if reader_kind == "linear" and _rank(shapes, reader) != 2:
                    return f"'{reader}' (linear) reads the channels as the last of more dims"
                if reader_kind != "linear" and int(layers[reader].params.get("groups", 1)) != 1:
                    return f"'{reader}' is a grouped convolution"
                group.consumers[reader] = 1
            elif reader_kind == "flatten" and rank is not None and rank >= 3:
                found = _through_flatten(reader, layers, readers, outputs)
                if isinstance(found, str):
                    return found
                group.consumers[found[0]] = found[1]
                if offset:
                    group.offsets[found[0]] = offset
                group.passes.extend(found[2])
                seen.update(found[2])
            elif reader_kind in JOINS and concatenated:
                return f"its channels reach '{reader}' ({reader_kind}) after a concat, which pruning does not follow"
            elif reader_kind in JOINS and _rank(shapes, reader) == rank:
                joined = _join(reader, shapes, group, seen)
                if joined:
                    return joined
                pending.append((reader, 0, False))
                for member in group.members:  # a member's output may have readers of its own besides the add
                    if member not in seen:
                        seen.add(member)
                        pending.append((member, 0, False))
            else:
                return f"its channels reach '{reader}' ({reader_kind}), which pruning does not follow"
    if not group.consumers:
        return "no layer reads its channels as input channels"
    group.members.sort(key=[layer.id for layer in spec.layers].index)
    group.layer = group.members[0]
    return group


def _concat_offset(source: str, concat: str, shapes: NetworkShapes, rank: int | None) -> int | str:
    """Where ``source``'s channels start in the output of ``concat``, or why pruning does not follow it."""
    inputs = shapes.layers[concat].inputs
    dim = int(shapes.layers[concat].params.get("dim", 0))
    if rank is None or dim % rank != 1:
        return f"its channels reach '{concat}' (concat), which joins on dim {dim}, not the channels (dim 1)"
    places = [index for index, item in enumerate(inputs) if _source(item) == source]
    if len(places) != 1:
        return f"its channels reach '{concat}' (concat) {len(places)} times"
    offset = 0
    for item in inputs[:places[0]]:
        size = item[2].shape[1]
        if not isinstance(size, int):
            return f"'{concat}' (concat) joins '{_source(item)}' of unknown channels before it"
        offset += size
    return offset


def _source(incoming: tuple[str, str, Any]) -> str:
    """The layer (or network input) an inferred input ``(port, reference, type)`` comes from."""
    return incoming[1].split(".")[0]


def _join(add: str, shapes: NetworkShapes, group: Group, seen: set[str]) -> str:
    """Put the join ``add`` (a residual add, or a multiply of equal channels) in ``group``, with every producer
    behind its inputs (through channel-wise layers, depthwise convolutions or other joins) as a member; why it
    cannot be, or ``""``. The members' own readers are followed afterwards."""
    layers = shapes.layers
    seen.add(add)
    group.adds.append(add)
    verb = "added" if layers[add].kind == "add" else "multiplied"
    widths = {item[2].shape[1] if len(item[2].shape) > 1 else None for item in layers[add].inputs}
    if len(widths) != 1:
        return (f"'{add}' ({layers[add].kind}) joins inputs of {' and '.join(sorted(map(str, widths)))} channels "
                "(broadcast over channels), which pruning does not follow")
    behind, visited = [_source(item) for item in layers[add].inputs], set()
    while behind:
        source = behind.pop()
        if source in visited or source in group.members:
            continue
        visited.add(source)
        if source not in layers:
            return f"its channels are {verb} in '{add}' to the network input '{source}', which pruning cannot cut"
        kind = layers[source].kind
        if _depthwise(source, shapes) or (kind in CHANNEL_WISE and len(layers[source].inputs) == 1):
            behind.append(_source(layers[source].inputs[0]))
        elif kind in PRODUCERS and len(layers[source].inputs) == 1:
            problem = _producer_problem(source, shapes)
            if problem:
                return f"its channels are {verb} in '{add}' to those of '{source}', and {problem}"
            group.members.append(source)
        elif kind in JOINS:
            behind.extend(_source(item) for item in layers[source].inputs)
        else:
            return (f"its channels are {verb} in '{add}' to those of '{source}' ({kind}), which pruning cannot cut "
                    "to match")
    return ""


def _through_flatten(flatten: str, layers: dict[str, Any], readers: dict[str, list[str]],
                     outputs: set[str]) -> tuple[str, int, list[str]] | str:
    """The one linear layer a ``flatten`` of ``[batch, channels, ...]`` feeds (through element-wise layers)."""
    params = layers[flatten].params
    if int(params.get("start_dim", 1)) != 1 or int(params.get("end_dim", -1)) != -1:
        return f"'{flatten}' does not flatten every dim after the batch"
    source = layers[flatten].inputs[0][2].shape
    if any(not isinstance(size, int) for size in source[2:]):
        return f"'{flatten}' flattens dims of unknown size"
    block = math.prod(int(size) for size in source[2:])
    passed, current = [flatten], flatten
    while True:
        if current in outputs:
            return f"its channels reach the network output through '{current}'"
        found = readers.get(current, [])
        if len(found) != 1:
            return f"'{current}' after '{flatten}' is read by {len(found)} layers; pruning follows one linear layer"
        reader = found[0]
        kind = layers[reader].kind
        if kind == "linear" and len(layers[reader].inputs) == 1:
            return reader, block, passed
        if kind not in ELEMENT_WISE:
            return f"its channels reach '{reader}' ({kind}) after '{flatten}', which pruning does not follow"
        passed.append(reader)
        current = reader


def pruning_plan(spec: NetworkSpec) -> dict[str, Group | str]:
    """Every convolution and linear layer: its :class:`Group`, or why it is not prunable. Layers inside
    sub-networks are named as written out (``layer1_0__conv1``)."""
    if has_modules(spec):
        spec = inline_modules(spec)[0]
    shapes = infer_shapes(spec)
    shapes.raise_for_issues()
    readers = _readers(spec)
    outputs = {reference.split(".")[0] for reference in spec.output_map.values()}
    return {layer.id: _group(layer.id, spec, shapes, readers, outputs)
            for layer in spec.layers if layer.kind in PRODUCERS}


def prunable_layers(spec: NetworkSpec) -> list[str]:
    """The layers :func:`prune_network` can prune, in spec order."""
    return [name for name, group in pruning_plan(spec).items() if isinstance(group, Group)]


def _kept(weights: list[np.ndarray], count: int) -> np.ndarray:
    """The ``count`` output channels with the largest L1 norm, summed over the layers cut together (as
    Torch-Pruning sums a group's importance), in their original order."""
    norms = sum(np.abs(weight.reshape(weight.shape[0], -1)).sum(axis=1) for weight in weights)
    order = np.argsort(-norms, kind="stable")[:count]
    return np.sort(order)


def kept_count(channels: int, ratio: float) -> int:
    """How many of ``channels`` stay when ``ratio`` of them are pruned (at least one)."""
    return max(1, int(round(channels * (1.0 - ratio))))


def prune_network(model: NetworkModel, ratio: float, layers: list[str] | None = None) -> tuple[NetworkModel, dict[str, list[int]]]:
    """A copy of ``model`` with ``ratio`` of the output channels of ``layers`` (default: every prunable layer)
    removed, and the channels kept per pruned layer.

    The result has a new spec (the pruned layers' widths, and any widths the spec states for the layers
    that read them, changed; sub-networks written out) and sliced weights; its head, classes and column
    scaling are the model's.
    """
    if not 0 < ratio < 1:
        raise TidalError(f"pruning ratio must be above 0 and below 1 (the share of channels removed), got {ratio}")
    model = inline_network(model)
    plan = pruning_plan(model.spec)
    chosen = list(layers) if layers is not None else [name for name, group in plan.items() if isinstance(group, Group)]
    problems = []
    for name in chosen:
        if name not in plan:
            problems.append(f"layer '{name}' is not a convolution or linear layer of network '{model.spec.name}' "
                            f"(those are: {', '.join(plan) or 'none'})")
        elif isinstance(plan[name], str):
            problems.append(f"layer '{name}' cannot be pruned: {plan[name]}")
    if problems:
        raise TidalError("; ".join(problems))
    if not chosen:
        reasons = "; ".join(f"{name}: {why}" for name, why in plan.items()) or "it has no convolution or linear layer"
        raise TidalError(f"network '{model.spec.name}' has no prunable layer ({reasons})")
    state = {key: value.detach().clone() if hasattr(value, "detach") else value for key, value in model.state.items()}
    groups: list[Group] = []
    for name in chosen:  # the members of a residual group are one group, whichever of them was named
        group = plan[name]
        assert isinstance(group, Group)
        if all(group.members != other.members for other in groups):
            groups.append(group)
    kept: dict[str, list[int]] = {}
    # what each consumer and each norm loses, on its input side: after a concat, several groups share them
    removed_inputs: dict[str, set[int]] = {}
    removed_norms: dict[str, set[int]] = {}
    for group in groups:
        weights = [state[f"{member}.weight"].numpy() for member in group.members]
        indices = _kept(weights, kept_count(group.channels, ratio))
        for member in group.members:
            kept[member] = indices.tolist()
        gone = np.setdiff1d(np.arange(group.channels), indices)
        for consumer, block in group.consumers.items():
            columns = (group.offsets.get(consumer, 0) + gone)[:, None] * block + np.arange(block)[None, :]
            removed_inputs.setdefault(consumer, set()).update(columns.reshape(-1).tolist())
        for passed in group.passes:
            removed_norms.setdefault(passed, set()).update((group.offsets.get(passed, 0) + gone).tolist())
    depthwise = {layer for group in groups for layer in group.depthwise}
    spec = model.spec.model_copy(deep=True)
    by_id = {layer.id: layer for layer in spec.layers}
    for group in groups:
        indices = np.asarray(kept[group.layer])
        for member in group.members:
            _slice(state, member, indices, axis=0)
            layer = by_id[member]
            layer.params["out_features" if layer.kind == "linear" else "out_channels"] = len(indices)
    for passed, gone_channels in removed_norms.items():
        if passed in depthwise:
            kept_channels = np.setdiff1d(np.arange(int(state[f"{passed}.weight"].shape[0])), sorted(gone_channels))
            _slice(state, passed, kept_channels, axis=0)
            for key in ("out_channels", "groups", "in_channels"):
                if key in by_id[passed].params:
                    by_id[passed].params[key] = len(kept_channels)
            continue
        if by_id[passed].kind not in NORMS:
            continue
        held = [state[f"{passed}.{name}"] for name in ("running_mean", "weight") if f"{passed}.{name}" in state]
        if not held:  # no per-channel state: only the width the spec states, if any, changes
            if "num_features" in by_id[passed].params:
                by_id[passed].params["num_features"] -= len(gone_channels)
            continue
        width = int(held[0].shape[0])
        keep = _index(np.setdiff1d(np.arange(width), sorted(gone_channels)))
        for name in ("weight", "bias", "running_mean", "running_var"):
            if f"{passed}.{name}" in state:
                state[f"{passed}.{name}"] = state[f"{passed}.{name}"].index_select(0, keep).clone()
        if "num_features" in by_id[passed].params:
            by_id[passed].params["num_features"] = len(keep)
    for consumer, gone_columns in removed_inputs.items():
        weight = state[f"{consumer}.weight"]
        keep = _index(np.setdiff1d(np.arange(weight.shape[1]), sorted(gone_columns)))
        state[f"{consumer}.weight"] = weight.index_select(1, keep).clone()
        layer = by_id[consumer]
        key = "in_features" if layer.kind == "linear" else "in_channels"
        if key in layer.params:
            layer.params[key] = len(keep)
    infer_shapes(spec).raise_for_issues()
    pruned = replace(model, spec=spec, state=state, checkpoints={})
    pruned.forget_module()
    return pruned, kept


def _slice(state: dict[str, Any], layer: str, indices: np.ndarray, axis: int) -> None:
    for name in ("weight", "bias"):
        key = f"{layer}.{name}"
        if key in state:
            state[key] = state[key].index_select(axis, _index(indices)).clone()


def _index(indices: np.ndarray) -> Any:
    import torch

    return torch.as_tensor(indices, dtype=torch.long)
