"""Graph checks before shapes: ids, kinds, params, refs, arity, cycles, sub-network references.

:func:`plan_network` checks one layer graph (the top network, a block under ``modules:`` or a
sub-network file) and returns a :class:`Plan`: the layers in topological order with their
params resolved (defaults filled in, left-out inferable ones marked ``INFER``), and every
problem found. A layer with a problem is kept in the plan, marked ``bad``, so that shape
inference skips it and what depends on it without reporting the same mistake twice.
"""

from __future__ import annotations

import difflib
import heapq
import keyword
from dataclasses import dataclass, field
from typing import Any

from tidal.nn._issues import LayerIssue, issue
from tidal.nn._kind import LayerKind
from tidal.nn._kinds import get_kind, suggest_kinds
from tidal.nn._params import REQUIRED
from tidal.nn._spec import LayerSpec, NetworkSpec, SubNetwork

Network = NetworkSpec | SubNetwork

#: names a layer or input may not take: Python keywords, the names generated code uses, and
#: the attributes of ``torch.nn.Module`` (a layer id becomes an attribute of the generated class)
RESERVED_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {
    "self", "torch", "nn", "F", "super", "training", "T_destination", "add_module", "apply", "bfloat16", "buffers",
    "call_super_init", "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float",
    "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict",
    "modules", "mtia", "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule", "share_memory",
    "state_dict", "to", "to_empty", "train", "type", "xpu", "zero_grad",
    "smart_apply",  # transformers adds it to torch.nn.Module when it initialises a model
}


@dataclass
class Step:
    """One layer as the engine walks it."""

    layer: LayerSpec
    kind: LayerKind | None
    params: dict[str, Any]
    refs: list[tuple[str, str | None]]
    bad: bool = False
    sub: tuple[Network, NetworkSpec, str] | None = None  # nested kinds: (graph, its scope, its label)


@dataclass
class Plan:
    """A layer graph checked and ordered: ``steps`` in topological order, ``issues`` found."""

    network: Network
    scope: NetworkSpec
    label: str
    steps: list[Step]
    outputs: dict[str, tuple[str, str | None]]
    issues: list[LayerIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def parse_ref(ref: str) -> tuple[str, str | None]:
    name, _, port = ref.partition(".")
    return name, port or None


def resolve_sub(layer: LayerSpec, scope: NetworkSpec, scope_label: str = "") -> tuple[Network, NetworkSpec, str] | str:
    """The graph a ``module`` layer names, with the scope its own refs resolve in, or why not."""
    network, path = layer.params.get("network"), layer.params.get("file")
    if (network is None) == (path is None):
        return "set exactly one of network (a block under modules:) and file (a network file)"
    if network is not None:
        found = scope.modules.get(network)
        if found is None:
            known = ", ".join(scope.modules) or "none"
            return f"no block named '{network}' under modules: (blocks: {known})"
        return found, scope, f"{scope_label}{network}"
    sub = scope.files.get(str(path))
    if sub is None:
        return (f"file '{path}' is not loaded: read the spec with load_network(path), or "
                "parse_network(text, base_dir=folder)")
    return sub, sub, f"{scope_label}{path}:"


def plan_network(network: Network, scope: NetworkSpec, label: str, cyclic: set[str], scope_label: str = "") -> Plan:
    """Check ``network`` (labelled ``label`` in messages; blocks of ``scope`` get ``scope_label`` first) and order its layers."""
    problems: list[LayerIssue] = []
    prefix = f"{label}/" if label and not label.endswith(":") else label
    inputs = set(network.inputs)
    for name in network.inputs:
        if name in RESERVED_NAMES:
            problems.append(issue(f"input name '{name}' is reserved (a Python keyword or a torch.nn.Module attribute)",
                                  hint=f"rename it, e.g. '{name}_input'", code="reserved_name"))
    steps: dict[str, Step] = {}
    order: list[str] = []
    for layer in network.layers:
        where = f"{prefix}{layer.id}"
        if layer.id in steps or layer.id in inputs:
            problems.append(issue(f"id '{layer.id}' is used more than once" if layer.id in steps
                                  else f"id '{layer.id}' is also the name of an input", layer=where,
                                  hint="give every layer and input its own name", code="duplicate_id"))
            continue
        step = _check_layer(layer, scope, scope_label, where, cyclic, problems)
        steps[layer.id] = step
        order.append(layer.id)
    for layer_id in order:
        _check_refs(steps[layer_id], steps, inputs, f"{prefix}{layer_id}", problems)
    ordered = _topological(order, steps, prefix, problems)
    outputs: dict[str, tuple[str, str | None]] = {}
    for name, ref in _output_map(network).items():
        target, port = parse_ref(ref)
        if target not in steps and target not in inputs:
            problems.append(issue(f"output '{name}' refers to '{ref}', which is not a layer or an input",
                                  hint=_close(target, [*steps, *inputs]), code="dangling_output"))
            continue
        if target in steps and port is not None:
            reason = _port_problem(steps[target], port)
            if reason:
                problems.append(issue(f"output '{name}': {reason}", code="dangling_output"))
                continue
        outputs[name] = (target, port)
    return Plan(network, scope, label, ordered, outputs, problems)


def _output_map(network: Network) -> dict[str, str]:
    return network.output_map


def _close(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else None


def _check_layer(layer: LayerSpec, scope: NetworkSpec, scope_label: str, where: str, cyclic: set[str],
                 problems: list[LayerIssue]) -> Step:
    bad = False
    if layer.id in RESERVED_NAMES:
        problems.append(issue(f"id '{layer.id}' is reserved (a Python keyword or a torch.nn.Module attribute)", layer=where,
                              hint=f"rename it, e.g. '{layer.id}_layer'", code="reserved_name"))
        bad = True
    kind = get_kind(layer.kind)
    refs = [parse_ref(ref) for ref in layer.inputs]
    if kind is None:
        close = suggest_kinds(layer.kind)
        hint = f"did you mean {', '.join(close)}?" if close else "see docs/nn.md for the layer kinds"
        problems.append(issue(f"unknown layer kind '{layer.kind}'", layer=where, hint=hint, code="unknown_kind"))
        return Step(layer, None, {}, refs, bad=True)
    params: dict[str, Any] = {}
    names = {param.name for param in kind.params}
    for key in layer.params:
        if key not in names:
            known = ", ".join(sorted(names)) or "none"
            close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"{kind.name} takes: {known}"
            problems.append(issue(f"{kind.name} has no parameter '{key}'", layer=where, param=key, hint=hint, code="unknown_param"))
            bad = True
    for param in kind.params:
        if param.name in layer.params:
            value = layer.params[param.name]
            refused = param.check(value)
            if refused:
                problems.append(issue(f"{param.name} {refused}", layer=where, param=param.name, hint=param.help or None,
                                      code="bad_param"))
                bad = True
            params[param.name] = value
        elif param.default is REQUIRED:
            problems.append(issue(f"{kind.name} needs parameter '{param.name}'", layer=where, param=param.name,
                                  hint=param.help or None, code="missing_param"))
            bad = True
        else:
            params[param.name] = param.default
    step = Step(layer, kind, params, refs, bad=bad)
    if kind.nested and not bad:
        resolved = resolve_sub(layer, scope, scope_label)
        if isinstance(resolved, str):
            problems.append(issue(resolved, layer=where, param="network" if "network" in layer.params else "file", code="bad_module"))
            step.bad = True
        elif isinstance(layer.params.get("network"), str) and layer.params["network"] in cyclic and resolved[1] is scope:
            problems.append(issue(f"block '{layer.params['network']}' contains itself (through its module layers)",
                                  layer=where, param="network", hint="a block cannot use itself", code="cycle"))
            step.bad = True
        else:
            step.sub = resolved
    least, most = _arity(step)
    count = len(refs)
    if count < least or (most is not None and count > most):
        wanted = str(least) if least == most else (f"{least} or more" if most is None else f"{least} to {most}")
        ports = ", ".join(_port_list(step)) or "none"
        problems.append(issue(f"{layer.kind} takes {wanted} input{'s' if wanted != '1' else ''} ({ports}) but gets {count}",
                              layer=where, hint="connect one input per port, in port order", code="arity"))
        step.bad = True
    return step


def _arity(step: Step) -> tuple[int, int | None]:
    if step.sub is not None:
        count = len(step.sub[0].inputs)
        return count, count
    assert step.kind is not None
    return step.kind.arity()


def _port_list(step: Step) -> list[str]:
    if step.sub is not None:
        return list(step.sub[0].inputs)
    assert step.kind is not None
    return [port.name + ("..." if port.variadic else "") for port in step.kind.inputs]


def output_ports(step: Step) -> tuple[str, ...] | None:
    """The output port names of a layer when known before shapes (``None``: numbered by its shape rule)."""
    if step.sub is not None:
        return tuple(_output_map(step.sub[0]))
    if step.kind is None or step.kind.outputs == ("*",):
        return None
    return step.kind.outputs


def _port_problem(step: Step, port: str) -> str | None:
    ports = output_ports(step)
    if ports is None:
        if step.kind is not None and step.kind.nested:
            return None
        return None if port.isdigit() else f"'{step.layer.id}' has numbered outputs ({step.layer.id}.0, {step.layer.id}.1, ...)"
    if port in ports:
        return None
    return f"layer '{step.layer.id}' has no output '{port}' (outputs: {', '.join(ports)})"


def _check_refs(step: Step, steps: dict[str, Step], inputs: set[str], where: str, problems: list[LayerIssue]) -> None:
    names = step.kind.port_names(len(step.refs)) if step.kind is not None and step.sub is None else (
        list(step.sub[0].inputs) if step.sub is not None else [f"#{index + 1}" for index in range(len(step.refs))]
    )
    for index, (target, port) in enumerate(step.refs):
        port_name = names[index] if index < len(names) else f"#{index + 1}"
        ref = f"{target}.{port}" if port else target
        if target == step.layer.id:
            problems.append(issue("a layer cannot take its own output", layer=where, port=port_name, code="cycle"))
            step.bad = True
        elif target in inputs:
            if port is not None:
                problems.append(issue(f"'{ref}': network inputs have no ports; use '{target}'", layer=where, port=port_name,
                                      code="dangling_input"))
                step.bad = True
        elif target not in steps:
            problems.append(issue(f"input refers to '{ref}', which is not a layer or an input", layer=where, port=port_name,
                                  hint=_close(target, [*steps, *inputs]), code="dangling_input"))
            step.bad = True
        elif port is not None:
            reason = _port_problem(steps[target], port)
            if reason:
                problems.append(issue(reason, layer=where, port=port_name, code="dangling_input"))
                step.bad = True


def _topological(order: list[str], steps: dict[str, Step], prefix: str, problems: list[LayerIssue]) -> list[Step]:
    waiting = {layer_id: {target for target, _ in steps[layer_id].refs if target in steps and target != layer_id}
               for layer_id in order}
    users: dict[str, list[str]] = {layer_id: [] for layer_id in order}
    for layer_id, needs in waiting.items():
        for target in needs:
            users[target].append(layer_id)
    position = {layer_id: index for index, layer_id in enumerate(order)}
    ready = [(position[layer_id], layer_id) for layer_id in order if not waiting[layer_id]]
    heapq.heapify(ready)
    done: list[Step] = []
    while ready:  # the earliest ready layer in file order first: the file's order whenever it is valid
        _, layer_id = heapq.heappop(ready)
        done.append(steps[layer_id])
        for user in users[layer_id]:
            waiting[user].discard(layer_id)
            if not waiting[user]:
                heapq.heappush(ready, (position[user], user))
    if len(done) < len(order):
        left = [layer_id for layer_id in order if waiting[layer_id]]
        cycle = _find_cycle(left, waiting)
        problems.append(issue(f"the layers form a cycle: {' -> '.join(cycle)}", layer=f"{prefix}{cycle[0]}",
                              hint="a layer's inputs must come from layers that do not depend on it", code="cycle"))
        for layer_id in left:
            steps[layer_id].bad = True
            done.append(steps[layer_id])
    return done


def _find_cycle(left: list[str], waiting: dict[str, set[str]]) -> list[str]:
    current, seen = left[0], []
    while current not in seen:
        seen.append(current)
        current = sorted(waiting[current])[0]
    return [*seen[seen.index(current):], current]


def cyclic_blocks(scope: NetworkSpec) -> set[str]:
    """Blocks under ``modules:`` that reach themselves through ``network:`` references."""
    uses = {name: {str(layer.params.get("network")) for layer in block.layers if layer.kind == "module"}
            for name, block in scope.modules.items()}
    found: set[str] = set()
    for start in uses:
        stack, seen = list(uses[start]), set()
        while stack:
            name = stack.pop()
            if name == start:
                found.add(start)
                break
            if name in seen or name not in uses:
                continue
            seen.add(name)
            stack.extend(uses[name])
    return found

