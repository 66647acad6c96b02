"""What a layer kind is: one row of data, and the small context its shape rule works in.

A :class:`LayerKind` row holds the kind's name, its parameters (:class:`ParamDef`), its input
ports, its output ports, a shape rule, and its PyTorch form: the ``torch.nn`` class that
generated code constructs (``torch="Conv2d"``), or a functional template (``code="{a} + {b}"``).
Shape rules receive a :class:`RuleContext` and return the output :class:`TensorType` list; they
report every problem through :meth:`RuleContext.problem` (naming the input port and both shapes)
and still return an output when one can be known, so one mistake does not hide the next.
No torch here: shape inference is pure Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tidal.nn._dims import Dim, Expr, format_shape
from tidal.nn._issues import LayerIssue, issue
from tidal.nn._params import INFER, ParamDef
from tidal.nn._spec import FLOAT_DTYPES


class TensorType:
    """The type of one edge: a shape of dims (ints or :class:`Expr`) and a dtype name."""

    __slots__ = ("dtype", "shape")

    def __init__(self, shape: tuple[Dim, ...], dtype: str = "float32") -> None:
        self.shape = shape
        self.dtype = dtype

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorType) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def __str__(self) -> str:
        text = format_shape(self.shape)
        return text if self.dtype == "float32" else f"{text} {self.dtype}"

    def __repr__(self) -> str:
        return f"TensorType({self})"

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorType:
        return TensorType(shape, self.dtype)


@dataclass(frozen=True)
class Port:
    """An input port. An optional port left unconnected takes the input of port ``default``."""

    name: str
    optional: bool = False
    default: str | None = None
    variadic: bool = False  # any number of tensors, at least ``minimum`` (named name0, name1, ...)
    minimum: int = 1


@dataclass(frozen=True)
class Sample:
    """A small, valid use of a kind: its input shapes and params (for docs and the kind checks)."""

    inputs: tuple[tuple[list[int | str], str], ...]
    params: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)


Rule = Callable[["RuleContext"], "list[TensorType] | None"]


@dataclass(frozen=True)
class LayerKind:
    """One layer kind, declared as data."""

    name: str
    category: str
    summary: str
    params: tuple[ParamDef, ...]
    inputs: tuple[Port, ...]
    rule: Rule
    sample: Sample
    outputs: tuple[str, ...] = ("output",)  # ("*",): numbered by the rule ("0", "1", ...)
    torch: str | None = None  # torch.nn class generated code constructs
    code: str | None = None  # functional template for generated code
    unpack: Any = None  # how the module's result nests its outputs: ("output", ("h_n", "c_n"))
    accepts: str = "float"  # input dtypes: "float", "int" (indices) or "any"
    nested: bool = False  # holds a sub-network: ports and outputs are the sub-network's
    call_options: tuple[str, ...] = ()  # keyword arguments of the torch call that leave the outputs' values alone

    def param(self, name: str) -> ParamDef | None:
        for param in self.params:
            if param.name == name:
                return param
        return None

    def port_names(self, count: int) -> list[str]:
        """The port names of ``count`` connected inputs."""
        names: list[str] = []
        for port in self.inputs:
            if port.variadic:
                names.extend(f"{port.name}{index}" for index in range(count - len(names)))
                break
            names.append(port.name)
        return names[:count]

    def arity(self) -> tuple[int, int | None]:
        """The least and most inputs this kind takes (``None``: no upper bound)."""
        least, most = 0, 0
        for port in self.inputs:
            if port.variadic:
                return least + port.minimum, None
            most += 1
            if not port.optional:
                least += 1
        return least, most

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of this kind's ``params`` (the Studio's form, an editor's completion)."""
        required = [param.name for param in self.params if param.required]
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {param.name: param.json_schema() for param in self.params},
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema


class Incoming:
    """One connected input as a rule sees it: its port name, type and the ref it comes from."""

    __slots__ = ("port", "source", "type")

    def __init__(self, port: str, type_: TensorType, source: str) -> None:
        self.port = port
        self.type = type_
        self.source = source

    @property
    def shape(self) -> tuple[Dim, ...]:
        return self.type.shape

    @property
    def rank(self) -> int:
        return len(self.type.shape)

    def describe(self) -> str:
        """``from 'flatten' [batch, 1568]``: after a size it explains."""
        return f"from '{self.source}' {self.type}"

    def shown(self) -> str:
        """``[batch, 1568] from 'flatten'``: the tensor itself."""
        return f"{self.type} from '{self.source}'"


class RuleContext:
    """The layer being inferred: resolved params, connected inputs, and where problems go."""

    __slots__ = ("expand", "inputs", "issues", "kind", "layer", "params")

    def __init__(self, layer: str, kind: LayerKind, params: dict[str, Any], inputs: list[Incoming], issues: list[LayerIssue],
                 expand: Callable[[RuleContext], list[TensorType] | None] | None = None) -> None:
        self.layer = layer
        self.kind = kind
        self.params = params
        self.inputs = inputs
        self.issues = issues
        self.expand = expand  # for nested kinds: infers the sub-network (set by the engine)

    def problem(self, message: str, *, port: str | None = None, param: str | None = None, hint: str | None = None,
                code: str = "shape", expected: str | None = None, actual: str | None = None) -> None:
        self.issues.append(issue(message, layer=self.layer, port=port, param=param, hint=hint, code=code,
                                 expected=expected, actual=actual))

    def input(self, port: str) -> Incoming | None:
        for incoming in self.inputs:
            if incoming.port == port:
                return incoming
        return None

    def expect_rank(self, incoming: Incoming, ranks: tuple[int, ...], layout: str, hint: str | None = None) -> bool:
        """True when ``incoming`` has one of ``ranks`` dims; otherwise report it (``layout`` names the dims)."""
        if incoming.rank in ranks:
            return True
        wanted = " or ".join(f"{rank}-d" for rank in ranks)
        self.problem(f"expects a {wanted} input {layout} but gets {incoming.rank}-d {incoming.type} from '{incoming.source}'",
                     port=incoming.port, hint=hint, expected=layout, actual=str(incoming.type))
        return False

    def match(self, incoming: Incoming, axis: int, param: str, label: str, hint: str | None = None) -> Any:
        """Check ``param`` against ``incoming``'s size on ``axis`` (or infer it when the spec left it out)."""
        actual = incoming.shape[axis]
        value = self.params[param]
        if value is INFER:
            if isinstance(actual, int):
                self.params[param] = actual
                return actual
            self.problem(f"cannot infer {param}: the {label} of the input is {actual}, not a number ({incoming.describe()})",
                         port=incoming.port, param=param, hint=f"set {param}, or give that input dim a fixed size",
                         actual=str(incoming.type))
            return None
        if actual != value:
            if hint is None:
                hint = f"set {param}: {actual}" if isinstance(actual, int) else f"give the input a fixed {label}, or change {param}"
            self.problem(f"expects {label} {value} ({param}) but gets {actual} {incoming.describe()}", port=incoming.port,
                         hint=hint, code="size_mismatch", expected=str(value), actual=str(incoming.type))
        return value

    def axis(self, incoming: Incoming, dim: int, param: str, *, extra: int = 0) -> int | None:
        """``dim`` as a positive axis of ``incoming`` (``extra`` allows positions past the end, as unsqueeze does)."""
        rank = incoming.rank + extra
        if -rank <= dim < rank:
            return dim + rank if dim < 0 else dim
        self.problem(f"{param} {dim} is out of range for a {incoming.rank}-d input {incoming.describe()}",
                     port=incoming.port, param=param, hint=f"use a {param} from {-rank} to {rank - 1}", code="bad_dim",
                     actual=str(incoming.type))
        return None


def spatial(ctx: RuleContext, name: str, count: int) -> tuple[int, ...] | None:
    """An int-or-list param as ``count`` ints; a list of the wrong length is reported."""
    value = ctx.params[name]
    if isinstance(value, int):
        return (value,) * count
    if isinstance(value, list) and len(value) == 1:
        return (value[0],) * count
    if isinstance(value, list) and len(value) == count:
        return tuple(value)
    ctx.problem(f"{name} lists {len(value)} sizes but this layer has {count} spatial dim{'s' if count > 1 else ''}",
                param=name, hint=f"give one number or {count}", code="bad_param")
    return None


def same_type(ctx: RuleContext) -> list[TensorType] | None:
    """Output = the first input's type (activations, dropout, identity)."""
    return [ctx.inputs[0].type]


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def describe(dim: Dim) -> str:
    return str(dim) if isinstance(dim, (int, Expr)) else repr(dim)


def p(name: str, type_: str, default: Any = None, help: str = "", **extra: Any) -> ParamDef:
    """A :class:`ParamDef` with a shorter spelling for the kind tables (``default=...`` omitted: required)."""
    from tidal.nn._params import REQUIRED

    return ParamDef(name, type_, REQUIRED if default is ... else default, help, **extra)
