"""Spec -> a PyTorch module, built directly (no generated code): :func:`build_module`.

Each layer with a ``torch.nn`` class becomes a submodule named by its id (so ``state_dict`` keys
are those of the generated code: ``conv1.weight``, ``block1.conv2.bias``); the other kinds run
from :data:`FUNCTIONS`, written here independently of the code templates, so that comparing a
built module with the generated code checks both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tidal.nn._infer import NetworkShapes, infer_shapes
from tidal.nn._kind import LayerKind
from tidal.nn._spec import NetworkSpec
from tidal.nn._torch import require_torch

torch = require_torch()
from torch import nn  # noqa: E402  (after the friendly ImportError above)

Tensors = list[Any]

#: the functional kinds, as plain torch calls: kind -> f(input tensors, params)
FUNCTIONS: dict[str, Callable[[Tensors, dict[str, Any]], Any]] = {
    "add": lambda xs, p: torch.add(xs[0], xs[1]),
    "subtract": lambda xs, p: torch.sub(xs[0], xs[1]),
    "multiply": lambda xs, p: torch.mul(xs[0], xs[1]),
    "matmul": lambda xs, p: torch.matmul(xs[0], xs[1]),
    "scale": lambda xs, p: torch.mul(xs[0], p["factor"]),
    "concat": lambda xs, p: torch.cat(xs, dim=p["dim"]),
    "split": lambda xs, p: torch.split(xs[0], p["split_size_or_sections"], dim=p["dim"]),
    "chunk": lambda xs, p: torch.chunk(xs[0], p["chunks"], dim=p["dim"]),
    "reshape": lambda xs, p: torch.reshape(xs[0], tuple(p["shape"])),
    "permute": lambda xs, p: torch.permute(xs[0], tuple(p["dims"])),
    "transpose": lambda xs, p: torch.transpose(xs[0], p["dim0"], p["dim1"]),
    "squeeze": lambda xs, p: torch.squeeze(xs[0], p["dim"]),
    "unsqueeze": lambda xs, p: torch.unsqueeze(xs[0], p["dim"]),
    "mean": lambda xs, p: torch.mean(xs[0], dim=_dims(p["dim"]), keepdim=p["keepdim"]),
    "sum": lambda xs, p: torch.sum(xs[0], dim=_dims(p["dim"]), keepdim=p["keepdim"]),
    "select": lambda xs, p: torch.select(xs[0], p["dim"], p["index"]),
    "unflatten": lambda xs, p: torch.unflatten(xs[0], p["dim"], tuple(p["sizes"])),
    "cast": lambda xs, p: xs[0].to(getattr(torch, p["dtype"])),
    "positions": lambda xs, p: torch.arange(xs[0].shape[p["dim"]], device=xs[0].device),
    "full_like": lambda xs, p: torch.full_like(xs[0], p["fill_value"], dtype=getattr(torch, p["dtype"])),
    "scaled_dot_product_attention": lambda xs, p: nn.functional.scaled_dot_product_attention(
        xs[0], xs[1], xs[2], attn_mask=xs[3] if len(xs) > 3 else None, is_causal=p["is_causal"], scale=p["scale"]),
}


def _dims(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def make_layer(kind: LayerKind, params: dict[str, Any], **extra: Any) -> Any:
    """The ``torch.nn`` module of one layer, from its resolved params (``extra``: more constructor arguments)."""
    assert kind.torch is not None
    arguments = {param.name: (tuple(value) if isinstance(value, list) else value)
                 for param in kind.params if param.constructor for value in [params[param.name]]}
    return getattr(nn, kind.torch)(**arguments, **extra)


def _flatten(result: Any, pattern: Any, out: dict[str, Any]) -> None:
    if isinstance(pattern, str):
        out[pattern] = result
        return
    for item, part in zip(result, pattern, strict=True):
        _flatten(item, part, out)


class NetworkModule(nn.Module):
    """A network built from its inferred spec; ``forward`` takes the inputs in spec order (or by name)."""

    def __init__(self, shapes: NetworkShapes) -> None:
        super().__init__()
        self._network = shapes.name
        self._inputs = list(shapes.inputs)
        self._outputs = list(shapes.plan.outputs.values())
        self._steps: list[tuple[str, LayerKind, list[str], dict[str, Any], list[str]]] = []
        for step in shapes.plan.steps:
            layer = shapes.layers[step.layer.id]
            kind = step.kind
            assert kind is not None
            if kind.nested:
                assert layer.module is not None
                self.add_module(layer.id, NetworkModule(layer.module))
            elif kind.torch is not None:
                self.add_module(layer.id, make_layer(kind, layer.params))
            elif kind.name not in FUNCTIONS:
                raise NotImplementedError(f"layer kind '{kind.name}' has no torch form to build")
            refs = [ref for _, ref, _ in layer.inputs]
            self._steps.append((layer.id, kind, refs, dict(layer.params), list(layer.outputs)))

    def extra_repr(self) -> str:
        return f"network={self._network!r}"

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) + len(kwargs) != len(self._inputs) or set(kwargs) - set(self._inputs[len(args):]):
            raise TypeError(f"network '{self._network}' takes inputs {', '.join(self._inputs)}")
        values: dict[str, Any] = dict(zip(self._inputs, args, strict=False))
        values.update(kwargs)
        for layer_id, kind, refs, params, ports in self._steps:
            tensors = [values[ref] for ref in refs]
            if kind.nested or kind.torch is not None:
                result = getattr(self, layer_id)(*self._call_args(kind, tensors))
            else:
                result = FUNCTIONS[kind.name](tensors, params)
            if kind.unpack is not None:
                found: dict[str, Any] = {}
                _flatten(result, kind.unpack, found)
                outputs = [found[port] for port in ports]
            elif len(ports) > 1 or kind.outputs == ("*",):
                outputs = list(result) if isinstance(result, (tuple, list)) else [result]
            else:
                outputs = [result]
            for index, (port, value) in enumerate(zip(ports, outputs, strict=True)):
                values[f"{layer_id}.{port}"] = value
                if index == 0:
                    values[layer_id] = value
        results = [values[target if port is None else f"{target}.{port}"] for target, port in self._outputs]
        return results[0] if len(results) == 1 else tuple(results)

    @staticmethod
    def _call_args(kind: LayerKind, tensors: list[Any]) -> list[Any]:
        if kind.nested:
            return tensors
        by_port = dict(zip(kind.port_names(len(tensors)), tensors, strict=True))
        out = list(tensors)
        for port in kind.inputs[len(tensors):]:
            if port.default is not None and port.default in by_port:
                by_port[port.name] = by_port[port.default]
                out.append(by_port[port.name])
        return out


def build_module(spec: NetworkSpec) -> NetworkModule:
    """``spec`` as a PyTorch module (shapes are checked first: :class:`NetworkError` lists any problem)."""
    return NetworkModule(infer_shapes(spec))
