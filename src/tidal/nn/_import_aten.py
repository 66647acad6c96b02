"""What an ATen operation of an exported graph means as a layer: the table :mod:`tidal.nn._import_export` reads.

Each entry of :data:`OPS` takes the walker and one node and adds its layers (the handlers of ops
that become ``torch.nn`` layers are in :mod:`tidal.nn._import_aten_layers`), or makes the node an
alias of its input: copies, no-op casts, expansions an attention mask broadcasts anyway. Reshapes
are read from the shapes before and after, not from their size arguments: a view that splits the
last dim is ``unflatten``, one that merges the trailing dims ``flatten``, one with a single
symbolic size ``reshape`` with -1 there. An op missing here is refused, named as ATen names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tidal.nn._import_aten_layers import arg as _arg
from tidal.nn._import_aten_layers import (
    batch_norm,
    convolution,
    embedding,
    layer_norm,
    linear,
    pool,
)
from tidal.nn._import_maps import Refusal
from tidal.nn._torch import require_torch

torch = require_torch()

Handler = Callable[[Any, Any], None]


def _unary(kind: str, **reads: tuple[int, str, Any]) -> Handler:
    """An op on one tensor whose params are read from its arguments: ``param=(index, aten name, default)``."""

    def handle(walker: Any, node: Any) -> None:
        params = {
            param: _arg(node, index, name, default)
            for param, (index, name, default) in reads.items()
        }
        walker.layer(node, kind, [walker.tensor(node.args[0])], params)

    return handle


def _binary(kind: str) -> Handler:
    def handle(walker: Any, node: Any) -> None:
        numbers = [
            isinstance(arg, (int, float)) and not isinstance(arg, bool) for arg in node.args[:2]
        ]
        if kind == "multiply" and numbers.count(True) == 1:  # x * 0.125: a scale
            tensor, factor = (node.args[1], node.args[0]) if numbers[0] else node.args[:2]
            walker.layer(node, "scale", [walker.tensor(tensor)], {"factor": factor})
            return
        if _arg(node, 2, "alpha", 1) != 1:
            raise Refusal(
                f"{node.target} with alpha={_arg(node, 2, 'alpha')} is not supported (only alpha=1)"
            )
        a, b = node.args[0], node.args[1]
        walker.layer(node, kind, [walker.tensor(a), walker.tensor(b)], {})

    return handle


def _dropout(walker: Any, node: Any) -> None:
    walker.layer(node, "dropout", [walker.tensor(node.args[0])], {"p": _arg(node, 1, "p", 0.5)})


def _attention(walker: Any, node: Any) -> None:
    query, key, value = node.args[:3]
    mask = _arg(node, 3, "attn_mask")
    if _arg(node, 4, "dropout_p", 0.0) != 0.0:
        raise Refusal(
            "scaled_dot_product_attention with dropout_p > 0 is not supported (export the module in eval mode)"
        )
    if node.kwargs.get("enable_gqa", False):
        raise Refusal("scaled_dot_product_attention with enable_gqa is not supported")
    refs = [walker.tensor(query), walker.tensor(key), walker.tensor(value)]
    value = walker.value(mask) if walker.is_constant(mask) else None
    if isinstance(value, torch.Tensor) and (
        bool(value.all()) if value.dtype == torch.bool else not bool(value.any())
    ):
        mask = None  # attend everywhere (all true, or zeros added): the same as no mask
    if mask is not None:
        refs.append(walker.tensor(mask))
    walker.layer(
        node,
        "scaled_dot_product_attention",
        refs,
        {"is_causal": bool(_arg(node, 5, "is_causal", False)), "scale": node.kwargs.get("scale")},
    )


def _reshape(walker: Any, node: Any) -> None:
    """view, reshape, flatten, unflatten: read from the shapes before and after."""
    source = node.args[0]
    before, after = walker.dims(source), walker.dims(node)
    ref = walker.tensor(source)
    if before == after:
        walker.alias(node, source)
        return
    common = 0
    while common < min(len(before), len(after)) and before[common] == after[common]:
        common += 1
    rest_before, rest_after = before[common:], after[common:]
    last = len(after) - 1
    if (
        len(before) > len(after)
        and after[:last] == before[:last]
        and _merges(before[last:], after[last])
    ):
        walker.layer(node, "flatten", [ref], {"start_dim": last, "end_dim": -1})
        return
    symbolic = [dim for dim in after if not isinstance(dim, int)]
    if (
        len(rest_before) == 1
        and len(rest_after) > 1
        and sum(not isinstance(dim, int) for dim in rest_after) <= 1
    ):
        walker.layer(
            node,
            "unflatten",
            [ref],
            {"dim": common, "sizes": [dim if isinstance(dim, int) else -1 for dim in rest_after]},
        )
        return
    if len(symbolic) <= 1:
        walker.layer(
            node,
            "reshape",
            [ref],
            {"shape": [dim if isinstance(dim, int) else -1 for dim in after]},
        )
        return
    raise Refusal(
        f"a reshape from {before} to {after} has several sizes that depend on the input, which Tidal's reshape "
        "(numbers and one -1), flatten and unflatten cannot write",
        hint="reshape with one dim left to -1",
    )


def _merges(parts: list[Any], whole: Any) -> bool:
    """Whether dims ``parts`` make one dim ``whole`` (numbers that multiply to it, or it and dims of size 1)."""
    if all(isinstance(part, int) for part in parts) and isinstance(whole, int):
        product = 1
        for part in parts:
            product *= part
        return product == whole
    return [part for part in parts if part != 1] == [whole]


def _convert(walker: Any, node: Any) -> None:
    """to / _to_copy: a cast when the dtype changes, otherwise the same tensor (a device move is no layer)."""
    source = node.args[0]
    before, after = source.meta["val"].dtype, node.meta["val"].dtype
    if before == after:
        walker.alias(node, source)
        return
    walker.layer(node, "cast", [walker.tensor(source)], {"dtype": after})


def _same(walker: Any, node: Any) -> None:
    walker.alias(node, node.args[0])


def _expand(walker: Any, node: Any) -> None:
    source = node.args[0]
    if walker.dims(source) == walker.dims(node) or walker.broadcast_only(node):
        walker.alias(node, source)
        return
    raise Refusal(
        f"expand from {walker.dims(source)} to {walker.dims(node)} has no Tidal layer kind",
        hint="let the consumer broadcast (add, multiply and attention masks do)",
    )


def _logical_and(walker: Any, node: Any) -> None:
    """``mask & all_true`` (the causal part of a mask that is not causal) is the mask, broadcast by its consumer."""
    a, b = node.args[0], node.args[1]
    for constant, other in ((a, b), (b, a)):
        value = walker.value(constant) if walker.is_constant(constant) else None
        if (
            isinstance(value, torch.Tensor)
            and value.dtype == torch.bool
            and bool(value.all())
            and walker.broadcast_only(node)
        ):
            walker.alias(node, other)
            return
    raise Refusal(
        "a logical and of two computed masks has no Tidal layer kind",
        hint="combine masks before the model",
    )


def _index(walker: Any, node: Any) -> None:
    """``x[arange(b)[:, None, None, None], arange(s)[None, None, None, :]]`` is x with new dims of size 1: unsqueezes."""
    source, indices = node.args[0], list(node.args[1])
    shape = source.meta["val"].shape
    result = walker.dims(node)
    axes: list[int] = []
    if len(indices) == len(shape) and all(walker.is_constant(item) for item in indices):
        for position, item in enumerate(indices):
            value = walker.value(item)
            size = int(source.meta["tidal_value"][0][position])
            padded = [1] * (len(result) - value.dim()) + list(value.shape)
            spread = [axis for axis, extent in enumerate(padded) if extent != 1]
            if (
                len(spread) != 1
                or padded[spread[0]] != size
                or not torch.equal(value.reshape(-1), torch.arange(size))
            ):
                axes = []
                break
            axes.append(spread[0])
    if (
        not axes
        or axes != sorted(set(axes))
        or any(result[axis] != 1 for axis in range(len(result)) if axis not in axes)
    ):
        raise Refusal(
            "indexing with tensors (aten.index) has no Tidal layer kind",
            hint="use select for one position; Tidal reads only an index grid that adds dims of size 1",
        )
    current = walker.tensor(source)
    extra = [axis for axis in range(len(result)) if axis not in axes]
    for axis in extra:
        current = walker.layer(
            node,
            "unsqueeze",
            [current],
            {"dim": axis},
            layer_id=f"{node.name}_unsqueeze",
            check=axis == extra[-1],
        )


def _split(walker: Any, node: Any) -> None:
    sections = node.args[1]
    walker.layer(
        node,
        "split",
        [walker.tensor(node.args[0])],
        {
            "split_size_or_sections": list(sections)
            if isinstance(sections, (list, tuple))
            else sections,
            "dim": _arg(node, 2, "dim", 0),
        },
    )


def _getitem(walker: Any, node: Any) -> None:
    walker._getitem(node)


def _concat(walker: Any, node: Any) -> None:
    walker.layer(
        node,
        "concat",
        [walker.tensor(item) for item in node.args[0]],
        {"dim": _arg(node, 1, "dim", 0)},
    )


def _reduce(kind: str) -> Handler:
    def handle(walker: Any, node: Any) -> None:
        if node.kwargs.get("dtype") is not None:
            raise Refusal(f"{kind} with dtype= is not supported")
        dims = _arg(node, 1, "dim")
        walker.layer(
            node,
            kind,
            [walker.tensor(node.args[0])],
            {
                "dim": list(dims)
                if isinstance(dims, (list, tuple)) and len(dims) != 1
                else (dims[0] if isinstance(dims, (list, tuple)) else dims),
                "keepdim": bool(_arg(node, 2, "keepdim", False)),
            },
        )

    return handle


def _softmax(kind: str) -> Handler:
    def handle(walker: Any, node: Any) -> None:
        extra = tuple(node.args[2:3])  # softmax's dtype, or _softmax's half_to_float
        if extra not in ((), (False,), (None,), (node.args[0].meta["val"].dtype,)):
            raise Refusal(
                f"{node.target} with a dtype or half-to-float conversion is not supported"
            )
        walker.layer(node, kind, [walker.tensor(node.args[0])], {"dim": node.args[1]})

    return handle


def _skip(walker: Any, node: Any) -> None:
    """Checks export adds (dtypes, value ranges): nothing to compute."""


#: ops an expansion may feed and still be dropped (they broadcast, or pass the mask on)
BROADCASTING = frozenset(
    {
        "aten.expand.default",
        "aten.__and__.Tensor",
        "aten.bitwise_and.Tensor",
        "aten.to.dtype",
        "aten.to.dtype_layout",
        "aten.to.device",
        "aten._to_copy.default",
    }
)

#: ATen op (as ``str(node.target)``) -> handler
OPS: dict[str, Handler] = {
    "aten.linear.default": linear,
    "aten.embedding.default": embedding,
    "aten.layer_norm.default": layer_norm,
    "aten.dropout.default": _dropout,
    "aten.conv1d.default": convolution,
    "aten.conv2d.default": convolution,
    "aten.conv1d.padding": convolution,
    "aten.conv2d.padding": convolution,
    "aten.batch_norm.default": batch_norm,
    "aten.max_pool1d.default": pool("maxpool1d"),
    "aten.max_pool2d.default": pool("maxpool2d"),
    "aten.avg_pool1d.default": pool("avgpool1d", average=True),
    "aten.avg_pool2d.default": pool("avgpool2d", average=True),
    "aten.adaptive_avg_pool1d.default": _unary(
        "adaptive_avgpool1d", output_size=(1, "output_size", None)
    ),
    "aten.adaptive_avg_pool2d.default": _unary(
        "adaptive_avgpool2d", output_size=(1, "output_size", None)
    ),
    "aten.scaled_dot_product_attention.default": _attention,
    "aten.add.Tensor": _binary("add"),
    "aten.sub.Tensor": _binary("subtract"),
    "aten.mul.Tensor": _binary("multiply"),
    "aten.mul.Scalar": _binary("multiply"),
    "aten.matmul.default": _binary("matmul"),
    "aten.bmm.default": _binary("matmul"),
    "aten.cat.default": _concat,
    "aten.concat.default": _concat,
    "aten.split.Tensor": _split,
    "aten.split_with_sizes.default": _split,
    "aten.view.default": _reshape,
    "aten.reshape.default": _reshape,
    "aten._unsafe_view.default": _reshape,
    "aten.flatten.using_ints": _reshape,
    "aten.unflatten.int": _reshape,
    "aten.transpose.int": _unary("transpose", dim0=(1, "dim0", None), dim1=(2, "dim1", None)),
    "aten.permute.default": _unary("permute", dims=(1, "dims", None)),
    "aten.unsqueeze.default": _unary("unsqueeze", dim=(1, "dim", None)),
    "aten.squeeze.dim": _unary("squeeze", dim=(1, "dim", None)),
    "aten.select.int": _unary("select", dim=(1, "dim", None), index=(2, "index", None)),
    "aten.mean.dim": _reduce("mean"),
    "aten.mean.default": _reduce("mean"),
    "aten.sum.default": _reduce("sum"),
    "aten.sum.dim_IntList": _reduce("sum"),
    "aten.softmax.int": _softmax("softmax"),
    "aten._softmax.default": _softmax("softmax"),
    "aten.log_softmax.int": _softmax("log_softmax"),
    "aten._log_softmax.default": _softmax("log_softmax"),
    "aten.gelu.default": _unary("gelu", approximate=(1, "approximate", "none")),
    "aten.relu.default": _unary("relu"),
    "aten.relu_.default": _unary("relu"),
    "aten.silu.default": _unary("silu"),
    "aten.silu_.default": _unary("silu"),
    "aten.tanh.default": _unary("tanh"),
    "aten.sigmoid.default": _unary("sigmoid"),
    "aten.hardswish.default": _unary("hardswish"),
    "aten.hardsigmoid.default": _unary("hardsigmoid"),
    "aten.mish.default": _unary("mish"),
    "aten.leaky_relu.default": _unary("leaky_relu", negative_slope=(1, "negative_slope", 0.01)),
    "aten.full_like.default": lambda walker, node: walker.layer(
        node,
        "full_like",
        [walker.tensor(node.args[0])],
        {"fill_value": node.args[1], "dtype": node.meta["val"].dtype},
    ),
    "aten.to.dtype": _convert,
    "aten.to.device": _convert,
    "aten.to.dtype_layout": _convert,
    "aten._to_copy.default": _convert,
    "aten.contiguous.default": _same,
    "aten.clone.default": _same,
    "aten.alias.default": _same,
    "aten.detach.default": _same,
    "aten.expand.default": _expand,
    "aten.__and__.Tensor": _logical_and,
    "aten.bitwise_and.Tensor": _logical_and,
    "aten.index.Tensor": _index,
    "<built-in function getitem>": _getitem,
    "aten._assert_tensor_metadata.default": _skip,
    "aten._assert_scalar.default": _skip,
    "aten.sym_constrain_range_for_size.default": _skip,
}


def handle(walker: Any, node: Any) -> None:
    """Map one node; :class:`Refusal` naming the ATen op when nothing in :data:`OPS` reads it."""
    target = str(node.target)
    handler = OPS.get(target)
    if handler is None:
        if isinstance(node.target, torch._ops.HigherOrderOperator):
            raise Refusal(
                f"{node.target.name()} (a branch or loop on tensor values, torch.cond/while_loop) has no Tidal "
                "layer kind",
                hint="decide branches from settings, not from tensor values",
            )
        raise Refusal(
            f"ATen op {target} has no Tidal layer kind",
            hint="see docs/nn.md for the kinds and the ATen ops they read",
        )
    handler(walker, node)
