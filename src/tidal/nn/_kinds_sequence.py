"""Kinds over sequences: LSTM, GRU, multi-head attention, scaled dot-product attention, transformer
encoder and decoder layers.

Layouts follow PyTorch: ``[seq, batch, features]`` unless ``batch_first: true`` makes it
``[batch, seq, features]``; a 2-d input is one unbatched sequence. Recurrent layers have
several outputs (``lstm.output``, ``lstm.h_n``, ``lstm.c_n``); a bare ``lstm`` ref is the first.
"""

from __future__ import annotations

from tidal.nn._kind import (
    INFER,
    Incoming,
    LayerKind,
    Port,
    RuleContext,
    Sample,
    TensorType,
    is_float,
    p,
)


def _layout(ctx: RuleContext, last: str) -> str:
    return f"[batch, seq, {last}]" if ctx.params["batch_first"] else f"[seq, batch, {last}]"


def _batch_axis(ctx: RuleContext) -> int:
    return 0 if ctx.params["batch_first"] else 1


def _recurrent(has_cell: bool):
    def rule(ctx: RuleContext) -> list[TensorType] | None:
        x = ctx.inputs[0]
        hint = None if ctx.params["batch_first"] else "set batch_first: true if the input is [batch, seq, features]"
        if not ctx.expect_rank(x, (3, 2), _layout(ctx, "features"), hint):
            return None
        ctx.match(x, -1, "input_size", "last dim (features)")
        directions = 2 if ctx.params["bidirectional"] else 1
        hidden = ctx.params["hidden_size"]
        output = x.type.with_shape((*x.shape[:-1], directions * hidden))
        layers = directions * ctx.params["num_layers"]
        state = (layers, x.shape[_batch_axis(ctx)], hidden) if x.rank == 3 else (layers, hidden)
        outputs = [output, x.type.with_shape(state)]
        if has_cell:
            outputs.append(x.type.with_shape(state))
        return outputs

    return rule


def _same_batch(ctx: RuleContext, first: Incoming, other: Incoming, axis: int) -> None:
    if first.rank == other.rank == 3 and first.shape[axis] != other.shape[axis]:
        ctx.problem(f"batch size {other.shape[axis]} (dim {axis}) of {other.shown()} differs from {first.shape[axis]}, "
                    f"the batch of '{first.port}' {first.shown()}", port=other.port,
                    hint="feed tensors of the same batch", code="size_mismatch", expected=str(first.type), actual=str(other.type))


def _same_rank(ctx: RuleContext, first: Incoming, other: Incoming) -> bool:
    if other.rank == first.rank:
        return True
    ctx.problem(f"expects a {first.rank}-d input like '{first.port}' {first.type} but gets a {other.rank}-d {other.shown()}",
                port=other.port, hint="give query, key and value the same layout", expected=str(first.type), actual=str(other.type))
    return False


def _heads(ctx: RuleContext, embed: object, heads_param: str, embed_param: str) -> None:
    heads = ctx.params[heads_param]
    if isinstance(embed, int) and embed % heads:
        ctx.problem(f"{embed_param} {embed} is not divisible by {heads_param} {heads}", param=heads_param,
                    hint=f"choose {heads_param} dividing {embed}", code="bad_param")


def _attention(ctx: RuleContext) -> list[TensorType] | None:
    query, key, value = ctx.input("query"), ctx.input("key"), ctx.input("value")
    assert query is not None and key is not None and value is not None
    if not ctx.expect_rank(query, (3, 2), _layout(ctx, "embed")):
        return None
    if not (_same_rank(ctx, query, key) and _same_rank(ctx, query, value)):
        return None
    embed = ctx.match(query, -1, "embed_dim", "last dim (embedding)")
    _heads(ctx, embed, "num_heads", "embed_dim")
    for incoming, param in ((key, "kdim"), (value, "vdim")):
        if incoming.source == query.source and incoming is not query and ctx.params[param] is None:
            continue
        wanted = ctx.params[param] if ctx.params[param] is not None else embed
        if wanted is not None and incoming.shape[-1] != wanted:
            label = f"{wanted} ({param})" if ctx.params[param] is not None else f"{wanted} (embed_dim; set {param} for another size)"
            ctx.problem(f"expects last dim {label} but gets {incoming.shape[-1]} {incoming.describe()}", port=incoming.port,
                        hint=f"set {param}: {incoming.shape[-1]}", code="size_mismatch", expected=str(wanted), actual=str(incoming.type))
    seq_axis = (1 if ctx.params["batch_first"] else 0) if query.rank == 3 else 0
    if key.shape[seq_axis] != value.shape[seq_axis]:
        ctx.problem(f"key has {key.shape[seq_axis]} positions but value has {value.shape[seq_axis]}: {value.shown()}",
                    port="value", hint="key and value must have the same sequence length", code="size_mismatch",
                    expected=str(key.type), actual=str(value.type))
    batch_axis = _batch_axis(ctx)
    _same_batch(ctx, query, key, batch_axis)
    _same_batch(ctx, query, value, batch_axis)
    width = embed if embed is not None else query.shape[-1]
    output = query.type.with_shape((*query.shape[:-1], width))
    target, source = query.shape[seq_axis], key.shape[seq_axis]
    weights = (query.shape[batch_axis], target, source) if query.rank == 3 else (target, source)
    return [output, query.type.with_shape(weights)]


def _dot_product(ctx: RuleContext) -> list[TensorType] | None:
    """query [..., L, E], key [..., S, E], value [..., S, Ev] -> [..., L, Ev]; a mask broadcasts to [..., L, S]."""
    query, key, value = ctx.input("query"), ctx.input("key"), ctx.input("value")
    assert query is not None and key is not None and value is not None
    for incoming in (query, key, value):
        if not is_float(incoming.type.dtype):
            ctx.problem(f"expects a floating-point tensor but gets {incoming.shown()}", port=incoming.port, code="dtype",
                        hint="project indices with an embedding first", actual=str(incoming.type))
            return None
    if not ctx.expect_rank(query, (2, 3, 4, 5), "[..., target, embed]"):
        return None
    if not (_same_rank(ctx, query, key) and _same_rank(ctx, query, value)):
        return None
    if key.shape[-1] != query.shape[-1]:
        ctx.problem(f"expects last dim {query.shape[-1]} (the query's) but gets {key.shape[-1]} {key.describe()}", port="key",
                    hint="give query and key the same head size", code="size_mismatch", expected=str(query.shape[-1]),
                    actual=str(key.type))
    if key.shape[-2] != value.shape[-2]:
        ctx.problem(f"key has {key.shape[-2]} positions but value has {value.shape[-2]}: {value.shown()}", port="value",
                    hint="key and value must have the same sequence length", code="size_mismatch",
                    expected=str(key.type), actual=str(value.type))
    for other in (key, value):
        if other.shape[:-2] != query.shape[:-2]:
            ctx.problem(f"leading dims {list(other.shape[:-2])} differ from the query's {list(query.shape[:-2])}: {other.shown()}",
                        port=other.port, hint="give query, key and value the same batch and head dims", code="size_mismatch",
                        expected=str(query.type), actual=str(other.type))
    mask = ctx.input("attn_mask")
    if mask is not None:
        scores = (*query.shape[:-1], key.shape[-2])
        if mask.type.dtype != "bool" and not is_float(mask.type.dtype):
            ctx.problem(f"expects a bool or float mask but gets {mask.shown()}", port="attn_mask", code="dtype",
                        hint="cast the mask to bool (true: attend)", actual=str(mask.type))
        fits = mask.rank <= len(scores) and all(
            size == 1 or size == wanted for size, wanted in zip(reversed(mask.shape), reversed(scores), strict=False))
        if not fits:
            ctx.problem(f"mask {mask.shown()} does not broadcast to the attention scores {list(scores)}", port="attn_mask",
                        hint="shape the mask [batch, 1, 1, source] or [batch, heads, target, source]", code="broadcast",
                        expected=str(list(scores)), actual=str(mask.type))
    return [query.type.with_shape((*query.shape[:-1], value.shape[-1]))]


def _encoder(ctx: RuleContext) -> list[TensorType] | None:
    src = ctx.inputs[0]
    if not ctx.expect_rank(src, (3, 2), _layout(ctx, "d_model")):
        return None
    d_model = ctx.match(src, -1, "d_model", "last dim (d_model)")
    _heads(ctx, d_model, "nhead", "d_model")
    return [src.type]


def _decoder(ctx: RuleContext) -> list[TensorType] | None:
    tgt, memory = ctx.inputs[0], ctx.inputs[1]
    if not (ctx.expect_rank(tgt, (3, 2), _layout(ctx, "d_model")) and ctx.expect_rank(memory, (3, 2), _layout(ctx, "d_model"))):
        return None
    if not _same_rank(ctx, tgt, memory):
        return None
    d_model = ctx.match(tgt, -1, "d_model", "last dim (d_model)")
    if d_model is not None and memory.shape[-1] != d_model:
        ctx.problem(f"expects last dim {d_model} (d_model) but gets {memory.shape[-1]} {memory.describe()}", port=memory.port,
                    hint="project the memory to d_model first (a linear layer)", code="size_mismatch",
                    expected=str(d_model), actual=str(memory.type))
    _heads(ctx, d_model, "nhead", "d_model")
    _same_batch(ctx, tgt, memory, _batch_axis(ctx))
    return [tgt.type]


def _recurrent_params() -> tuple:
    return (
        p("input_size", "int", INFER, "features per step (inferred when left out)", minimum=1, positional=True),
        p("hidden_size", "int", ..., "features of the hidden state", minimum=1, positional=True),
        p("num_layers", "int", 1, minimum=1),
        p("bias", "bool", True),
        p("batch_first", "bool", False, "input is [batch, seq, features] instead of [seq, batch, features]"),
        p("dropout", "float", 0.0, "dropout between stacked layers", minimum=0, maximum=1),
        p("bidirectional", "bool", False),
    )


def _transformer_params() -> tuple:
    return (
        p("d_model", "int", INFER, "embedding size (inferred when left out)", minimum=1, positional=True),
        p("nhead", "int", ..., "attention heads; must divide d_model", minimum=1, positional=True),
        p("dim_feedforward", "int", 2048, minimum=1),
        p("dropout", "float", 0.1, minimum=0, maximum=1),
        p("activation", "choice", "relu", choices=("relu", "gelu")),
        p("layer_norm_eps", "float", 1e-5, minimum=0),
        p("batch_first", "bool", False),
        p("norm_first", "bool", False),
        p("bias", "bool", True),
    )


def _float(*shapes: list[int | str]) -> tuple[tuple[list[int | str], str], ...]:
    return tuple((shape, "float32") for shape in shapes)


KINDS = (
    LayerKind("lstm", "sequence", "long short-term memory over a sequence", _recurrent_params(), (Port("x"),),
              _recurrent(True), Sample(_float([2, 5, 4]), {"hidden_size": 3, "batch_first": True}),
              outputs=("output", "h_n", "c_n"), torch="LSTM", unpack=("output", ("h_n", "c_n"))),
    LayerKind("gru", "sequence", "gated recurrent unit over a sequence", _recurrent_params(), (Port("x"),),
              _recurrent(False), Sample(_float([5, 2, 4]), {"hidden_size": 3, "bidirectional": True}),
              outputs=("output", "h_n"), torch="GRU", unpack=("output", "h_n")),
    LayerKind("multihead_attention", "attention",
              "attention of query over key/value; leave key and value out for self-attention",
              (p("embed_dim", "int", INFER, "query features (inferred when left out)", minimum=1, positional=True),
               p("num_heads", "int", ..., "heads; must divide embed_dim", minimum=1, positional=True),
               p("dropout", "float", 0.0, minimum=0, maximum=1),
               p("bias", "bool", True),
               p("batch_first", "bool", False),
               p("kdim", "optional_int", None, "key features (default embed_dim)", minimum=1),
               p("vdim", "optional_int", None, "value features (default embed_dim)", minimum=1)),
              (Port("query"), Port("key", optional=True, default="query"), Port("value", optional=True, default="key")),
              _attention, Sample(_float([2, 5, 8]), {"num_heads": 2, "batch_first": True}),
              outputs=("output", "weights"), torch="MultiheadAttention", unpack=("output", "weights"),
              call_options=("need_weights",)),
    LayerKind("scaled_dot_product_attention", "attention",
              "softmax(query key^T * scale + mask) value over the last two dims (heads already split)",
              (p("is_causal", "bool", False, "mask out later positions"),
               p("scale", "optional_float", None, "multiplies the scores (null: 1/sqrt(head size))")),
              (Port("query"), Port("key"), Port("value"), Port("attn_mask", optional=True)), _dot_product,
              Sample(_float([2, 2, 5, 4], [2, 2, 6, 4], [2, 2, 6, 3]), {}),
              code="torch.nn.functional.scaled_dot_product_attention({query}, {key}, {value}{,attn_mask}{,is_causal}{,scale})",
              accepts="any"),
    LayerKind("transformer_encoder_layer", "attention", "self-attention and feed-forward block (a transformer encoder layer)",
              _transformer_params(), (Port("src"),), _encoder,
              Sample(_float([2, 5, 8]), {"nhead": 2, "dim_feedforward": 16, "batch_first": True}),
              torch="TransformerEncoderLayer"),
    LayerKind("transformer_decoder_layer", "attention",
              "self-attention, attention over memory, and feed-forward (a transformer decoder layer)",
              _transformer_params(), (Port("tgt"), Port("memory")), _decoder,
              Sample(_float([2, 4, 8], [2, 5, 8]), {"nhead": 2, "dim_feedforward": 16, "batch_first": True}),
              torch="TransformerDecoderLayer"),
)
