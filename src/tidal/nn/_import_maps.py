"""What a traced PyTorch call means as a layer: the tables :func:`tidal.nn.from_module` reads.

- A ``torch.nn`` module maps to the kind whose row names its class (``torch="Conv2d"``); its
  params are read from the module's attributes (:func:`module_params`), and the module is then
  rebuilt from those params on the meta device and compared with the original (repr, public
  settings, parameter shapes), so a setting Tidal cannot express (``padding_mode='reflect'``,
  ``proj_size``) is refused instead of being lost.
- Functions and tensor methods map through small signatures (:data:`CALLS`): ``"x"`` is a
  tensor input, ``"dim=0>dim"`` a param with its default, ``"dtype=None!"`` an argument that
  must keep its default, ``"inplace=False~"`` one that is accepted and ignored.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from tidal.nn._kind import LayerKind
from tidal.nn._kinds import KINDS
from tidal.nn._params import ParamDef
from tidal.nn._torch import require_torch

torch = require_torch()
import torch.nn.functional as F  # noqa: E402

_MISSING: Any = object()


class Refusal(Exception):
    """One traced call that cannot become a layer; the message says what and what to do instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


#: torch.nn class -> kind
MODULE_KINDS: dict[type, LayerKind] = {getattr(torch.nn, kind.torch): kind for kind in KINDS.values() if kind.torch}


def _canonical(param: ParamDef, value: Any) -> Any:
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, torch.Tensor) or (value is None and param.type == "bool"):
        return value is not None  # a bias Parameter, or None
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list) and param.type in ("ints", "padding", "optional_ints", "size", "sections"):
        if value and all(item == value[0] for item in value) and param.type != "sections":
            return value[0]
    return value


def _transformer(module: Any) -> dict[str, Any]:
    code = getattr(module, "activation_relu_or_gelu", None)  # the encoder layer keeps one; the decoder does not
    if code is None:
        code = 1 if module.activation is F.relu else 2 if module.activation is F.gelu else 0
    if code not in (1, 2):
        raise Refusal(f"{type(module).__name__} uses a custom activation; Tidal supports 'relu' and 'gelu'")
    return {
        "d_model": module.self_attn.embed_dim,
        "nhead": module.self_attn.num_heads,
        "dim_feedforward": module.linear1.out_features,
        "dropout": module.dropout.p,
        "activation": "relu" if code == 1 else "gelu",
        "layer_norm_eps": module.norm1.eps,
        "batch_first": module.self_attn.batch_first,
        "norm_first": module.norm_first,
        "bias": module.linear1.bias is not None,
    }


def _attention(module: Any) -> dict[str, Any]:
    return {
        "embed_dim": module.embed_dim,
        "num_heads": module.num_heads,
        "dropout": module.dropout,
        "bias": module.in_proj_bias is not None or module.out_proj.bias is not None,
        "batch_first": module.batch_first,
        "kdim": None if module.kdim == module.embed_dim else module.kdim,
        "vdim": None if module.vdim == module.embed_dim else module.vdim,
    }


_READERS = {
    "TransformerEncoderLayer": _transformer,
    "TransformerDecoderLayer": _transformer,
    "MultiheadAttention": _attention,
}


def module_params(kind: LayerKind, module: Any) -> dict[str, Any]:
    """The spec params of ``module``: required ones, and those that differ from the kind's defaults."""
    assert kind.torch is not None
    reader = _READERS.get(kind.torch)
    raw = reader(module) if reader else {param.name: getattr(module, param.name, _MISSING) for param in kind.params}
    params: dict[str, Any] = {}
    for param in kind.params:
        value = raw.get(param.name, _MISSING)
        if value is _MISSING:
            raise Refusal(f"{type(module).__name__} has no attribute '{param.name}' to read")
        value = _canonical(param, value)
        if param.name == "stride" and param.type == "optional_ints" and value == _canonical(param, module.kernel_size):
            value = None  # pools: a stride equal to the kernel is the default
        if param.required or param.inferred or param.explicit or not _is_default(param, value):
            params[param.name] = value
    return params


def _is_default(param: ParamDef, value: Any) -> bool:
    return value == param.default and type(value) is type(param.default)


#: constructor arguments that skip a weight fill with no meta kernel (normal_ would import torch._dynamo:
#: seconds on first use); the rebuilt module is only compared, never run
_META_ARGUMENTS = {
    "Embedding": lambda params: {"_weight": torch.empty(params["num_embeddings"], params["embedding_dim"])},
}


def _settings(module: Any) -> dict[str, Any]:
    """Public plain settings of a module and its children (what its repr may not show)."""
    found: dict[str, Any] = {}
    for name, child in module.named_modules():
        for key, value in vars(child).items():
            if key.startswith("_") or key == "training":
                continue
            if value is None or isinstance(value, (bool, int, float, str, tuple)) or callable(value):
                found[f"{name}.{key}"] = value
    return found


def verify_rebuild(kind: LayerKind, params: dict[str, Any], module: Any) -> str | None:
    """Rebuild ``module`` from ``params`` (on the meta device); what differs, or ``None``."""
    from tidal.nn._build import make_layer

    full = {param.name: params.get(param.name, param.default) for param in kind.params}
    try:
        with torch.device("meta"):
            extra = _META_ARGUMENTS[kind.torch](full) if kind.torch in _META_ARGUMENTS else {}
            rebuilt = make_layer(kind, full, **extra)
    except Exception as error:  # a combination torch itself refuses
        return f"rebuilding it from {params} fails: {error}"
    ours, theirs = _settings(rebuilt), _settings(module)
    if ours != theirs:
        keys = sorted(key for key in set(ours) | set(theirs) if ours.get(key, _MISSING) != theirs.get(key, _MISSING))
        shown = ", ".join(f"{key.lstrip('.')}={theirs.get(key, '(unset)')!r}" for key in keys)
        return f"settings Tidal's {kind.name} cannot express: {shown}"
    if repr(rebuilt) != repr(module):
        return f"its settings differ from what Tidal's {kind.name} can express: {module!r} vs {rebuilt!r}"
    shapes = {key: tuple(value.shape) for key, value in rebuilt.state_dict().items()}
    original = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    if shapes != original:
        return f"its weights differ from the kind's: {sorted(set(shapes) ^ set(original)) or 'shapes'}"
    return None


@dataclass(frozen=True)
class Call:
    """How one function or method maps to a kind: its argument signature and fixed params."""

    kind: str
    signature: tuple[str, ...]
    fixed: tuple[tuple[str, Any], ...] = ()


def _activation(kind: str, *extra: str) -> Call:
    return Call(kind, ("x", *extra, "inplace=False~"))


_SOFTMAX = ("x", "dim=None>dim", "_stacklevel=3~", "dtype=None!")
_REDUCE = ("x", "dim=None>dim", "keepdim=False>keepdim", "dtype=None!")
_POOL = ("x", "kernel_size>kernel_size", "stride=None>stride", "padding=0>padding")
_ATTENTION = ("query", "key", "value", "attn_mask=None?", "dropout_p=0.0!", "is_causal=False>is_causal", "scale=None>scale",
              "enable_gqa=False!")

#: function or method name -> its mapping; ``"method:name"`` keys are tensor methods
CALLS: dict[Any, Call] = {
    operator.add: Call("add", ("a", "b")), operator.iadd: Call("add", ("a", "b")),
    torch.add: Call("add", ("a", "b", "alpha=1!")),
    "method:add": Call("add", ("a", "b", "alpha=1!")),
    operator.sub: Call("subtract", ("a", "b")), torch.sub: Call("subtract", ("a", "b", "alpha=1!")),
    "method:sub": Call("subtract", ("a", "b", "alpha=1!")),
    operator.mul: Call("multiply", ("a", "b")), operator.imul: Call("multiply", ("a", "b")), torch.mul: Call("multiply", ("a", "b")), "method:mul": Call("multiply", ("a", "b")),
    operator.matmul: Call("matmul", ("a", "b")), torch.matmul: Call("matmul", ("a", "b")),
    "method:matmul": Call("matmul", ("a", "b")), torch.bmm: Call("matmul", ("a", "b")),
    torch.cat: Call("concat", ("x*", "dim=0>dim")), torch.concat: Call("concat", ("x*", "dim=0>dim")),
    torch.split: Call("split", ("x", "split_size_or_sections>split_size_or_sections", "dim=0>dim")),
    "method:split": Call("split", ("x", "split_size>split_size_or_sections", "dim=0>dim")),
    torch.chunk: Call("chunk", ("x", "chunks>chunks", "dim=0>dim")),
    "method:chunk": Call("chunk", ("x", "chunks>chunks", "dim=0>dim")),
    torch.flatten: Call("flatten", ("x", "start_dim=0>start_dim", "end_dim=-1>end_dim")),
    "method:flatten": Call("flatten", ("x", "start_dim=0>start_dim", "end_dim=-1>end_dim")),
    torch.transpose: Call("transpose", ("x", "dim0>dim0", "dim1>dim1")),
    "method:transpose": Call("transpose", ("x", "dim0>dim0", "dim1>dim1")),
    torch.permute: Call("permute", ("x", "dims>dims")),
    torch.squeeze: Call("squeeze", ("x", "dim>dim")), "method:squeeze": Call("squeeze", ("x", "dim>dim")),
    torch.unsqueeze: Call("unsqueeze", ("x", "dim>dim")), "method:unsqueeze": Call("unsqueeze", ("x", "dim>dim")),
    torch.mean: Call("mean", _REDUCE), "method:mean": Call("mean", _REDUCE),
    torch.sum: Call("sum", _REDUCE), "method:sum": Call("sum", _REDUCE),
    torch.select: Call("select", ("x", "dim>dim", "index>index")), "method:select": Call("select", ("x", "dim>dim", "index>index")),
    F.relu: _activation("relu"), torch.relu: _activation("relu"), "method:relu": _activation("relu"),
    F.relu6: _activation("relu6"), F.silu: _activation("silu"), F.hardswish: _activation("hardswish"),
    F.hardsigmoid: _activation("hardsigmoid"), F.mish: _activation("mish"),
    F.leaky_relu: _activation("leaky_relu", "negative_slope=0.01>negative_slope"),
    F.elu: _activation("elu", "alpha=1.0>alpha"),
    F.gelu: Call("gelu", ("x", "approximate='none'>approximate")),
    torch.tanh: Call("tanh", ("x",)), F.tanh: Call("tanh", ("x",)), "method:tanh": Call("tanh", ("x",)),
    torch.sigmoid: Call("sigmoid", ("x",)), F.sigmoid: Call("sigmoid", ("x",)), "method:sigmoid": Call("sigmoid", ("x",)),
    F.softplus: Call("softplus", ("x", "beta=1.0>beta", "threshold=20.0>threshold")),
    F.softmax: Call("softmax", _SOFTMAX), torch.softmax: Call("softmax", _SOFTMAX), "method:softmax": Call("softmax", _SOFTMAX),
    F.log_softmax: Call("log_softmax", _SOFTMAX), torch.log_softmax: Call("log_softmax", _SOFTMAX),
    "method:log_softmax": Call("log_softmax", _SOFTMAX),
    F.dropout: Call("dropout", ("x", "p=0.5>p", "training=True~", "inplace=False~")),
    F.max_pool1d: Call("maxpool1d", (*_POOL, "dilation=1>dilation", "ceil_mode=False>ceil_mode", "return_indices=False!")),
    F.max_pool2d: Call("maxpool2d", (*_POOL, "dilation=1>dilation", "ceil_mode=False>ceil_mode", "return_indices=False!")),
    F.avg_pool2d: Call("avgpool2d", (*_POOL, "ceil_mode=False>ceil_mode", "count_include_pad=True>count_include_pad",
                                     "divisor_override=None>divisor_override")),
    F.adaptive_avg_pool1d: Call("adaptive_avgpool1d", ("x", "output_size>output_size")),
    F.adaptive_avg_pool2d: Call("adaptive_avgpool2d", ("x", "output_size>output_size")),
    F.adaptive_max_pool2d: Call("adaptive_maxpool2d", ("x", "output_size>output_size", "return_indices=False!")),
    F.scaled_dot_product_attention: Call("scaled_dot_product_attention", _ATTENTION),
    torch.unflatten: Call("unflatten", ("x", "dim>dim", "sizes>sizes")),
    "method:unflatten": Call("unflatten", ("x", "dim>dim", "sizes>sizes")),
    "method:to": Call("cast", ("x", "dtype>dtype", "non_blocking=False~", "copy=False!")),
    torch.full_like: Call("full_like", ("x", "fill_value>fill_value", "dtype=None>dtype", "layout=None~", "device=None~",
                                        "requires_grad=False!", "memory_format=None~", "pin_memory=False~")),
}


def _literal(text: str) -> Any:
    import ast

    return ast.literal_eval(text)


@dataclass(frozen=True)
class _Argument:
    name: str
    role: str  # "tensor", "tensors", "optional" (a tensor or None), "param", "fixed" (must keep its default), "ignored"
    default: Any = _MISSING
    param: str | None = None


def _argument(entry: str) -> _Argument:
    """``"x"``, ``"x*"``, ``"name>param"``, ``"name=default>param"``, ``"name=default!"``, ``"name=default~"``,
    ``"name=None?"`` (an optional tensor)."""
    head, _, param = entry.partition(">")
    name, equals, default = head.partition("=")
    value = _literal(default.rstrip("!~?")) if equals else _MISSING
    if default.endswith("?"):
        return _Argument(name, "optional", None)
    if param:
        return _Argument(name, "param", value, param)
    if default.endswith("!"):
        return _Argument(name, "fixed", value)
    if default.endswith("~"):
        return _Argument(name, "ignored", value)
    return _Argument(name.rstrip("*"), "tensors" if name.endswith("*") else "tensor")


def bind_call(call: Call, args: tuple[Any, ...], kwargs: dict[str, Any], is_node: Any) -> tuple[list[Any], dict[str, Any]]:
    """The tensor inputs and spec params of one call, by ``call``'s signature; :class:`Refusal` when it does not fit."""
    kind = KINDS[call.kind]
    inputs: list[Any] = []
    params: dict[str, Any] = dict(call.fixed)
    remaining = dict(kwargs)
    arguments = [_argument(entry) for entry in call.signature]
    if len(args) > len(arguments):
        raise Refusal(f"takes {len(args)} arguments, more than Tidal reads")
    for index, argument in enumerate(arguments):
        if index < len(args):
            value = args[index]
        elif argument.name in remaining:
            value = remaining.pop(argument.name)
        elif argument.default is not _MISSING:
            value = argument.default
        else:
            raise Refusal(f"argument '{argument.name}' is missing")
        if argument.role == "optional" and value is None:
            continue
        if argument.role == "optional":
            if not is_node(value):
                raise Refusal(f"'{argument.name}' is {value!r}, not a tensor or None")
            inputs.append(value)
        elif argument.role == "tensors":
            if not isinstance(value, (list, tuple)) or not all(is_node(item) for item in value):
                raise Refusal(f"'{argument.name}' must be a list of tensors")
            inputs.extend(value)
        elif argument.role == "tensor":
            if not is_node(value):
                raise Refusal(f"'{argument.name}' is the constant {value!r}, not a tensor; Tidal layers combine tensors",
                              hint="make the constant a learned layer, or fold it into a neighbouring layer")
            inputs.append(value)
        elif is_node(value):
            raise Refusal(f"argument '{argument.name}' is computed from tensors; Tidal needs a constant there")
        elif argument.role == "fixed" and value != argument.default:
            raise Refusal(f"argument {argument.name}={value!r} is not supported (only {argument.default!r})")
        elif argument.role == "param":
            assert argument.param is not None
            params[argument.param] = list(value) if isinstance(value, tuple) else value
    if remaining:
        raise Refusal(f"argument '{sorted(remaining)[0]}' is not supported")
    for param in kind.params:
        if param.name not in params:
            continue
        params[param.name] = _canonical(param, params[param.name])
        problem = param.check(params[param.name])
        if problem is not None:
            raise Refusal(f"{param.name} {problem}")
        if _is_default(param, params[param.name]) and not param.explicit:
            del params[param.name]
    return inputs, params
