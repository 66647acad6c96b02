"""A PyTorch module -> a network spec, through ``torch.fx``: :func:`from_module`.

The module is traced symbolically. ``torch.nn`` layers are kept whole and mapped to kinds by
their class (:mod:`tidal.nn._import_maps`); functions and tensor methods map through small
signatures; your own submodules become sub-networks under ``modules:`` (traced in turn), and
``nn.Sequential`` containers are looked through. Anything without a kind is refused, all at
once, each refusal naming the node, the module or function, and the line of your code.
Data-dependent control flow (``if x.sum() > 0``) cannot be traced and is refused naming its line.

The result is checked twice before it is returned: the spec's shape inference must pass, and
its inferred shapes must equal the ones PyTorch produced on ``example_inputs``.
"""

from __future__ import annotations

import builtins
import json
import operator
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tidal.nn._dims import substitute
from tidal.nn._infer import infer_shapes
from tidal.nn._issues import LayerIssue, NetworkError, issue
from tidal.nn._kinds import KINDS
from tidal.nn._spec import NetworkSpec
from tidal.nn._torch import require_torch
from tidal.nn._validate import RESERVED_NAMES

torch = require_torch()
import torch.fx as fx  # noqa: E402

from tidal.nn._import_maps import (  # noqa: E402
    CALLS,
    MODULE_KINDS,
    Refusal,
    bind_call,
    module_params,
    verify_rebuild,
)
from tidal.nn._import_trace import Recorder, Tracer, flat_values, node_line, user_frame  # noqa: E402


@dataclass(frozen=True)
class _Tensor:
    ref: str


@dataclass(frozen=True)
class _Tuple:
    layer: str
    pattern: Any  # nested port names, or None for numbered outputs (split, chunk)


@dataclass(frozen=True)
class _Shape:
    tensor: Any  # the fx node whose shape this is


@dataclass(frozen=True)
class _Size:
    tensor: Any
    axis: int


@dataclass(frozen=True)
class _Device:
    """``x.device``: generated code passes it on to ``torch.arange`` (positions)."""


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def _snake(name: str) -> str:
    return re.sub(r"\W", "_", _kebab(name).replace("-", "_")) or "block"


class _Importer:
    def __init__(self, batch_dim: int | None, nested: bool) -> None:
        self.batch_dim = batch_dim
        self.nested = nested
        self.blocks: dict[str, dict[str, Any]] = {}
        self.block_names: dict[str, str] = {}

    def network(self, module: Any, examples: Sequence[Any], names: Sequence[str] | None,
                shapes: Mapping[str, Sequence[int | str]] | list[list[int | str]] | None,
                output_names: Sequence[str] | None, label: str) -> dict[str, Any]:
        tracer = Tracer(self.nested)
        try:
            graph = tracer.trace(module)
        except Exception as error:  # fx raises TraceError, TypeError, ... from inside the user's forward
            frames = [(frame.filename, frame.lineno or 0, frame.line) for frame in traceback.extract_tb(error.__traceback__)]
            where = user_frame(frames)
            control = "control flow" in str(error) or "cannot be interpreted" in str(error) or "iterate" in str(error)
            what = ("data-dependent control flow (an `if` or loop on tensor values)" if control
                    else f"{type(error).__name__}: {error}")
            raise NetworkError([issue(f"cannot trace {type(module).__name__}.forward: {what}" + (f" at {where}" if where else ""),
                                      layer=label or None, code="untraceable",
                                      hint="torch.fx follows one path through forward; decide branches from settings, "
                                           "not from tensor values")],
                               subject=f"module {type(module).__name__}") from None
        traced = fx.GraphModule(tracer.root, graph)
        self._propagate(module, traced, examples)
        walker = _Walker(self, traced, examples, names, shapes, output_names, label)
        return walker.run()

    @staticmethod
    def _propagate(module: Any, traced: Any, examples: Sequence[Any]) -> None:
        """Record every node's real shape (in eval mode, so no running statistic changes)."""
        modes = [(child, child.training) for child in module.modules()]
        module.eval()
        try:
            with torch.no_grad():
                Recorder(traced).run(*examples)
        finally:
            for child, mode in modes:
                child.training = mode

    def block(self, module: Any, examples: Sequence[Any], label: str, shapes: list[list[int | str]] | None) -> str:
        data = self.network(module, examples, None, shapes, None, label)
        key = json.dumps(data, sort_keys=True, default=str)
        if key in self.block_names:
            return self.block_names[key]
        base = _snake(type(module).__name__)
        name, counter = base, 2
        while name in self.blocks or name in RESERVED_NAMES:
            name, counter = f"{base}_{counter}", counter + 1
        self.blocks[name] = data
        self.block_names[key] = name
        return name


class _Walker:
    """One traced graph -> inputs, layers and outputs of a network (or block)."""

    def __init__(self, importer: _Importer, traced: Any, examples: Sequence[Any], names: Sequence[str] | None,
                 shapes: Mapping[str, Sequence[int | str]] | list[list[int | str]] | None,
                 output_names: Sequence[str] | None, label: str) -> None:
        self.importer = importer
        self.traced = traced
        self.examples = list(examples)
        self.names = list(names) if names else None
        self.shapes = shapes if isinstance(shapes, list) else dict(shapes or {})
        self.output_names = list(output_names) if output_names else None
        self.label = label
        self.values: dict[Any, Any] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.layers: list[dict[str, Any]] = []
        self.outputs: dict[str, str] = {}
        self.taken: set[str] = set()
        self.calls: dict[str, int] = {}
        self.issues: list[LayerIssue] = []
        self.node_of: dict[str, Any] = {}
        self.first_port: dict[str, str] = {}
        self.sizes: dict[str, int] = {}

    def run(self) -> dict[str, Any]:
        placeholders = [node for node in self.traced.graph.nodes if node.op == "placeholder"]
        if len(placeholders) != len(self.examples):
            raise NetworkError([issue(f"forward takes {len(placeholders)} inputs "
                                      f"({', '.join(str(node.target) for node in placeholders)}) but "
                                      f"{len(self.examples)} example inputs were given", code="inputs",
                                      hint="give one example tensor per forward argument")])
        for node in self.traced.graph.nodes:
            try:
                self._node(node)
            except Refusal as refusal:
                self.values.setdefault(node, _Tensor(node.name))  # stands in, so later nodes are still checked
                where = node_line(node)
                self.issues.append(issue(str(refusal) + (f" (at {where})" if where else ""),
                                         layer=f"{self.label}{node.name}", hint=refusal.hint, code="unsupported"))
        if self.issues:
            raise NetworkError(self.issues, subject="module cannot be converted")
        data = {"inputs": self.inputs, "layers": self.layers, "outputs": self.outputs}
        self._verify(data)
        return data

    def _verify(self, data: dict[str, Any]) -> None:
        """The spec must pass shape inference, and infer at every layer the shapes PyTorch produced."""
        blocks = self.importer.blocks
        spec = NetworkSpec.from_dict({"tidal-nn": 1, "name": "imported", **data, **({"modules": blocks} if blocks else {})})
        shapes = infer_shapes(spec, check=False)
        if shapes.issues:
            raise NetworkError(shapes.issues, subject="the spec read from the module")
        for layer_id, node in self.node_of.items():
            produced = [shape for shape, _ in flat_values(node.meta.get("tidal_value"))]
            inferred = [tuple(substitute(dim, self.sizes) for dim in tensor.shape)
                        for tensor in shapes.layers[layer_id].outputs.values()]
            if produced and produced != inferred[:len(produced)]:
                raise NetworkError([issue(f"Tidal infers {inferred} but PyTorch produced {produced}",
                                          layer=f"{self.label}{layer_id}", code="import_mismatch",
                                          hint="this is a bug in Tidal's mapping; please report it with the module")])

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, node: Any) -> None:
        if node.op == "placeholder":
            self._placeholder(node)
        elif node.op == "get_attr":
            raise Refusal(f"forward reads self.{node.target} directly; Tidal layers own their weights",
                          hint="keep parameters and buffers inside the layers (modules) that use them")
        elif node.op == "call_module":
            self._module(node)
        elif node.op in ("call_function", "call_method"):
            self._call(node)
        elif node.op == "output":
            self._output(node)

    def _placeholder(self, node: Any) -> None:
        index = len(self.inputs)
        name = self.names[index] if self.names else str(node.target).lstrip("*")
        example = self.examples[index]
        if not isinstance(example, torch.Tensor):
            raise Refusal(f"example input '{name}' is a {type(example).__name__}, not a tensor")
        name = self._unique(name, suffix="_input")
        shape: list[int | str] = list(example.shape)
        given = self.shapes[index] if isinstance(self.shapes, list) else self.shapes.get(name)
        if given is not None:
            declared = list(given)
            if len(declared) != len(shape) or any(isinstance(dim, int) and dim != shape[axis] for axis, dim in enumerate(declared)):
                raise Refusal(f"shape {declared} for input '{name}' does not fit the example {list(example.shape)}")
            for axis, dim in enumerate(declared):
                if isinstance(dim, str):
                    self.sizes[dim] = int(example.shape[axis])
            shape = declared
        elif self.importer.batch_dim is not None and example.dim() > self.importer.batch_dim:
            self.sizes["batch"] = int(example.shape[self.importer.batch_dim])
            shape[self.importer.batch_dim] = "batch"
        self.inputs[name] = {"shape": shape, **({} if example.dtype == torch.float32 else {"dtype": str(example.dtype).removeprefix("torch.")})}
        self.values[node] = _Tensor(name)

    def _module(self, node: Any) -> None:
        target = str(node.target)
        module = self.traced.get_submodule(target)
        self.calls[target] = self.calls.get(target, 0) + 1
        stateful = any(True for _ in module.parameters()) or any(True for _ in module.buffers())
        if stateful and self.calls[target] > 1:
            raise Refusal(f"module self.{target} is called {self.calls[target]} times: its weights are shared, "
                          "and a layer runs once", hint="use one module per call")
        kind = MODULE_KINDS.get(type(module))
        layer_id = self._unique(re.sub(r"\W", "_", target))
        tensors = self._tensor_args(node.args)
        if kind is not None:
            self._module_kwargs(kind, node.kwargs, target)
            params = module_params(kind, module)
            problem = verify_rebuild(kind, params, module)
            if problem:
                raise Refusal(f"module self.{target} ({type(module).__name__}): {problem}")
            tensors = self._drop_default_ports(kind, tensors)
            self._add(node, layer_id, kind.name, tensors, params)
            self.values[node] = _Tuple(layer_id, kind.unpack) if kind.unpack else _Tensor(layer_id)
            self.first_port[layer_id] = kind.outputs[0]
            return
        if type(module).__module__.startswith(("torch.nn", "torch.ao.nn")) or not self.importer.nested:
            raise Refusal(f"module self.{target} is {type(module).__module__}.{type(module).__qualname__}, "
                          "which has no Tidal layer kind", hint="see docs/nn.md for the kinds; write it with them")
        if node.kwargs:
            raise Refusal(f"module self.{target} is called with keyword arguments; pass tensors positionally")
        examples = [torch.zeros(arg.meta["tidal_value"][0], dtype=arg.meta["tidal_value"][1]) for arg in node.args]
        name = self.importer.block(module, examples, f"{self.label}{layer_id}/", self._symbolic_shapes(tensors))
        self._add(node, layer_id, "module", tensors, {"network": name})
        outputs = list(self.importer.blocks[name]["outputs"])
        self.values[node] = _Tensor(layer_id) if len(outputs) == 1 else _Tuple(layer_id, tuple(outputs))
        self.first_port[layer_id] = outputs[0]

    @staticmethod
    def _module_kwargs(kind: Any, kwargs: Mapping[str, Any], target: str) -> None:
        for key, value in kwargs.items():
            if key in kind.call_options and isinstance(value, bool):
                continue
            raise Refusal(f"self.{target}(..., {key}=...) is not supported: Tidal calls layers with their tensors only",
                          hint="masks and extra arguments are not part of a layer spec yet")

    def _symbolic_shapes(self, refs: list[str]) -> list[list[int | str]] | None:
        """The shapes of ``refs`` as the spec so far infers them, as a block declares inputs: numbers, and a
        name for each symbolic dim (an expression such as ``(h + 1)//2`` gets a name of its own)."""
        blocks = self.importer.blocks
        partial = {"tidal-nn": 1, "name": "partial", "inputs": self.inputs, "layers": self.layers,
                   "outputs": {f"arg{index}": ref for index, ref in enumerate(refs)}, **({"modules": blocks} if blocks else {})}
        try:
            shapes = infer_shapes(NetworkSpec.from_dict(partial), check=False)
        except NetworkError:
            return None
        if shapes.issues or any(tensor is None for tensor in shapes.outputs.values()):
            return None
        declared: list[list[int | str]] = []
        fresh = 0
        for tensor in shapes.outputs.values():
            assert tensor is not None
            dims: list[int | str] = []
            for dim in tensor.shape:
                if isinstance(dim, int):
                    dims.append(dim)
                elif len(dim.terms) == 1 and dim.terms[0][1] == 1 and len(dim.terms[0][0]) == 1 and isinstance(dim.terms[0][0][0], str):
                    dims.append(dim.terms[0][0][0])
                else:
                    fresh += 1
                    dims.append(f"size{fresh}")
            declared.append(dims)
        return declared

    def _drop_default_ports(self, kind: Any, tensors: list[str]) -> list[str]:
        """``attn(x, x, x)`` is ``attn(x)``: trailing optional ports that repeat their default port are dropped."""
        names = [port.name for port in kind.inputs]
        while len(tensors) > 1 and len(tensors) <= len(names):
            port = kind.inputs[len(tensors) - 1]
            if port.optional and port.default is not None and tensors[-1] == tensors[names.index(port.default)]:
                tensors = tensors[:-1]
                continue
            break
        return tensors

    def _call(self, node: Any) -> None:
        target = node.target
        args, kwargs = node.args, dict(node.kwargs)
        if target is operator.getitem:
            self._getitem(node)
            return
        if target is builtins.getattr and len(args) == 2 and args[1] in ("shape", "device"):
            self.values[node] = _Shape(self._tensor_node(args[0])) if args[1] == "shape" else _Device()
            return
        if target is torch.arange:
            self._positions(node)
            return
        if target in (operator.mul, operator.imul, torch.mul, "mul") and len(args) == 2 and not kwargs:
            numbers = [isinstance(arg, (int, float)) and not isinstance(arg, bool) for arg in args]
            if numbers.count(True) == 1:  # x * 0.125: a scale
                tensor, factor = (args[1], args[0]) if numbers[0] else args
                self._function(node, "scale", [self._ref(tensor)], {"factor": factor})
                return
        if target is torch.full_like and "dtype" not in kwargs and len(args) < 3:
            kwargs["dtype"] = node.meta["tidal_value"][1]  # the input's dtype, which the spec states
        if node.op == "call_method" and target in ("size", "contiguous", "view", "reshape", "permute"):
            if target == "size":
                tensor = self._tensor_node(args[0])
                dim = args[1] if len(args) > 1 else kwargs.get("dim")
                self.values[node] = _Shape(tensor) if dim is None else _Size(tensor, dim)
            elif target == "contiguous":
                self.values[node] = self.values[args[0]]
            elif target == "permute":
                dims = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
                self._function(node, "permute", [self._ref(args[0])], {"dims": list(dims)})
            else:
                self._reshape(node, args[0], args[1:] if not (len(args) == 2 and isinstance(args[1], (tuple, list))) else args[1])
            return
        if target is torch.reshape:
            self._reshape(node, args[0], args[1] if len(args) > 1 else kwargs["shape"])
            return
        key = f"method:{target}" if node.op == "call_method" else target
        call = CALLS.get(key)
        if call is None:
            shown = f"tensor method .{target}()" if node.op == "call_method" else f"function {getattr(target, '__module__', '')}.{getattr(target, '__name__', target)}"
            raise Refusal(f"{shown} has no Tidal layer kind", hint="see docs/nn.md for the kinds and the calls they read")
        inputs, params = bind_call(call, args, kwargs, lambda value: isinstance(value, fx.Node))
        self._function(node, call.kind, [self._ref(item) for item in inputs], params)

    def _positions(self, node: Any) -> None:
        """``torch.arange(x.size(dim), device=x.device)`` is the positions of that dim (position ids)."""
        args, kwargs = node.args, dict(node.kwargs)
        size = self.values.get(args[0]) if len(args) == 1 and isinstance(args[0], fx.Node) else None
        device = kwargs.pop("device", None)
        if not isinstance(size, _Size) or kwargs or not (device is None or isinstance(self.values.get(device), _Device)):
            raise Refusal("torch.arange is read only as torch.arange(x.size(dim), device=x.device): the positions of a dim",
                          hint="Tidal holds no constant tensors; count positions along a dim of an input")
        self._function(node, "positions", [self._ref(size.tensor)], {"dim": size.axis})

    def _function(self, node: Any, kind_name: str, refs: list[str], params: dict[str, Any], name: str | None = None) -> None:
        layer_id = self._unique(name or node.name)
        self._add(node, layer_id, kind_name, refs, params)
        self.values[node] = _Tuple(layer_id, None) if KINDS[kind_name].outputs == ("*",) else _Tensor(layer_id)

    def _reshape(self, node: Any, tensor: Any, sizes: Sequence[Any]) -> None:
        source = self._tensor_node(tensor)
        entries: list[Any] = []
        for size in sizes:
            value = self.values.get(size) if isinstance(size, fx.Node) else size
            if isinstance(value, _Size) and value.tensor is source:
                entries.append(("dim", value.axis))
            elif isinstance(value, int):
                entries.append(value)
            else:
                raise Refusal("reshape sizes computed from tensors are not supported", hint="write the sizes as numbers, with -1 once")
        dims = [entry for entry in entries if isinstance(entry, tuple)]
        if not dims:
            self._function(node, "reshape", [self._ref(tensor)], {"shape": entries})
        elif len(dims) == 1 and -1 not in entries:
            self._function(node, "reshape", [self._ref(tensor)], {"shape": [-1 if isinstance(e, tuple) else e for e in entries]})
        elif entries == [("dim", 0), -1]:
            self._function(node, "flatten", [self._ref(tensor)], {})
        else:
            raise Refusal("reshape with several sizes read from the input's shape is not supported",
                          hint="use x.flatten(1), or numbers with one -1")

    def _getitem(self, node: Any) -> None:
        base, index = self.values.get(node.args[0]), node.args[1]
        if isinstance(base, _Tuple):
            if base.pattern is None:
                port = str(index % len(node.args[0].meta["tidal_value"]))
                self.values[node] = _Tensor(base.layer if port == "0" else f"{base.layer}.{port}")
                return
            item = base.pattern[index]
            if isinstance(item, str):
                self.values[node] = _Tensor(base.layer if item == self.first_port[base.layer] else f"{base.layer}.{item}")
            else:
                self.values[node] = _Tuple(base.layer, item)
            return
        if isinstance(base, _Shape) and isinstance(index, int):
            self.values[node] = _Size(base.tensor, index)
            return
        if isinstance(base, _Tensor):
            dim, position = self._select_index(index)
            self._function(node, "select", [base.ref], {"dim": dim, "index": position}, name="select")
            return
        raise Refusal(f"indexing {node.args[0].name}[{index!r}] is not supported")

    @staticmethod
    def _select_index(index: Any) -> tuple[int, int]:
        items = list(index) if isinstance(index, tuple) else [index]
        full = slice(None, None, None)
        positions = [position for position, item in enumerate(items) if isinstance(item, int) and not isinstance(item, bool)]
        others = [item for item in items if not (isinstance(item, int) and not isinstance(item, bool))]
        if len(positions) == 1 and all(item == full or item is Ellipsis for item in others) and items.count(Ellipsis) <= 1:
            position = positions[0]
            if Ellipsis in items and items.index(Ellipsis) < position:
                return position - len(items), items[position]
            return position, items[position]
        raise Refusal(f"indexing with {index!r} is not supported; Tidal's select takes one index along one dim",
                      hint="write x[:, -1] or x.select(dim, index); use split or chunk for ranges")

    def _output(self, node: Any) -> None:
        result = node.args[0]
        if isinstance(result, dict):
            items = list(result.items())
        elif isinstance(result, (tuple, list)):
            items = [(f"output_{index}", value) for index, value in enumerate(result)]
        else:
            items = [("output", result)]
        if self.output_names:
            if len(self.output_names) != len(items):
                raise Refusal(f"forward returns {len(items)} outputs but {len(self.output_names)} output names were given")
            items = [(name, value) for name, (_, value) in zip(self.output_names, items, strict=True)]
        for name, value in items:
            if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise Refusal(f"output name {name!r} is not a name of letters, digits and underscores")
            self.outputs[name] = self._ref(value)

    # -- helpers -------------------------------------------------------------------------------
    def _add(self, node: Any, layer_id: str, kind: str, refs: list[str], params: dict[str, Any]) -> None:
        layer: dict[str, Any] = {"id": layer_id, "kind": kind, "inputs": refs}
        if params:
            layer["params"] = params
        self.layers.append(layer)
        self.node_of[layer_id] = node

    def _unique(self, name: str, suffix: str = "_layer") -> str:
        name = re.sub(r"\W", "_", name) or "layer"
        if name[0].isdigit():
            name = f"layer_{name}"
        if name in RESERVED_NAMES:
            name += suffix
        base, counter = name, 2
        while name in self.taken:
            name, counter = f"{base}_{counter}", counter + 1
        self.taken.add(name)
        return name

    def _ref(self, value: Any) -> str:
        found = self.values.get(value) if isinstance(value, fx.Node) else None
        if isinstance(found, _Tensor):
            return found.ref
        shown = value.name if isinstance(value, fx.Node) else repr(value)
        raise Refusal(f"'{shown}' is not a tensor Tidal can connect (a shape, a tuple, or a constant)")

    def _tensor_args(self, args: Sequence[Any]) -> list[str]:
        return [self._ref(arg) for arg in args]

    def _tensor_node(self, value: Any) -> Any:
        self._ref(value)
        return value


def from_module(module: Any, example_inputs: Sequence[Any], *, name: str | None = None,
                input_names: Sequence[str] | None = None, input_shapes: Mapping[str, Sequence[int | str]] | None = None,
                output_names: Sequence[str] | None = None, batch_dim: int | None = 0, nested: bool = True,
                via: str = "auto") -> NetworkSpec:
    """``module`` as a network spec, traced with ``torch.fx`` on ``example_inputs``, or ``torch.export``.

    Dim ``batch_dim`` of every input becomes the symbol ``batch`` (``None`` keeps every size);
    ``input_shapes`` sets an input's dims explicitly (``{"tokens": ["batch", "seq"]}``).
    Your own submodules become blocks under ``modules:`` (``nested=False`` inlines them).
    ``via``: ``"auto"`` traces with torch.fx and falls back to ``torch.export`` when fx cannot
    trace the module or refuses part of it (data-dependent control flow is refused either way);
    ``"fx"`` or ``"export"`` use one. An exported module becomes one flat network (no blocks).
    Raises :class:`NetworkError` naming every node that has no layer kind, with its line.
    """
    if via not in ("auto", "fx", "export"):
        raise NetworkError([issue(f"via must be 'auto', 'fx' or 'export', not {via!r}", code="bad_param",
                                  hint="leave it out: fx first, torch.export when fx cannot trace")])
    examples = list(example_inputs) if isinstance(example_inputs, (list, tuple)) else [example_inputs]
    importer = _Importer(batch_dim, nested)
    if via == "export":
        top = _exported(importer, module, examples, input_names, input_shapes, output_names, None)
    else:
        try:
            top = importer.network(module, examples, input_names, input_shapes, output_names, "")
        except NetworkError as fx_error:
            if via == "fx":
                raise
            untraceable = all(item.code == "untraceable" for item in fx_error.issues)
            importer = _Importer(batch_dim, False)
            try:
                top = _exported(importer, module, examples, input_names, input_shapes, output_names,
                                fx_error.issues[0].message if untraceable else None)
            except NetworkError as export_error:
                raise (export_error if untraceable else fx_error) from None  # fx's refusals name Python calls
    data = {"tidal-nn": 1, "name": name or _kebab(type(module).__name__), **top}
    if importer.blocks:
        data["modules"] = importer.blocks
    return NetworkSpec.from_dict(data)


def _exported(importer: _Importer, module: Any, examples: list[Any], names: Sequence[str] | None, shapes: Any,
              output_names: Sequence[str] | None, fx_problem: str | None) -> dict[str, Any]:
    # torch.export loads much: imported only when it is needed
    from tidal.nn._import_export import export_network

    return export_network(importer, module, examples, names, shapes, output_names, fx_problem)
