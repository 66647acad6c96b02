"""Kinds over spatial dims: convolutions, pooling, adaptive pooling, upsampling.

Output sizes follow PyTorch's formulas exactly, symbolically where an input size is a symbol:
``(L + 2*padding - dilation*(kernel - 1) - 1)//stride + 1`` for convolutions and pools (with
``ceil_mode``'s rounding), ``(L - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``
for transposed convolutions.
"""

from __future__ import annotations

import math

from tidal.nn._dims import Dim, add, ceildiv, floordiv, mul, sub
from tidal.nn._kind import (
    INFER,
    Incoming,
    LayerKind,
    Port,
    RuleContext,
    Sample,
    TensorType,
    p,
    spatial,
)

X = (Port("x"),)
_LAYOUTS = {1: "[batch, channels, length]", 2: "[batch, channels, height, width]"}
_AXES = {1: ("length",), 2: ("height", "width")}


def _too_small(ctx: RuleContext, x: Incoming, axis: int, size: Dim, window: int, padding: int, what: str) -> None:
    ctx.problem(f"input {what} {size} (dim {axis}) of {x.shown()} is smaller than the {window}-wide window (padding {padding})",
                port=x.port, hint="use a smaller kernel_size, add padding, or feed a larger input", code="too_small",
                actual=str(x.type))


def _conv(count: int, transposed: bool):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        x = ctx.inputs[0]
        layout = _LAYOUTS[count]
        if not ctx.expect_rank(x, (count + 2, count + 1), layout,
                               hint="add a reshape or unsqueeze to bring the input to that layout"):
            return None
        channel_axis = x.rank - count - 1
        unbatched = None
        if channel_axis == 0:
            unbatched = (f"a {x.rank}-d input is read as one unbatched sample {_LAYOUTS[count].replace('batch, ', '')}; "
                         "give the input its batch dim")
        in_channels = ctx.match(x, channel_axis, "in_channels", f"channels (dim {channel_axis})", unbatched)
        groups, out_channels = ctx.params["groups"], ctx.params["out_channels"]
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, int) and value % groups:
                ctx.problem(f"{name} {value} is not divisible by groups {groups}", param="groups",
                            hint="choose groups dividing both channel counts", code="bad_param")
        kernel = spatial(ctx, "kernel_size", count)
        stride = spatial(ctx, "stride", count)
        dilation = spatial(ctx, "dilation", count)
        raw_padding = ctx.params["padding"]
        if raw_padding == "same" and stride is not None and any(step != 1 for step in stride):
            ctx.problem("padding 'same' needs stride 1", param="padding", hint="set padding to a number, or stride: 1",
                        code="bad_param")
        padding = (0,) * count if raw_padding in ("same", "valid") else spatial(ctx, "padding", count)
        extra = spatial(ctx, "output_padding", count) if transposed else (0,) * count
        if kernel is None or stride is None or dilation is None or padding is None or extra is None:
            return None
        if transposed:
            for index in range(count):
                if extra[index] >= max(stride[index], dilation[index]):
                    ctx.problem(f"output_padding {extra[index]} must be smaller than stride or dilation", param="output_padding",
                                hint="use output_padding below the stride", code="bad_param")
        sizes: list[Dim] = []
        for index in range(count):
            axis = x.rank - count + index
            size = x.shape[axis]
            window = dilation[index] * (kernel[index] - 1) + 1
            if raw_padding == "same":
                out: Dim = size
            elif transposed:
                out = add(sub(mul(sub(size, 1), stride[index]), 2 * padding[index]), window - 1 + extra[index] + 1)
            else:
                out = add(floordiv(sub(add(size, 2 * padding[index]), window), stride[index]), 1)
            if isinstance(out, int) and out < 1:
                _too_small(ctx, x, axis, size, window, padding[index], _AXES[count][index])
                out = 1
            sizes.append(out)
        return [x.type.with_shape((*x.shape[:channel_axis], out_channels, *sizes))]

    return rule


def _pool(count: int, with_dilation: bool):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        x = ctx.inputs[0]
        if not ctx.expect_rank(x, (count + 2, count + 1), _LAYOUTS[count]):
            return None
        kernel = spatial(ctx, "kernel_size", count)
        if ctx.params["stride"] is None:
            stride = kernel
        else:
            stride = spatial(ctx, "stride", count)
        padding = spatial(ctx, "padding", count)
        dilation = spatial(ctx, "dilation", count) if with_dilation else (1,) * count
        if kernel is None or stride is None or padding is None or dilation is None:
            return None
        ceil = ctx.params["ceil_mode"]
        sizes: list[Dim] = []
        for index in range(count):
            if padding[index] > kernel[index] // 2:
                ctx.problem(f"padding {padding[index]} is more than half the kernel size {kernel[index]}", param="padding",
                            hint=f"use padding up to {kernel[index] // 2}", code="bad_param")
            axis = x.rank - count + index
            size = x.shape[axis]
            window = dilation[index] * (kernel[index] - 1) + 1
            span = sub(add(size, 2 * padding[index]), window)
            out = add(ceildiv(span, stride[index]) if ceil else floordiv(span, stride[index]), 1)
            if ceil and isinstance(out, int) and isinstance(size, int) and (out - 1) * stride[index] >= size + padding[index]:
                out -= 1
            if isinstance(out, int) and out < 1:
                _too_small(ctx, x, axis, size, window, padding[index], _AXES[count][index])
                out = 1
            sizes.append(out)
        return [x.type.with_shape((*x.shape[:x.rank - count], *sizes))]

    return rule


def _adaptive(count: int):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        x = ctx.inputs[0]
        if not ctx.expect_rank(x, (count + 2, count + 1), _LAYOUTS[count]):
            return None
        value = ctx.params["output_size"]
        wanted = [value] * count if isinstance(value, int) else list(value) * (count if len(value) == 1 else 1)
        if len(wanted) != count:
            ctx.problem(f"output_size lists {len(wanted)} sizes for {count} spatial dims", param="output_size",
                        hint=f"give one number or {count}", code="bad_param")
            return None
        tail = x.shape[x.rank - count:]
        sizes = tuple(tail[index] if size is None else size for index, size in enumerate(wanted))
        return [x.type.with_shape((*x.shape[:x.rank - count], *sizes))]

    return rule


_UPSAMPLE_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def _upsample(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    mode = ctx.params["mode"]
    ranks = (_UPSAMPLE_RANKS[mode],) if mode in _UPSAMPLE_RANKS else (3, 4, 5)
    if not ctx.expect_rank(x, ranks, "[batch, channels, *spatial]"):
        return None
    count = x.rank - 2
    size, scale = ctx.params["size"], ctx.params["scale_factor"]
    if (size is None) == (scale is None):
        ctx.problem("set exactly one of size and scale_factor", param="size" if size is not None else "scale_factor",
                    hint="size: [h, w] for a fixed output, or scale_factor: 2", code="bad_param")
        return None
    if size is not None:
        sizes = [size] * count if isinstance(size, int) else list(size)
        if len(sizes) != count or any(item is None for item in sizes):
            ctx.problem(f"size must give {count} numbers for a {x.rank}-d input", param="size", code="bad_param")
            return None
        return [x.type.with_shape((*x.shape[:2], *sizes))]
    out: list[Dim] = []
    for axis in range(2, x.rank):
        dim = x.shape[axis]
        if float(scale).is_integer():
            out.append(mul(dim, int(scale)))
        elif isinstance(dim, int):
            out.append(math.floor(dim * scale))
        else:
            ctx.problem(f"a fractional scale_factor {scale} needs a fixed input size, but dim {axis} is {dim}", port=x.port,
                        hint="use a whole-number scale_factor or size", code="symbolic", actual=str(x.type))
            return None
    return [x.type.with_shape((*x.shape[:2], *out))]


def _conv_params(transposed: bool) -> tuple:
    common = (
        p("in_channels", "int", INFER, "input channels (inferred when left out)", minimum=1, positional=True),
        p("out_channels", "int", ..., "output channels", minimum=1, positional=True),
        p("kernel_size", "ints", ..., "window size", minimum=1),
        p("stride", "ints", 1, minimum=1),
    )
    if transposed:
        return (*common, p("padding", "ints", 0, minimum=0), p("output_padding", "ints", 0, minimum=0),
                p("groups", "int", 1, minimum=1), p("bias", "bool", True), p("dilation", "ints", 1, minimum=1))
    return (*common, p("padding", "padding", 0, "a number, a list, 'same' or 'valid'", minimum=0),
            p("dilation", "ints", 1, minimum=1), p("groups", "int", 1, minimum=1), p("bias", "bool", True))


def _pool_params(with_dilation: bool) -> tuple:
    common = (
        p("kernel_size", "ints", ..., "window size", minimum=1, positional=True),
        p("stride", "optional_ints", None, "step (default: the kernel size)", minimum=1),
        p("padding", "ints", 0, minimum=0),
    )
    if with_dilation:
        return (*common, p("dilation", "ints", 1, minimum=1), p("ceil_mode", "bool", False))
    return (*common, p("ceil_mode", "bool", False), p("count_include_pad", "bool", True),
            p("divisor_override", "optional_int", None, minimum=1))


def _sample(shape: list[int | str], **params) -> Sample:
    return Sample(((shape, "float32"),), params)


KINDS = (
    LayerKind("conv1d", "convolution", "1-d convolution over [batch, channels, length]", _conv_params(False), X,
              _conv(1, False), _sample([2, 3, 10], out_channels=4, kernel_size=3, stride=2), torch="Conv1d"),
    LayerKind("conv2d", "convolution", "2-d convolution over [batch, channels, height, width]", _conv_params(False), X,
              _conv(2, False), _sample([2, 3, 8, 8], out_channels=4, kernel_size=3, padding=1, stride=2), torch="Conv2d"),
    LayerKind("conv_transpose1d", "convolution", "1-d transposed convolution (upsamples)", _conv_params(True), X,
              _conv(1, True), _sample([2, 4, 5], out_channels=3, kernel_size=3, stride=2), torch="ConvTranspose1d"),
    LayerKind("conv_transpose2d", "convolution", "2-d transposed convolution (upsamples)", _conv_params(True), X,
              _conv(2, True), _sample([2, 4, 5, 5], out_channels=3, kernel_size=3, stride=2, output_padding=1),
              torch="ConvTranspose2d"),
    LayerKind("maxpool1d", "pooling", "max over sliding windows of [batch, channels, length]", _pool_params(True), X,
              _pool(1, True), _sample([2, 3, 9], kernel_size=2), torch="MaxPool1d"),
    LayerKind("maxpool2d", "pooling", "max over sliding windows of images", _pool_params(True), X,
              _pool(2, True), _sample([2, 3, 9, 9], kernel_size=3, stride=2, ceil_mode=True), torch="MaxPool2d"),
    LayerKind("avgpool1d", "pooling", "mean over sliding windows of [batch, channels, length]", _pool_params(False)[:-1], X,
              _pool(1, False), _sample([2, 3, 9], kernel_size=3), torch="AvgPool1d"),
    LayerKind("avgpool2d", "pooling", "mean over sliding windows of images", _pool_params(False), X,
              _pool(2, False), _sample([2, 3, 8, 8], kernel_size=2), torch="AvgPool2d"),
    LayerKind("adaptive_avgpool1d", "pooling", "mean pooling to a fixed output length",
              (p("output_size", "size", ..., "output length", minimum=1, positional=True),), X,
              _adaptive(1), _sample([2, 3, 9], output_size=4), torch="AdaptiveAvgPool1d"),
    LayerKind("adaptive_avgpool2d", "pooling", "mean pooling to a fixed output size (1: global average pooling)",
              (p("output_size", "size", ..., "output size; null keeps that input size", minimum=1, positional=True),), X,
              _adaptive(2), _sample([2, 3, 7, 7], output_size=1), torch="AdaptiveAvgPool2d"),
    LayerKind("adaptive_maxpool2d", "pooling", "max pooling to a fixed output size",
              (p("output_size", "size", ..., "output size; null keeps that input size", minimum=1, positional=True),), X,
              _adaptive(2), _sample([2, 3, 7, 7], output_size=[2, 3]), torch="AdaptiveMaxPool2d"),
    LayerKind("upsample", "convolution", "resize spatial dims by a size or a scale factor",
              (p("size", "optional_ints", None, "output size", minimum=1), p("scale_factor", "optional_float", None, minimum=0),
               p("mode", "choice", "nearest", choices=("nearest", "linear", "bilinear", "bicubic", "trilinear"))), X,
              _upsample, _sample([2, 3, 4, 4], scale_factor=2.0), torch="Upsample"),
)
