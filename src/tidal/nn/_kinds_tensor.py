"""Kinds that combine or rearrange tensors: arithmetic, concat/split, reshape, reductions, select,
casts, position indices and fills, and ``module`` (a nested sub-network). Their PyTorch form is a
functional template, not a layer class.
"""

from __future__ import annotations

from tidal.nn._dims import Dim, add, exact_div, product
from tidal.nn._kind import Incoming, LayerKind, Port, RuleContext, Sample, TensorType, is_float, p
from tidal.nn._spec import DTYPES

X = (Port("x"),)
BINARY = (Port("a"), Port("b"))


def _promote(a: TensorType, b: TensorType) -> str:
    if a.dtype == b.dtype or is_float(a.dtype):
        return a.dtype
    return b.dtype if is_float(b.dtype) else a.dtype


def _broadcast_shapes(ctx: RuleContext, a: Incoming, b: Incoming, left: tuple[Dim, ...], right: tuple[Dim, ...],
                      what: str) -> tuple[Dim, ...]:
    size = max(len(left), len(right))
    out: list[Dim] = []
    clashes: list[str] = []
    hint = "make the shapes equal, or 1 where one should be repeated"
    for offset in range(size, 0, -1):
        x = left[-offset] if offset <= len(left) else 1
        y = right[-offset] if offset <= len(right) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            axis = size - offset
            clashes.append(f"dim {axis} is {y} against {x}")
            if size == 4 and axis == 1 and isinstance(x, int) and isinstance(y, int):
                hint = "make the channel counts match (for a residual, a 1x1 conv2d on the shortcut)"
            out.append(x)
    if clashes:
        ctx.problem(f"cannot {what} {b.shown()} and {a.shown()}: {', '.join(clashes)}",
                    port=b.port, hint=hint, code="broadcast", expected=str(a.type), actual=str(b.type))
    return tuple(out)


def _elementwise(what: str):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        a, b = ctx.inputs
        shape = _broadcast_shapes(ctx, a, b, a.shape, b.shape, what)
        return [TensorType(shape, _promote(a.type, b.type))]

    return rule


def _matmul(ctx: RuleContext) -> list[TensorType] | None:
    a, b = ctx.inputs
    if a.rank == 0 or b.rank == 0:
        ctx.problem(f"matmul needs tensors of at least 1 dim, gets {a.type} and {b.type}", port="a" if a.rank == 0 else "b",
                    hint="use multiply for a scalar")
        return None
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.rank == 1 else b.shape[-2]
    if inner_a != inner_b:
        axis = 0 if b.rank == 1 else b.rank - 2
        ctx.problem(f"expects dim {axis} to be {inner_a} (the last dim of 'a' {a.type}) but gets {inner_b} {b.describe()}",
                    port="b", hint="transpose one input, or change the size of one of them", code="size_mismatch",
                    expected=str(inner_a), actual=str(b.type))
    dtype = _promote(a.type, b.type)
    if a.rank == 1 and b.rank == 1:
        return [TensorType((), dtype)]
    if a.rank == 1:
        return [TensorType((*b.shape[:-2], b.shape[-1]), dtype)]
    if b.rank == 1:
        return [TensorType(a.shape[:-1], dtype)]
    batch = _broadcast_shapes(ctx, a, b, a.shape[:-2], b.shape[:-2], "batch-multiply")
    return [TensorType((*batch, a.shape[-2], b.shape[-1]), dtype)]


def _concat(ctx: RuleContext) -> list[TensorType] | None:
    first = ctx.inputs[0]
    axis = ctx.axis(first, ctx.params["dim"], "dim")
    if axis is None:
        return None
    total: Dim = first.shape[axis]
    for other in ctx.inputs[1:]:
        if other.rank != first.rank:
            ctx.problem(f"expects a {first.rank}-d input like {first.shown()} but gets a {other.rank}-d "
                        f"{other.shown()}", port=other.port, hint="concatenate tensors of the same rank",
                        expected=str(first.type), actual=str(other.type))
            continue
        for index in range(first.rank):
            if index != axis and other.shape[index] != first.shape[index]:
                ctx.problem(f"dim {index} is {other.shape[index]} but '{first.source}' has {first.shape[index]}: "
                            f"{other.shown()} vs {first.type}", port=other.port,
                            hint=f"all inputs must match except on dim {ctx.params['dim']} (the concat dim)",
                            code="size_mismatch", expected=str(first.type), actual=str(other.type))
                break
        total = add(total, other.shape[axis])
    shape = list(first.shape)
    shape[axis] = total
    return [first.type.with_shape(tuple(shape))]


def _with_dim(x: Incoming, axis: int, size: Dim) -> TensorType:
    shape = list(x.shape)
    shape[axis] = size
    return x.type.with_shape(tuple(shape))


def _split(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    if axis is None:
        return None
    size, sections = x.shape[axis], ctx.params["split_size_or_sections"]
    if not isinstance(size, int):
        ctx.problem(f"dim {axis} is {size}, not a fixed size, so the parts cannot be known: the input is {x.shown()}", port=x.port,
                    hint="split along a dim of fixed size", code="symbolic", actual=str(x.type))
        return None
    if isinstance(sections, list):
        if sum(sections) != size:
            ctx.problem(f"sections {sections} add up to {sum(sections)} but dim {axis} is {size}: the input is {x.shown()}",
                        port=x.port, hint=f"make the sections add up to {size}", code="size_mismatch",
                        expected=str(sum(sections)), actual=str(x.type))
        return [_with_dim(x, axis, part) for part in sections]
    count = -(-size // sections)
    return [_with_dim(x, axis, min(sections, size - index * sections)) for index in range(count)]


def _chunk(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    if axis is None:
        return None
    size, chunks = x.shape[axis], ctx.params["chunks"]
    if isinstance(size, int):
        each = -(-size // chunks)
        count = -(-size // each) if each else 0
        return [_with_dim(x, axis, min(each, size - index * each)) for index in range(count)]
    part = exact_div(size, chunks)
    if part is None:
        ctx.problem(f"dim {axis} is {size}, which cannot be shown to divide into {chunks} chunks: the input is {x.shown()}",
                    port=x.port, hint="chunk along a dim of fixed size", code="symbolic", actual=str(x.type))
        return None
    return [_with_dim(x, axis, part) for _ in range(chunks)]


def _reshape(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    shape = list(ctx.params["shape"])
    if shape.count(-1) > 1 or any(size < -1 or size == 0 for size in shape):
        ctx.problem(f"shape {shape} may hold one -1 and otherwise positive sizes", param="shape", code="bad_param")
        return None
    total = product(x.shape)
    known = product([size for size in shape if size != -1])
    assert isinstance(known, int)
    if -1 in shape:
        rest = exact_div(total, known)
        if rest is None:
            ctx.problem(f"cannot reshape {x.shown()} ({total} elements) into {shape}: {total} is not a multiple of {known}",
                        port=x.port, hint=f"change shape so its fixed sizes divide {total}", code="size_mismatch",
                        expected=str(shape), actual=str(x.type))
            return None
        return [x.type.with_shape(tuple(rest if size == -1 else size for size in shape))]
    if total != known:
        hint = "use -1 for the dim that holds the batch" if not isinstance(total, int) else f"make the sizes multiply to {total}"
        ctx.problem(f"cannot reshape {x.shown()} ({total} elements) into {shape} ({known} elements)", port=x.port,
                    hint=hint, code="size_mismatch", expected=str(shape), actual=str(x.type))
        return None
    return [x.type.with_shape(tuple(shape))]


def _permute(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    dims = ctx.params["dims"]
    axes = [dim + x.rank if dim < 0 else dim for dim in dims]
    if sorted(axes) != list(range(x.rank)):
        ctx.problem(f"dims {dims} is not an order of all {x.rank} dims of {x.shown()}", port=x.port, param="dims",
                    hint=f"list each of 0..{x.rank - 1} once", code="bad_dim", actual=str(x.type))
        return None
    return [x.type.with_shape(tuple(x.shape[axis] for axis in axes))]


def _transpose(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    first, second = ctx.axis(x, ctx.params["dim0"], "dim0"), ctx.axis(x, ctx.params["dim1"], "dim1")
    if first is None or second is None:
        return None
    shape = list(x.shape)
    shape[first], shape[second] = shape[second], shape[first]
    return [x.type.with_shape(tuple(shape))]


def _squeeze(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    if axis is None:
        return None
    if x.shape[axis] != 1:
        ctx.problem(f"dim {axis} has size {x.shape[axis]}, not 1, so squeeze would leave {x.type} unchanged "
                    f"(the input is {x.shown()})", port=x.port, param="dim", hint="squeeze a dim of size 1, or remove this layer",
                    code="bad_dim", actual=str(x.type))
        return [x.type]
    return [x.type.with_shape(x.shape[:axis] + x.shape[axis + 1:])]


def _unsqueeze(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim", extra=1)
    if axis is None:
        return None
    return [x.type.with_shape((*x.shape[:axis], 1, *x.shape[axis:]))]


def _reduce(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    dim, keep = ctx.params["dim"], ctx.params["keepdim"]
    dtype = "int64" if not is_float(x.type.dtype) else x.type.dtype
    if dim is None:
        return [TensorType((1,) * x.rank if keep else (), dtype)]
    axes: set[int] = set()
    for item in [dim] if isinstance(dim, int) else dim:
        axis = ctx.axis(x, item, "dim")
        if axis is None:
            return None
        if axis in axes:
            ctx.problem(f"dim {item} is listed twice", param="dim", code="bad_dim")
        axes.add(axis)
    shape = tuple(1 if index in axes else size for index, size in enumerate(x.shape) if keep or index not in axes)
    return [TensorType(shape, dtype)]


def _select(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    if axis is None:
        return None
    size, index = x.shape[axis], ctx.params["index"]
    if isinstance(size, int) and not -size <= index < size:
        ctx.problem(f"index {index} is out of range for dim {axis} of size {size} {x.describe()}", port=x.port,
                    param="index", hint=f"use an index from {-size} to {size - 1}", code="bad_index", actual=str(x.type))
    return [x.type.with_shape(x.shape[:axis] + x.shape[axis + 1:])]


def _unflatten(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    sizes = list(ctx.params["sizes"])
    if axis is None:
        return None
    if not sizes or sizes.count(-1) > 1 or any(size < -1 or size == 0 for size in sizes):
        ctx.problem(f"sizes {sizes} may hold one -1 and otherwise positive sizes", param="sizes", code="bad_param")
        return None
    size, known = x.shape[axis], product([item for item in sizes if item != -1])
    assert isinstance(known, int)
    rest = exact_div(size, known)
    if rest is None or (-1 not in sizes and size != known):
        ctx.problem(f"cannot split dim {axis} of {x.shown()} (size {size}) into {sizes}", port=x.port, param="sizes",
                    hint=f"make the sizes multiply to {size}" + ("" if -1 in sizes else ", or use -1 once"),
                    code="size_mismatch", expected=str(sizes), actual=str(x.type))
        return None
    parts = tuple(rest if item == -1 else item for item in sizes)
    return [x.type.with_shape((*x.shape[:axis], *parts, *x.shape[axis + 1:]))]


def _cast(ctx: RuleContext) -> list[TensorType] | None:
    return [TensorType(ctx.inputs[0].shape, ctx.params["dtype"])]


def _positions(ctx: RuleContext) -> list[TensorType] | None:
    x = ctx.inputs[0]
    axis = ctx.axis(x, ctx.params["dim"], "dim")
    return None if axis is None else [TensorType((x.shape[axis],), "int64")]


def _module(ctx: RuleContext) -> list[TensorType] | None:
    """Filled by the inference engine, which infers the sub-network with these inputs."""
    expand = ctx.expand
    assert expand is not None
    return expand(ctx)


def _sample(*shapes: list[int | str], **params) -> Sample:
    return Sample(tuple((shape, "float32") for shape in shapes), params)


_DIM = p("dim", "int", ..., positional=True)
_BLOCK = {
    "inputs": {"x": {"shape": ["batch", 4]}},
    "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 4}},
               {"id": "act", "kind": "relu", "inputs": ["fc"]},
               {"id": "skip", "kind": "add", "inputs": ["act", "x"]}],
    "outputs": {"y": "skip"},
}

KINDS = (
    LayerKind("add", "combine", "a + b, with broadcasting (residual connections)", (), BINARY, _elementwise("add"),
              _sample([2, 3, 4], [2, 3, 4]), code="{a} + {b}", accepts="any"),
    LayerKind("subtract", "combine", "a - b, with broadcasting", (), BINARY, _elementwise("subtract"),
              _sample([2, 3], [1, 3]), code="{a} - {b}", accepts="any"),
    LayerKind("multiply", "combine", "a * b elementwise, with broadcasting (gates, attention scales)", (), BINARY,
              _elementwise("multiply"), _sample([2, 3, 4, 4], [2, 3, 1, 1]), code="{a} * {b}", accepts="any"),
    LayerKind("scale", "combine", "x * factor, a fixed number (attention scores, residual scaling)",
              (p("factor", "float", ..., "the number every element is multiplied by", positional=True),), X,
              lambda ctx: [ctx.inputs[0].type], _sample([2, 3], factor=0.5), code="{x} * {factor}"),
    LayerKind("matmul", "combine", "matrix product a @ b (batched over leading dims)", (), BINARY, _matmul,
              _sample([2, 3, 4], [2, 4, 5]), code="{a} @ {b}"),
    LayerKind("concat", "combine", "join tensors along dim", (p("dim", "int", 0),), (Port("x", variadic=True),),
              _concat, _sample([2, 3, 4], [2, 5, 4], dim=1), code="torch.cat([{*inputs}], dim={dim})", accepts="any"),
    LayerKind("split", "combine", "split along dim into parts (outputs split.0, split.1, ...)",
              (p("split_size_or_sections", "sections", ..., "size of each part, or a list of part sizes", positional=True),
               p("dim", "int", 0)), X, _split, _sample([2, 6], split_size_or_sections=[2, 4], dim=1),
              outputs=("*",), code="torch.split({x}, {split_size_or_sections}, dim={dim})", accepts="any"),
    LayerKind("chunk", "combine", "split along dim into equal chunks (outputs chunk.0, chunk.1, ...)",
              (p("chunks", "int", ..., minimum=1, positional=True), p("dim", "int", 0)), X, _chunk,
              _sample([2, 6], chunks=3, dim=1), outputs=("*",), code="torch.chunk({x}, {chunks}, dim={dim})", accepts="any"),
    LayerKind("reshape", "shape", "view the elements with another shape (one size may be -1)",
              (p("shape", "int_list", ..., "new sizes; -1 once for the rest", positional=True),), X, _reshape,
              _sample([2, 12], shape=[-1, 3, 4]), code="{x}.reshape({*shape})", accepts="any"),
    LayerKind("permute", "shape", "reorder all dims", (p("dims", "int_list", ..., positional=True),), X, _permute,
              _sample([2, 3, 4], dims=[0, 2, 1]), code="{x}.permute({*dims})", accepts="any"),
    LayerKind("transpose", "shape", "swap two dims", (p("dim0", "int", ..., positional=True), p("dim1", "int", ..., positional=True)),
              X, _transpose, _sample([2, 3, 4], dim0=1, dim1=2), code="{x}.transpose({dim0}, {dim1})", accepts="any"),
    LayerKind("squeeze", "shape", "remove a dim of size 1", (_DIM,), X, _squeeze, _sample([2, 1, 4], dim=1),
              code="{x}.squeeze({dim})", accepts="any"),
    LayerKind("unsqueeze", "shape", "insert a dim of size 1", (_DIM,), X, _unsqueeze, _sample([2, 4], dim=1),
              code="{x}.unsqueeze({dim})", accepts="any"),
    LayerKind("mean", "reduce", "mean over dims (null: all)",
              (p("dim", "dims", None, "a dim, a list of dims, or null for all"), p("keepdim", "bool", False)), X, _reduce,
              _sample([2, 3, 4], dim=[1, 2]), code="{x}.mean(dim={dim}{,keepdim})"),
    LayerKind("sum", "reduce", "sum over dims (null: all)",
              (p("dim", "dims", None, "a dim, a list of dims, or null for all"), p("keepdim", "bool", False)), X, _reduce,
              _sample([2, 3, 4], dim=1, keepdim=True), code="{x}.sum(dim={dim}{,keepdim})", accepts="any"),
    LayerKind("select", "shape", "take one index along dim (x[:, -1] is dim 1, index -1), removing that dim",
              (_DIM, p("index", "int", ..., positional=True)), X, _select, _sample([2, 5, 3], dim=1, index=-1),
              code="{x}.select({dim}, {index})", accepts="any"),
    LayerKind("unflatten", "shape", "split one dim into several (the inverse of flatten; one size may be -1)",
              (p("dim", "int", ..., positional=True), p("sizes", "int_list", ..., "the new sizes; -1 once for the rest",
                                                        positional=True)),
              X, _unflatten, _sample([2, 12], dim=1, sizes=[3, -1]), code="{x}.unflatten({dim}, {sizes})", accepts="any"),
    LayerKind("cast", "shape", "convert the elements to another dtype (an attention mask to bool)",
              (p("dtype", "choice", ..., "the new dtype", choices=DTYPES, positional=True),), X, _cast,
              _sample([2, 3], dtype="bool"), code="{x}.to({@dtype})", accepts="any"),
    LayerKind("positions", "sequence", "the positions 0, 1, ..., n-1 of dim of x, as int64 [n] (position ids)",
              (p("dim", "int", ..., positional=True),), X, _positions, _sample([2, 5], dim=1),
              code="torch.arange({x}.size({dim}), device={x}.device)", accepts="any"),
    LayerKind("full_like", "shape", "a tensor of x's shape filled with one value (token type ids of zeros)",
              (p("fill_value", "float", ..., "the value of every element", positional=True),
               p("dtype", "choice", "float32", "the dtype of the result", choices=DTYPES, explicit=True)),
              X, _cast, _sample([2, 5], fill_value=0, dtype="int64"),
              code="torch.full_like({x}, {fill_value}, dtype={@dtype})", accepts="any"),
    LayerKind("module", "network", "a sub-network: a block under `modules:` (network) or another file (file)",
              (p("network", "name", None, "name of a block under modules:"),
               p("file", "path", None, "a network file inside this spec's folder")),
              (Port("x", variadic=True),), _module,
              Sample((([2, 4], "float32"),), {"network": "block"}, {"block": _BLOCK}), outputs=("*",), accepts="any",
              nested=True),
)
