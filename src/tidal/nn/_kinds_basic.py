"""Kinds: linear, normalization, dropout, embedding, flatten, identity and the activations."""

from __future__ import annotations

from tidal.nn._dims import product
from tidal.nn._kind import INFER, LayerKind, Port, RuleContext, Sample, TensorType, p, same_type

X = (Port("x"),)
IN_FEATURES = "in_features"


def _linear(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    if x.rank < 1:
        ctx.expect_rank(x, (2,), "[batch, features]")
        return None
    ctx.match(x, -1, IN_FEATURES, "last dim")
    return [x.type.with_shape((*x.shape[:-1], ctx.params["out_features"]))]


def _batchnorm(ranks: tuple[int, ...], layout: str):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        x = ctx.inputs[0]
        hint = "use batchnorm1d for [batch, features] or [batch, channels, length], batchnorm2d for images"
        if not ctx.expect_rank(x, ranks, layout, hint):
            return None
        ctx.match(x, 1, "num_features", "channels (dim 1)")
        return [x.type]

    return rule


def _layernorm(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    shape = ctx.params["normalized_shape"]
    if shape is INFER:
        if x.rank == 0:
            ctx.expect_rank(x, (1, 2, 3), "[..., features]")
            return None
        ctx.match(x, -1, "normalized_shape", "last dim")
        return [x.type]
    wanted = [shape] if isinstance(shape, int) else list(shape)
    if x.rank < len(wanted) or list(x.shape[x.rank - len(wanted):]) != wanted:
        tail = list(x.shape[-len(wanted):]) if x.rank >= len(wanted) else list(x.shape)
        fix = tail[0] if len(tail) == 1 else tail
        hint = f"set normalized_shape: {fix}" if all(isinstance(dim, int) for dim in tail) else "change normalized_shape"
        ctx.problem(f"expects the last dims to be {wanted} (normalized_shape) but gets {x.shown()}", port=x.port,
                    hint=hint, code="size_mismatch", expected=str(wanted), actual=str(x.type))
    return [x.type]


def _groupnorm(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    if x.rank < 2:
        ctx.expect_rank(x, (2, 3, 4), "[batch, channels, ...]")
        return None
    channels = ctx.match(x, 1, "num_channels", "channels (dim 1)")
    groups = ctx.params["num_groups"]
    if isinstance(channels, int) and channels % groups:
        ctx.problem(f"num_channels {channels} is not divisible by num_groups {groups}", param="num_groups",
                    hint="choose num_groups dividing the channel count", code="bad_param")
    return [x.type]


def _embedding(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    index = ctx.params["padding_idx"]
    count = ctx.params["num_embeddings"]
    if index is not None and not -count <= index < count:
        ctx.problem(f"padding_idx {index} is outside the {count} embeddings", param="padding_idx",
                    hint=f"use a padding_idx from {-count} to {count - 1}", code="bad_param")
    return [TensorType((*x.shape, ctx.params["embedding_dim"]), "float32")]


def _flatten(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    if x.rank == 0:
        return [x.type.with_shape((1,))]
    start = ctx.axis(x, ctx.params["start_dim"], "start_dim")
    end = ctx.axis(x, ctx.params["end_dim"], "end_dim")
    if start is None or end is None:
        return None
    if start > end:
        ctx.problem(f"start_dim {ctx.params['start_dim']} comes after end_dim {ctx.params['end_dim']} for {x.shown()}",
                    param="start_dim", hint="flatten needs start_dim <= end_dim", code="bad_dim")
        return None
    return [x.type.with_shape((*x.shape[:start], product(x.shape[start:end + 1]), *x.shape[end + 1:]))]


def _softmax(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    if ctx.axis(x, ctx.params["dim"], "dim") is None:
        return None
    return [x.type]


LINEAR = LayerKind(
    "linear", "dense", "y = x W^T + b on the last dim",
    (p(IN_FEATURES, "int", INFER, "size of the input's last dim (inferred when left out)", minimum=1, positional=True),
     p("out_features", "int", ..., "size of the output's last dim", minimum=1, positional=True),
     p("bias", "bool", True, "learn an additive bias")),
    X, _linear, Sample((([2, 8], "float32"),), {"out_features": 4}), torch="Linear",
)

BATCHNORM1D = LayerKind(
    "batchnorm1d", "normalization", "batch normalization over [batch, channels] or [batch, channels, length]",
    (p("num_features", "int", INFER, "channels (dim 1; inferred when left out)", minimum=1, positional=True),
     p("eps", "float", 1e-5, minimum=0), p("momentum", "optional_float", 0.1, minimum=0, maximum=1),
     p("affine", "bool", True), p("track_running_stats", "bool", True)),
    X, _batchnorm((2, 3), "[batch, channels] or [batch, channels, length]"),
    Sample((([2, 4, 5], "float32"),), {}), torch="BatchNorm1d",
)

BATCHNORM2D = LayerKind(
    "batchnorm2d", "normalization", "batch normalization over images [batch, channels, height, width]",
    BATCHNORM1D.params, X, _batchnorm((4,), "[batch, channels, height, width]"),
    Sample((([2, 3, 4, 4], "float32"),), {}), torch="BatchNorm2d",
)

LAYERNORM = LayerKind(
    "layernorm", "normalization", "layer normalization over the last dims",
    (p("normalized_shape", "ints", INFER, "sizes of the last dims normalized (inferred: the last dim)", minimum=1, positional=True),
     p("eps", "float", 1e-5, minimum=0), p("elementwise_affine", "bool", True), p("bias", "bool", True)),
    X, _layernorm, Sample((([2, 3, 6], "float32"),), {}), torch="LayerNorm",
)

GROUPNORM = LayerKind(
    "groupnorm", "normalization", "group normalization over channel groups",
    (p("num_groups", "int", ..., "channel groups; must divide num_channels", minimum=1, positional=True),
     p("num_channels", "int", INFER, "channels (dim 1; inferred when left out)", minimum=1, positional=True),
     p("eps", "float", 1e-5, minimum=0), p("affine", "bool", True)),
    X, _groupnorm, Sample((([2, 4, 3, 3], "float32"),), {"num_groups": 2}), torch="GroupNorm",
)

DROPOUT = LayerKind(
    "dropout", "regularization", "zero elements with probability p while training",
    (p("p", "float", 0.5, "drop probability", minimum=0, maximum=1), p("inplace", "bool", False)),
    X, same_type, Sample((([2, 5], "float32"),), {"p": 0.1}), torch="Dropout", accepts="any",
)

EMBEDDING = LayerKind(
    "embedding", "sequence", "look up a learned vector for each integer index",
    (p("num_embeddings", "int", ..., "size of the vocabulary", minimum=1, positional=True),
     p("embedding_dim", "int", ..., "size of each vector", minimum=1, positional=True),
     p("padding_idx", "optional_int", None, "an index whose vector stays zero")),
    X, _embedding, Sample((([2, 5], "int64"),), {"num_embeddings": 10, "embedding_dim": 4}), torch="Embedding",
    accepts="int",
)

FLATTEN = LayerKind(
    "flatten", "shape", "merge dims start_dim..end_dim into one",
    (p("start_dim", "int", 1), p("end_dim", "int", -1)),
    X, _flatten, Sample((([2, 3, 4, 4], "float32"),), {}), torch="Flatten", accepts="any",
)

IDENTITY = LayerKind(
    "identity", "shape", "pass the input through unchanged", (), X, same_type,
    Sample((([2, 3], "float32"),), {}), torch="Identity", accepts="any",
)


def _activation(name: str, torch_name: str, summary: str, params: tuple = (), inplace: bool = False) -> LayerKind:
    extra = (p("inplace", "bool", False, "overwrite the input"),) if inplace else ()
    return LayerKind(name, "activation", summary, (*params, *extra), X, same_type,
                     Sample((([2, 3, 4], "float32"),), {}), torch=torch_name)


ACTIVATIONS = (
    _activation("relu", "ReLU", "max(0, x)", inplace=True),
    _activation("relu6", "ReLU6", "min(max(0, x), 6)", inplace=True),
    _activation("gelu", "GELU", "Gaussian error linear unit",
                (p("approximate", "choice", "none", "'tanh' for the faster approximation", choices=("none", "tanh")),)),
    _activation("silu", "SiLU", "x * sigmoid(x) (swish)", inplace=True),
    _activation("tanh", "Tanh", "hyperbolic tangent"),
    _activation("sigmoid", "Sigmoid", "1 / (1 + exp(-x))"),
    _activation("leaky_relu", "LeakyReLU", "x if x > 0 else negative_slope * x",
                (p("negative_slope", "float", 0.01),), inplace=True),
    _activation("elu", "ELU", "exponential linear unit", (p("alpha", "float", 1.0),), inplace=True),
    _activation("hardswish", "Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)", inplace=True),
    _activation("hardsigmoid", "Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3)", inplace=True),
    _activation("softplus", "Softplus", "log(1 + exp(beta * x)) / beta",
                (p("beta", "float", 1.0), p("threshold", "float", 20.0))),
    _activation("mish", "Mish", "x * tanh(softplus(x))", inplace=True),
    LayerKind("softmax", "activation", "softmax along dim", (p("dim", "int", -1, explicit=True),), X, _softmax,
              Sample((([2, 5], "float32"),), {"dim": 1}), torch="Softmax"),
    LayerKind("log_softmax", "activation", "log of softmax along dim", (p("dim", "int", -1, explicit=True),), X, _softmax,
              Sample((([2, 5], "float32"),), {"dim": -1}), torch="LogSoftmax"),
)

KINDS = (LINEAR, BATCHNORM1D, BATCHNORM2D, LAYERNORM, GROUPNORM, DROPOUT, EMBEDDING, FLATTEN, IDENTITY, *ACTIVATIONS)
