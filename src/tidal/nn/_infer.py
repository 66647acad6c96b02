"""Shape inference: the type of every edge, every problem at once, pure Python.

:func:`infer_shapes` checks the graph (:mod:`tidal.nn._validate`), then walks the layers in
topological order, calling each kind's shape rule on the types of its connected inputs. A
``module`` layer binds its sub-network's declared input dims (``[batch, 16, h, w]``) to the
shapes it receives and infers the sub-network with them; problems inside are named by path
(``block1/conv2``). Blocks under ``modules:`` that no layer uses are inferred with their
declared inputs, so their mistakes show too.

Layers after a failed one are skipped quietly: each problem is reported once, where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tidal.nn._dims import Dim, format_shape, parse_dim
from tidal.nn._issues import LayerIssue, NetworkError, issue
from tidal.nn._kind import Incoming, RuleContext, TensorType, is_float
from tidal.nn._params import INFER
from tidal.nn._spec import NetworkSpec, SubNetwork, TensorSpec
from tidal.nn._validate import Plan, Step, cyclic_blocks, plan_network

Network = NetworkSpec | SubNetwork
MAX_NESTING = 32
#: layers a network may have with its sub-networks written out (each use of a block counts its layers again):
#: blocks that use a block twice, nested, would otherwise double the work at every level
MAX_WRITTEN_LAYERS = 20_000


@dataclass
class LayerShapes:
    """One layer after inference: resolved ``params``, its ``inputs`` (port, ref, type) and ``outputs`` (port -> type)."""

    id: str
    kind: str
    params: dict[str, Any]
    inputs: list[tuple[str, str, TensorType]] = field(default_factory=list)
    outputs: dict[str, TensorType] = field(default_factory=dict)
    module: NetworkShapes | None = None  # a module layer's sub-network, inferred with this layer's inputs

    @property
    def output(self) -> TensorType | None:
        return next(iter(self.outputs.values()), None)


@dataclass
class NetworkShapes:
    """The result of :func:`infer_shapes`: every edge's type, resolved params, and all ``issues``."""

    name: str
    inputs: dict[str, TensorType]
    layers: dict[str, LayerShapes]
    outputs: dict[str, TensorType | None]
    issues: list[LayerIssue]
    plan: Plan = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.issues

    def tensor(self, ref: str) -> TensorType | None:
        """The type of ``ref`` (an input name, ``layer`` or ``layer.port``), or ``None`` when unknown."""
        name, _, port = ref.partition(".")
        if name in self.inputs and not port:
            return self.inputs[name]
        layer = self.layers.get(name)
        if layer is None:
            return None
        return layer.outputs.get(port) if port else layer.output

    def raise_for_issues(self) -> None:
        if self.issues:
            raise NetworkError(self.issues, subject=f"network '{self.name}'")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the Studio or ``--json``: shapes as text (``[batch, 1568]``), issues as dicts."""
        return {
            "name": self.name,
            "inputs": {name: str(tensor) for name, tensor in self.inputs.items()},
            "layers": {
                layer.id: {
                    "kind": layer.kind,
                    "params": {key: (None if value is INFER else value) for key, value in layer.params.items()},
                    "inputs": [{"port": port, "from": ref, "shape": str(tensor)} for port, ref, tensor in layer.inputs],
                    "outputs": {port: str(tensor) for port, tensor in layer.outputs.items()},
                }
                for layer in self.layers.values()
            },
            "outputs": {name: (str(tensor) if tensor is not None else None) for name, tensor in self.outputs.items()},
            "issues": [item.to_dict() for item in self.issues],
        }


def declared_types(network: Network) -> dict[str, TensorType]:
    return {name: tensor_type(tensor) for name, tensor in network.inputs.items()}


def tensor_type(tensor: TensorSpec) -> TensorType:
    return TensorType(tuple(parse_dim(dim) for dim in tensor.shape), tensor.dtype)


def infer_shapes(spec: NetworkSpec, *, check: bool = True) -> NetworkShapes:
    """The type of every edge of ``spec``.

    With ``check=True`` (the default) any problem raises :class:`NetworkError` listing all of
    them; ``check=False`` returns the result with ``issues`` (and what could be inferred).
    """
    engine = _Engine()
    top = engine.plan(spec, spec, "", "")
    engine.plan_blocks(spec, "")
    shapes = engine.infer(top, declared_types(spec), "", 0)
    for plan in list(engine.plans.values()):
        if plan is not top and id(plan.network) not in engine.used and plan.ok:
            engine.infer(plan, declared_types(plan.network), plan.label if plan.label.endswith(":") else f"{plan.label}/", 0)
    shapes.issues = engine.issues
    if check:
        shapes.raise_for_issues()
    return shapes


def validate_network(spec: NetworkSpec) -> list[LayerIssue]:
    """Every problem in ``spec`` (graph, params and shapes); an empty list means it can be built."""
    return infer_shapes(spec, check=False).issues


class _Engine:
    def __init__(self) -> None:
        self.plans: dict[int, Plan] = {}
        self.issues: list[LayerIssue] = []
        self.used: set[int] = set()
        self.cyclic: dict[int, set[str]] = {}
        self.scope_labels: dict[int, str] = {}
        self.written = 0  # layers inferred so far, each use of a block counted

    def plan(self, network: Network, scope: NetworkSpec, label: str, scope_label: str) -> Plan:
        key = id(network)
        if key in self.plans:
            return self.plans[key]
        self.scope_labels.setdefault(id(scope), scope_label)
        cyclic = self.cyclic.setdefault(id(scope), cyclic_blocks(scope))
        plan = plan_network(network, scope, label, cyclic, scope_label)
        self.plans[key] = plan
        self.issues.extend(plan.issues)
        for step in plan.steps:
            if step.sub is not None:
                sub, sub_scope, sub_label = step.sub
                sub_scope_label = sub_label if sub_scope is not scope else scope_label
                self.plan(sub, sub_scope, sub_label, sub_scope_label)
                if sub_scope is not scope:
                    self.plan_blocks(sub_scope, sub_scope_label)
        return plan

    def plan_blocks(self, scope: NetworkSpec, scope_label: str) -> None:
        for name, block in scope.modules.items():
            self.plan(block, scope, f"{scope_label}{name}", scope_label)

    def infer(self, plan: Plan, input_types: dict[str, TensorType], prefix: str, depth: int) -> NetworkShapes:
        layers: dict[str, LayerShapes] = {}
        for step in plan.steps:
            record = LayerShapes(step.layer.id, step.layer.kind, step.params)
            layers[step.layer.id] = record
            if not step.bad:
                self._infer_layer(step, record, layers, input_types, prefix, depth)
        outputs: dict[str, TensorType | None] = {}
        for name, (target, port) in plan.outputs.items():
            if target in input_types:
                outputs[name] = input_types[target]
                continue
            found = layers[target].outputs
            if found and port is not None and port not in found:
                self.issues.append(issue(f"output '{name}': layer '{target}' has no output '{port}' (outputs: {', '.join(found)})",
                                         code="dangling_output"))
            outputs[name] = found.get(port) if port is not None else next(iter(found.values()), None)
        return NetworkShapes(getattr(plan.network, "name", plan.label), dict(input_types), layers, outputs, [], plan)

    def _infer_layer(self, step: Step, record: LayerShapes, layers: dict[str, LayerShapes],
                     input_types: dict[str, TensorType], prefix: str, depth: int) -> None:
        kind = step.kind
        assert kind is not None
        where = f"{prefix}{step.layer.id}"
        ports = list(step.sub[0].inputs) if step.sub is not None else kind.port_names(len(step.refs))
        incoming: list[Incoming] = []
        for port, (target, out_port) in zip(ports, step.refs, strict=False):
            ref = target if out_port is None else f"{target}.{out_port}"
            if target in input_types:
                incoming.append(Incoming(port, input_types[target], ref))
                continue
            source = layers[target].outputs
            if not source:
                return  # its own problem is reported already
            found = next(iter(source.values())) if out_port is None else source.get(out_port)
            if found is None:
                self.issues.append(issue(f"layer '{target}' has no output '{out_port}' (outputs: {', '.join(source)})",
                                         layer=where, port=port, code="dangling_input"))
                return
            incoming.append(Incoming(port, found, ref))
        record.inputs = [(item.port, item.source, item.type) for item in incoming]
        if step.sub is None:
            by_name = {item.port: item for item in incoming}
            for port_spec in kind.inputs[len(incoming):]:
                if port_spec.default in by_name:
                    source_item = by_name[port_spec.default]
                    by_name[port_spec.name] = Incoming(port_spec.name, source_item.type, source_item.source)
                    incoming.append(by_name[port_spec.name])
        self._check_dtypes(kind.accepts, incoming, where)
        params = dict(step.params)

        def expand(ctx: RuleContext) -> list[TensorType] | None:
            return self._expand(ctx, step, record, depth)

        ctx = RuleContext(where, kind, params, incoming, self.issues, expand if step.sub is not None else None)
        reported = len(self.issues)
        result = kind.rule(ctx)
        record.params = params
        if result is None:
            if len(self.issues) == reported and not (step.sub is not None and not self.plans[id(step.sub[0])].ok) \
                    and self.written <= MAX_WRITTEN_LAYERS:
                self.issues.append(issue(f"the output shape of this {kind.name} layer cannot be inferred", layer=where,
                                         code="unknown_shape", hint="check its inputs and params"))
            return
        if step.sub is not None:
            names: list[str] = list(step.sub[0].output_map)
        elif kind.outputs == ("*",):
            names = [str(index) for index in range(len(result))]
        else:
            names = list(kind.outputs)
        record.outputs = dict(zip(names, result, strict=True))

    def _check_dtypes(self, accepts: str, incoming: list[Incoming], where: str) -> None:
        for item in incoming:
            dtype = item.type.dtype
            if accepts == "float" and not is_float(dtype):
                self.issues.append(issue(f"expects a floating-point tensor but gets {dtype} {item.describe()}", layer=where,
                                         port=item.port, code="dtype", expected="float32", actual=str(item.type),
                                         hint="integer indices need an embedding layer first; otherwise declare the input as float32"))
            elif accepts == "int" and (is_float(dtype) or dtype == "bool"):
                self.issues.append(issue(f"expects integer indices but gets {dtype} {item.describe()}", layer=where,
                                         port=item.port, code="dtype", expected="int64", actual=str(item.type),
                                         hint="declare the input with dtype: int64"))

    def _expand(self, ctx: RuleContext, step: Step, record: LayerShapes, depth: int) -> list[TensorType] | None:
        assert step.sub is not None
        network = step.sub[0]
        plan = self.plans[id(network)]
        if not plan.ok:
            return None  # the block's own problems are reported under its name
        if depth >= MAX_NESTING:
            ctx.problem(f"sub-networks nest more than {MAX_NESTING} deep", code="too_deep")
            return None
        self.written += len(plan.steps)
        if self.written > MAX_WRITTEN_LAYERS:
            if self.written - len(plan.steps) <= MAX_WRITTEN_LAYERS:  # said once, where the count first passed it
                ctx.problem(f"the network has more than {MAX_WRITTEN_LAYERS:,} layers once each use of a sub-network "
                            "counts its layers (blocks using blocks several times, nested)", code="too_large",
                            hint="use fewer nested sub-networks, or fewer uses of each")
            return None
        self.used.add(id(network))
        bindings: dict[str, Dim] = {}
        types: dict[str, TensorType] = {}
        block = step.sub[2]
        for item, (name, declared) in zip(ctx.inputs, network.inputs.items(), strict=True):
            problem = _bind(declared, item.type, bindings)
            if problem is not None:
                ctx.problem(f"expects {format_shape(declared.shape)} {declared.dtype} (input '{name}' of '{block}') but gets "
                            f"{item.shown()}: {problem}", port=name, code="size_mismatch",
                            hint=f"feed '{block}' what its input '{name}' declares, or change that declaration",
                            expected=format_shape(declared.shape), actual=str(item.type))
                return None
            types[name] = item.type
        result = self.infer(plan, types, f"{ctx.layer}/", depth + 1)
        record.module = result
        outputs = list(result.outputs.values())
        if any(output is None for output in outputs):
            return None
        return [output for output in outputs if output is not None]


def _bind(declared: TensorSpec, actual: TensorType, bindings: dict[str, Dim]) -> str | None:
    if is_float(declared.dtype) != is_float(actual.dtype):
        return f"dtype {actual.dtype} where {declared.dtype} is declared"
    if len(declared.shape) != actual.rank:
        return f"{actual.rank} dims where {len(declared.shape)} are declared"
    for axis, (want, got) in enumerate(zip(declared.shape, actual.shape, strict=True)):
        if isinstance(want, int):
            if got != want:
                return f"dim {axis} is {got}, not {want}"
        elif want in bindings:
            if bindings[want] != got:
                return f"dim {axis} is {got}, but {want} is already {bindings[want]}"
        else:
            bindings[want] = got
    return None
