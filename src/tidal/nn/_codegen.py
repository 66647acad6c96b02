"""Spec -> a readable ``nn.Module`` source file.

One class per network and per distinct sub-network (blocks used with different inferred params
get a class each). ``__init__`` builds each layer as an attribute named by its id
(``self.conv1 = nn.Conv2d(1, 32, kernel_size=3)``), writing only the params that differ from
the defaults; ``forward`` runs the layers in topological order, one named variable per layer,
each line commented with its inferred shape. Layers without a ``torch.nn`` class are written
in their functional form (``b1_add = b1_bn2 + stem_relu``). No torch is needed to generate.

Every string that reaches the code is an identifier, a choice from a kind's fixed list, or a
``repr``: nothing in a spec can inject code.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from tidal.nn._infer import LayerShapes, NetworkShapes, infer_shapes
from tidal.nn._kind import LayerKind
from tidal.nn._params import ParamDef
from tidal.nn._spec import DTYPES, NetworkSpec
from tidal.nn._validate import Step

_TEMPLATE_FIELD = re.compile(r"\{([*,@]?)([A-Za-z_][A-Za-z0-9_]*)\}")
INDENT = "    "


def class_name(name: str) -> str:
    """``mnist-cnn`` -> ``MnistCnn``; anything not a letter or digit splits words."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", name) if word]
    text = "".join(word[:1].upper() + word[1:] for word in words) or "Network"
    return f"Net{text}" if text[0].isdigit() else text


def literal(value: Any) -> str:
    """A param value as Python source: lists become tuples (idiomatic for sizes and dims)."""
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} values into generated code")


def _docstring(text: str, indent: str) -> list[str]:
    text = " ".join(text.split())
    if '"""' in text or "\\" in text or text.endswith('"'):
        return [f"{indent}{text!r}"]
    lines = textwrap.wrap(text, width=96 - len(indent)) or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def constructor_args(kind: LayerKind, params: dict[str, Any]) -> str:
    """The arguments of ``nn.<Class>(...)``: positional params in order, then keywords that differ from the default."""
    positional: list[str] = []
    keywords: list[str] = []
    for param in kind.params:
        if not param.constructor:
            continue
        value = params[param.name]
        if param.positional:
            positional.append(literal(value))
        elif param.required or param.inferred or param.explicit or not _same(value, param):
            keywords.append(f"{param.name}={literal(value)}")
    return ", ".join([*positional, *keywords])


def _same(value: Any, param: ParamDef) -> bool:
    default = param.default
    return value == default and type(value) is type(default)


class _Class:
    def __init__(self, name: str, shapes: NetworkShapes, description: str | None) -> None:
        self.name = name
        self.shapes = shapes
        self.description = description
        self.lines: list[str] = []


class _Writer:
    def __init__(self, spec: NetworkSpec, shapes: NetworkShapes) -> None:
        self.classes: list[_Class] = []
        self.by_key: dict[str, str] = {}
        self.names = {class_name(spec.name)}
        self.top = _Class(class_name(spec.name), shapes, spec.description)

    def class_for(self, layer: LayerShapes, step: Step) -> str:
        """The class of a ``module`` layer's sub-network (one per distinct set of resolved params)."""
        assert layer.module is not None and step.sub is not None
        network, _, label = step.sub
        key = f"{id(network)}:{_params_key(layer.module)}"
        if key in self.by_key:
            return self.by_key[key]
        base = class_name(getattr(network, "name", None) or label.rstrip(":").rsplit("/", 1)[-1].rsplit(".", 1)[0])
        name, counter = base, 2
        while name in self.names:
            name, counter = f"{base}{counter}", counter + 1
        self.names.add(name)
        self.by_key[key] = name
        cls = _Class(name, layer.module, getattr(network, "description", None))
        cls.lines = self._class_lines(cls)  # registers the classes it uses first
        self.classes.append(cls)
        return name

    def _class_lines(self, cls: _Class) -> list[str]:
        shapes = cls.shapes
        plan = shapes.plan
        variables = _variables(shapes)
        init: list[str] = []
        body: list[str] = []
        for step in plan.steps:
            layer = shapes.layers[step.layer.id]
            kind = step.kind
            assert kind is not None
            args = [variables[ref] for _, ref, _ in layer.inputs]
            comment = "  # " + ", ".join(str(tensor) for tensor in layer.outputs.values())
            targets = _targets(step, layer, variables)
            if kind.nested:
                init.append(f"self.{layer.id} = {self.class_for(layer, step)}()")
                body.append(f"{targets} = self.{layer.id}({', '.join(args)}){comment}")
            elif kind.torch is not None:
                init.extend(_wrapped(f"self.{layer.id} = nn.{kind.torch}(", constructor_args(kind, layer.params), ")"))
                body.append(f"{targets} = self.{layer.id}({', '.join(_call_args(kind, args))}){comment}")
            else:
                assert kind.code is not None
                body.append(f"{targets} = {_render(kind, layer, args)}{comment}")
        inputs = ", ".join(f"{name}: torch.Tensor" for name in shapes.inputs)
        outputs = [variables[target if port is None else f"{target}.{port}"] for target, port in plan.outputs.values()]
        returns = "torch.Tensor" if len(outputs) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(outputs))}]"
        lines = [f"class {cls.name}(nn.Module):"]
        lines.extend(_docstring(cls.description, INDENT) if cls.description else [])
        if cls.description:
            lines.append("")
        lines.extend([f"{INDENT}def __init__(self) -> None:", f"{INDENT * 2}super().__init__()"])
        lines.extend(f"{INDENT * 2}{line}" for line in init)
        lines.extend(["", f"{INDENT}def forward(self, {inputs}) -> {returns}:"])
        if len(outputs) > 1:
            lines.append(f'{INDENT * 2}"""Returns ({", ".join(plan.outputs)})."""')
        lines.extend(f"{INDENT * 2}{line}" for line in body)
        lines.append(f"{INDENT * 2}return {', '.join(outputs)}")
        return lines


def _wrapped(opening: str, args: str, closing: str) -> list[str]:
    """One line when it fits in 100 columns (with the class's indent), else the arguments on their own line."""
    if len(INDENT * 2 + opening + args + closing) <= 100:
        return [opening + args + closing]
    return [opening, INDENT + args, closing]


def _params_key(shapes: NetworkShapes) -> str:
    parts = []
    for layer in shapes.layers.values():
        inner = _params_key(layer.module) if layer.module is not None else ""
        parts.append(f"{layer.id}:{sorted(layer.params.items(), key=lambda item: item[0])!r}:{inner}")
    return "|".join(parts)


def _variables(shapes: NetworkShapes) -> dict[str, str]:
    """ref -> variable name: inputs and each layer's first output keep their names, other ports get ``id_port``."""
    taken = set(shapes.inputs) | set(shapes.layers) | {"self", "torch", "nn", "_"}
    variables = {name: name for name in shapes.inputs}
    for layer in shapes.layers.values():
        for index, port in enumerate(layer.outputs):
            if index == 0:
                variables[layer.id] = layer.id
                variables[f"{layer.id}.{port}"] = layer.id
                continue
            name = f"{layer.id}_{port}"
            while name in taken:
                name += "_"
            taken.add(name)
            variables[f"{layer.id}.{port}"] = name
    return variables


def _targets(step: Step, layer: LayerShapes, variables: dict[str, str]) -> str:
    ports = list(layer.outputs)
    if len(ports) == 1 and (step.kind is None or step.kind.unpack is None):
        return layer.id
    names = {port: variables[f"{layer.id}.{port}"] for port in ports}
    pattern = step.kind.unpack if step.kind is not None and step.kind.unpack is not None else tuple(ports)
    return _unpack_text(pattern, names, top=True)


def _unpack_text(pattern: Any, names: dict[str, str], top: bool = False) -> str:
    if isinstance(pattern, str):
        return names.get(pattern, "_")
    parts = [_unpack_text(item, names) for item in pattern]
    if not top and all(part == "_" for part in parts):
        return "_"
    text = ", ".join(parts)
    return text if top else f"({text})"


def _call_args(kind: LayerKind, args: list[str]) -> list[str]:
    """Module calls pass every port; an unconnected optional port passes its default port's tensor."""
    by_port: dict[str, str] = {}
    names = kind.port_names(len(args))
    for name, arg in zip(names, args, strict=True):
        by_port[name] = arg
    out = list(args)
    for port in kind.inputs[len(args):]:
        if port.default is not None and port.default in by_port:
            by_port[port.name] = by_port[port.default]
            out.append(by_port[port.name])
    return out


def _render(kind: LayerKind, layer: LayerShapes, args: list[str]) -> str:
    assert kind.code is not None
    ports = dict(zip(kind.port_names(len(args)), args, strict=True))

    def field(match: re.Match[str]) -> str:
        mode, name = match.group(1), match.group(2)
        if name == "inputs":
            return ", ".join(args)
        if name in ports:
            return f", {name}={ports[name]}" if mode == "," else ports[name]
        if mode == "," and any(port.name == name for port in kind.inputs):
            return ""  # an optional port left unconnected
        value = layer.params[name]
        if mode == "@":  # a dtype: one of the fixed names, written as torch.<name>
            if value not in DTYPES:
                raise ValueError(f"{value!r} is not a dtype Tidal writes")
            return f"torch.{value}"
        if mode == "*":
            return ", ".join(literal(item) for item in value)
        if mode == ",":
            param = kind.param(name)
            return "" if param is not None and _same(value, param) else f", {name}={literal(value)}"
        return literal(value)

    return _TEMPLATE_FIELD.sub(field, kind.code)


def to_source(spec: NetworkSpec) -> str:
    """A Python module defining ``spec`` as ``nn.Module`` classes (the network's class last).

    Raises :class:`NetworkError` if the spec has problems: code is only written for networks
    whose every shape is known.
    """
    shapes = infer_shapes(spec)
    writer = _Writer(spec, shapes)
    top_lines = writer._class_lines(writer.top)  # registers sub-network classes as it meets them
    shown = re.sub(r"[^A-Za-z0-9 ._:-]", "_", spec.name)
    lines = [f'"""Network {shown!r}, generated by Tidal from a tidal-nn: 1 spec.', "",
             f"Edit freely: tidal.nn.from_module({writer.top.name}(), example_inputs) reads it back into a spec.",
             '"""', "", "import torch", "from torch import nn", ""]
    for cls in writer.classes:
        lines.extend(["", *cls.lines, ""])
    lines.extend(["", *top_lines])
    return "\n".join(lines) + "\n"
