"""A PyTorch module -> a network spec through ``torch.export``: what :func:`tidal.nn.from_module`
falls back to when torch.fx cannot trace a module (``via="export"`` asks for it directly).

``torch.export.export(module, example, strict=False)`` runs ``forward`` once with fake tensors and
records every ATen operation, whatever Python the model is written in (keyword arguments,
attention dispatch tables, output dataclasses). The dims the spec names (``batch``, or those of
``input_shapes``) are exported as dynamic dims, so every size an operation reads from them stays
symbolic and maps back to the input it came from.

The ATen graph is then read node by node (:mod:`tidal.nn._import_aten` holds the table):
parameters map to the layer that owns them (a ``linear`` whose id is the owning module's path,
``bert.encoder.layer.0.attention.self.query`` -> ``bert_encoder_layer_0_attention_self_query``, so
the state dict carries over by renaming the keys), and the rest to functional kinds. Values
computed only from buffers and sizes (position ids, token type ids, the index grids of a mask)
are read from the example run: an arange becomes ``positions``, an all-equal tensor
``full_like``; any other constant is refused. An operation with no kind is refused naming the
ATen op, the module it ran in and the line of Python that called it; data-dependent control flow
fails to export, and is refused naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from tidal.nn._export_trace import Run, export_program, forward_names, node_line, node_module
from tidal.nn._import import _Importer, _Tensor, _Tuple, _Walker
from tidal.nn._import_maps import Refusal, _canonical, _is_default
from tidal.nn._issues import NetworkError, issue
from tidal.nn._kinds import KINDS
from tidal.nn._spec import DTYPES
from tidal.nn._torch import require_torch

torch = require_torch()
import torch.fx as fx  # noqa: E402


def _key(dim: Any) -> Any:
    """A dim comparable across nodes: an int, or the text of its symbolic expression."""
    return dim if isinstance(dim, int) else str(dim.node.expr)


class ExportWalker(_Walker):
    """One exported graph -> the inputs, layers and outputs of a network."""

    def __init__(
        self,
        importer: _Importer,
        program: Any,
        examples: Sequence[Any],
        names: list[str],
        declared: list[list[int | str] | None],
        output_names: Sequence[str] | None,
    ) -> None:
        super().__init__(importer, program.graph_module, examples, names, None, output_names, "")
        self.program = program
        self.declared = declared
        signature = program.graph_signature
        self.parameters: dict[str, str] = dict(signature.inputs_to_parameters)
        self.buffers: dict[str, str] = {
            **signature.inputs_to_buffers,
            **signature.inputs_to_lifted_tensor_constants,
        }
        self.symbols: dict[str, str] = {}  # symbolic expression -> the dim name the spec gives it
        self.constant: set[Any] = set()  # nodes computed from buffers and sizes only
        self.kept: dict[Any, Any] = {}
        self.used: dict[str, str] = {}  # parameter target -> the layer that owns it
        self.produced: list[
            tuple[str, Any]
        ] = []  # (ref, node) of every tensor made so far, for shape donors

    # -- the run -------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from tidal.nn._import_aten import handle

        graph = self.traced.graph
        self._find_constants(graph)
        self._record()
        user = iter(self.examples)
        for node in graph.nodes:
            try:
                if node.op == "placeholder":
                    if node.name not in self.parameters and node.name not in self.buffers:
                        self._input(node, next(user))
                elif node.op == "call_function" and node not in self.constant:
                    handle(self, node)
                elif node.op == "output":
                    self._outputs(node)
            except Refusal as refusal:
                self.values.setdefault(
                    node, _Tensor(node.name)
                )  # stands in, so later nodes are still checked
                where, owner = node_line(node), node_module(node)
                context = ", ".join(
                    part
                    for part in (
                        f"in self.{owner}" if owner else "",
                        f"at {where}" if where else "",
                    )
                    if part
                )
                self.issues.append(
                    issue(
                        str(refusal) + (f" ({context})" if context else ""),
                        layer=node.name,
                        hint=refusal.hint,
                        code="unsupported",
                    )
                )
        if self.issues:
            raise NetworkError(self.issues, subject="module cannot be converted")
        data = {"inputs": self.inputs, "layers": self.layers, "outputs": self.outputs}
        self._verify(data)
        return data

    def _find_constants(self, graph: Any) -> None:
        for node in graph.nodes:
            if node.op == "placeholder":
                if node.name in self.buffers:
                    self.constant.add(node)
            elif node.op == "call_function":
                if str(node.target) == "aten.sym_size.int":
                    self.constant.add(node)
                    continue
                # tensors, and sizes computed from sizes (batch * seq), that no input's values reach
                if node.meta.get("val") is not None and all(
                    item in self.constant for item in node.all_input_nodes
                ):
                    self.constant.add(node)

    def _record(self) -> None:
        examples = iter(self.examples)
        state, constants = self.program.state_dict, self.program.constants
        args = []
        for node in self.traced.graph.nodes:
            if node.op != "placeholder":
                continue
            if node.name in self.parameters:
                args.append(state[self.parameters[node.name]])
            elif node.name in self.buffers:
                target = self.buffers[node.name]
                args.append(state[target] if target in state else constants[target])
            else:
                args.append(next(examples))
        runner = Run(self.traced, self.constant)
        with torch.no_grad():
            runner.run(*args)
        self.kept = runner.kept

    def _input(self, node: Any, example: Any) -> None:
        index = len(self.inputs)
        name = self._unique(self.names[index] if self.names else node.name, suffix="_input")
        if not isinstance(example, torch.Tensor):
            raise Refusal(f"example input '{name}' is a {type(example).__name__}, not a tensor")
        wanted = self.declared[index]
        shape: list[int | str] = []
        for axis, dim in enumerate(node.meta["val"].shape):
            if isinstance(dim, int):
                shape.append(dim)  # fixed, or a dim export found the module fixes
                continue
            label = (
                wanted[axis]
                if wanted is not None and isinstance(wanted[axis], str)
                else f"size{len(self.symbols) + 1}"
            )
            label = self.symbols.setdefault(_key(dim), str(label))
            self.sizes[label] = int(example.shape[axis])
            shape.append(label)
        dtype = (
            {}
            if example.dtype == torch.float32
            else {"dtype": str(example.dtype).removeprefix("torch.")}
        )
        self.inputs[name] = {"shape": shape, **dtype}
        self.values[node] = _Tensor(name)
        self.produced.append((name, node))

    def _outputs(self, node: Any) -> None:
        results = list(node.args[0])
        count = len(self.program.graph_signature.user_outputs)
        # an output that is None (attention weights not computed) is left out
        results = [result for result in results[len(results) - count :] if result is not None]
        count = len(results)
        for result in results:
            if isinstance(result, fx.Node):
                self.tensor(result)  # a constant output is made into layers first
        self._output(SimpleNamespace(args=(results[0] if count == 1 else tuple(results),)))

    # -- what handlers use ---------------------------------------------------------------------------
    def dims(self, value: Any) -> list[Any]:
        return [_key(dim) for dim in value.meta["val"].shape]

    def value(self, node: Any) -> Any:
        """The example value of a constant node (computed from buffers and sizes only)."""
        return self.kept.get(node)

    def is_constant(self, value: Any) -> bool:
        return isinstance(value, fx.Node) and value in self.constant

    def alias(self, node: Any, source: Any) -> None:
        """``node`` is ``source`` (a copy, a no-op cast, an expansion its consumers broadcast anyway)."""
        self.values[node] = _Tensor(self.tensor(source))

    def tensor(self, value: Any) -> str:
        """The ref of a tensor argument; a constant one is made into layers first, a parameter is refused."""
        if isinstance(value, fx.Node) and value not in self.values:
            if value.op == "placeholder" and value.name in self.parameters:
                raise Refusal(
                    f"forward uses the parameter self.{self.parameters[value.name]} directly; "
                    "Tidal layers own their weights",
                    hint="keep parameters inside the layers (modules) that use them",
                )
            if value in self.constant:
                self._materialize(value)
        if isinstance(value, fx.Node):
            return self._ref(value)
        raise Refusal(
            f"the constant {value!r} is not a tensor; Tidal layers combine tensors",
            hint="make the constant a learned layer, or fold it into a neighbouring layer",
        )

    def layer(
        self,
        node: Any,
        kind_name: str,
        refs: list[str],
        params: dict[str, Any],
        layer_id: str | None = None,
        check: bool = True,
    ) -> str:
        """Add one layer for ``node`` (params canonical, defaults left out); ``check``: compare its shape with PyTorch's."""
        kind = KINDS[kind_name]
        kept: dict[str, Any] = {}
        for param in kind.params:
            if param.name not in params:
                continue
            value = _canonical(param, params[param.name])
            problem = param.check(value)
            if problem is not None:
                raise Refusal(f"{kind_name} {param.name} {problem}")
            if param.required or param.inferred or param.explicit or not _is_default(param, value):
                kept[param.name] = value
        identifier = self._unique(layer_id or node.name)
        entry: dict[str, Any] = {"id": identifier, "kind": kind_name, "inputs": refs}
        if kept:
            entry["params"] = kept
        self.layers.append(entry)
        if check:
            self.node_of[identifier] = node
        self.values[node] = (
            _Tuple(identifier, None) if kind.outputs == ("*",) else _Tensor(identifier)
        )
        self.produced.append((identifier, node))
        return identifier

    def owner(self, node: Any, weight: Any, bias: Any = None) -> str:
        """The layer id of the module owning ``weight`` (and ``bias``): its path, dots made underscores."""
        targets = []
        for value, leaf in ((weight, "weight"), (bias, "bias")):
            if value is None:
                continue
            target = self.parameters.get(value.name) if isinstance(value, fx.Node) else None
            if target is None:
                raise Refusal(
                    f"its {leaf} is computed, not a parameter of a module; Tidal layers own their weights"
                )
            path, _, name = target.rpartition(".")
            if name != leaf:
                raise Refusal(
                    f"it uses the parameter self.{target} as its {leaf}; Tidal's layer keeps it as '{leaf}'",
                    hint=f"name the parameter '{leaf}' inside a module of its own",
                )
            if target in self.used:
                raise Refusal(
                    f"the parameter self.{target} is used twice (also by '{self.used[target]}'): its weights are "
                    "shared, and a layer runs once",
                    hint="use one module per call",
                )
            targets.append((target, path))
        paths = {path for _, path in targets}
        if len(paths) != 1:
            raise Refusal(
                f"its weight and bias belong to different modules ({', '.join(sorted(paths))})"
            )
        identifier = re.sub(r"\W", "_", paths.pop()) or node.name
        for target, _ in targets:
            self.used[target] = identifier
        return identifier

    def owner_of_buffers(self, layer_id: str, *buffers: Any) -> None:
        """Check that running statistics belong to the module owning the layer's parameters."""
        for value in buffers:
            target = self.buffers.get(value.name, "") if isinstance(value, fx.Node) else ""
            if re.sub(r"\W", "_", target.rpartition(".")[0]) != layer_id:
                raise Refusal(
                    f"its statistics {target or value} are not buffers of the module owning its weights"
                )

    def broadcast_only(self, node: Any) -> bool:
        """Whether every use of ``node`` broadcasts it anyway (an attention mask), so an expansion can be dropped."""
        from tidal.nn._import_aten import BROADCASTING

        for user in node.users:
            target = str(user.target)
            if target == "aten.scaled_dot_product_attention.default":
                if (
                    not (
                        (len(user.args) > 3 and user.args[3] is node)
                        or user.kwargs.get("attn_mask") is node
                    )
                    or node in user.args[:3]
                ):
                    return False
            elif target in BROADCASTING:
                if not self.broadcast_only(user):
                    return False
            elif not target.startswith("aten._assert"):
                return False
        return True

    # -- constants -----------------------------------------------------------------------------------
    def _materialize(self, node: Any) -> None:
        value = self.value(node)
        dims = self.dims(node)
        if value is None or not isinstance(value, torch.Tensor):
            raise Refusal(
                f"'{node.name}' is computed from buffers only and Tidal cannot rebuild it"
            )
        dtype = str(value.dtype).removeprefix("torch.")
        flat = value.reshape(-1)
        if flat.numel() and bool((flat == flat[0]).all()) and dtype in DTYPES:
            donor = self._donor(lambda other: other == dims)
            if donor is not None:
                fill = flat[0].item()
                self.layer(
                    node,
                    "full_like",
                    [donor[0]],
                    {"fill_value": int(fill) if isinstance(fill, bool) else fill, "dtype": dtype},
                )
                return
        spread = [axis for axis, size in enumerate(value.shape) if size != 1]
        if len(spread) == 1 and dtype == "int64" and torch.equal(flat, torch.arange(flat.numel())):
            axis = spread[0]
            donor = self._donor(lambda other: dims[axis] in other)
            if donor is not None:
                ref, shape = donor
                others = [position for position in range(len(dims)) if position != axis]
                current = self.layer(
                    node,
                    "positions",
                    [ref],
                    {"dim": shape.index(dims[axis])},
                    layer_id=f"{node.name}_positions",
                    check=not others,
                )
                for position in others:
                    current = self.layer(
                        node,
                        "unsqueeze",
                        [current],
                        {"dim": position},
                        layer_id=f"{node.name}_unsqueeze",
                        check=position == others[-1],
                    )
                return
        raise Refusal(
            f"'{node.name}' {list(value.shape)} {dtype} is computed from buffers and sizes only, and is neither "
            "positions (an arange) nor one repeated value: Tidal holds no constant tensors",
            hint="compute it from the inputs with Tidal's kinds, or pass it as an input",
        )

    def _donor(self, fits: Any) -> tuple[str, list[Any]] | None:
        """A tensor made so far whose shape ``fits`` (inputs first): what a constant's shape is read from."""
        for ref, node in self.produced:
            shape = self.dims(node)
            if fits(shape):
                return ref, shape
        return None


def export_network(
    importer: _Importer,
    module: Any,
    examples: Sequence[Any],
    names: Sequence[str] | None,
    shapes: Mapping[str, Sequence[int | str]] | list[list[int | str]] | None,
    output_names: Sequence[str] | None,
    fx_problem: str | None = None,
) -> dict[str, Any]:
    """The network of ``module`` read from its ``torch.export`` graph (inputs, layers, outputs)."""
    labels = list(names) if names else forward_names(module, len(examples))
    program, declared = export_program(
        module,
        examples,
        labels,
        shapes if isinstance(shapes, list) else dict(shapes or {}),
        importer.batch_dim,
        fx_problem,
    )
    return ExportWalker(importer, program, examples, labels, declared, output_names).run()
