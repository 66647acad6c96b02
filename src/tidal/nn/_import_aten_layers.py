"""ATen ops that become ``torch.nn`` layers, for :mod:`tidal.nn._import_aten`: linear, embedding,
layer and batch norm, convolutions and pools.

A layer with weights takes its id from the module that owns them (:meth:`ExportWalker.owner`), and
its params from the weights' shapes and the op's arguments, as :func:`module_params` reads them off
a module: so fx and export read the same module as the same layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tidal.nn._import_maps import Refusal

Handler = Callable[[Any, Any], None]


def arg(node: Any, index: int, name: str, default: Any = None) -> Any:
    """Argument ``index`` of an ATen call, or its keyword ``name``."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def linear(walker: Any, node: Any) -> None:
    x, weight, bias = node.args[0], node.args[1], arg(node, 2, "bias")
    out_features, in_features = weight.meta["val"].shape
    layer_id = walker.owner(node, weight, bias)
    walker.layer(
        node,
        "linear",
        [walker.tensor(x)],
        {
            "in_features": int(in_features),
            "out_features": int(out_features),
            "bias": bias is not None,
        },
        layer_id,
    )


def embedding(walker: Any, node: Any) -> None:
    weight, indices = node.args[0], node.args[1]
    padding = arg(node, 2, "padding_idx", -1)
    if arg(node, 3, "scale_grad_by_freq", False) or arg(node, 4, "sparse", False):
        raise Refusal("embedding with scale_grad_by_freq or sparse is not supported")
    count, size = weight.meta["val"].shape
    layer_id = walker.owner(node, weight)
    walker.layer(
        node,
        "embedding",
        [walker.tensor(indices)],
        {
            "num_embeddings": int(count),
            "embedding_dim": int(size),
            "padding_idx": None if padding == -1 else padding,
        },
        layer_id,
    )


def layer_norm(walker: Any, node: Any) -> None:
    x, shape = node.args[0], list(node.args[1])
    weight, bias, eps = arg(node, 2, "weight"), arg(node, 3, "bias"), arg(node, 4, "eps", 1e-5)
    if weight is None and bias is not None:
        raise Refusal("layer_norm with a bias but no weight is not supported")
    layer_id = walker.owner(node, weight, bias) if weight is not None else None
    walker.layer(
        node,
        "layernorm",
        [walker.tensor(x)],
        {
            "normalized_shape": shape,
            "eps": eps,
            "elementwise_affine": weight is not None,
            "bias": bias is not None,
        },
        layer_id,
    )


def convolution(walker: Any, node: Any) -> None:
    x, weight, bias = node.args[0], node.args[1], arg(node, 2, "bias")
    shape = [int(size) for size in weight.meta["val"].shape]
    groups = arg(node, 6, "groups", 1)
    layer_id = walker.owner(node, weight, bias)
    params = {
        "in_channels": shape[1] * groups,
        "out_channels": shape[0],
        "kernel_size": shape[2:],
        "stride": list(arg(node, 3, "stride", [1])),
        "padding": arg(node, 4, "padding", [0]),
        "dilation": list(arg(node, 5, "dilation", [1])),
        "groups": groups,
        "bias": bias is not None,
    }
    if isinstance(params["padding"], (list, tuple)):
        params["padding"] = list(params["padding"])
    walker.layer(node, f"conv{len(shape) - 2}d", [walker.tensor(x)], params, layer_id)


def batch_norm(walker: Any, node: Any) -> None:
    x, weight, bias, mean, variance = node.args[:5]
    if arg(node, 5, "training", False):
        raise Refusal(
            "batch_norm in training mode is not supported (Tidal reads modules in eval mode)"
        )
    rank = len(node.meta["val"].shape)
    if rank not in (2, 3, 4):
        raise Refusal(f"batch_norm over a {rank}-d input has no Tidal layer kind")
    if weight is None:
        raise Refusal("batch_norm without affine weights is not supported")
    layer_id = walker.owner(node, weight, bias)
    if mean is not None:
        walker.owner_of_buffers(layer_id, mean, variance)
    walker.layer(
        node,
        "batchnorm2d" if rank == 4 else "batchnorm1d",
        [walker.tensor(x)],
        {
            "num_features": int(weight.meta["val"].shape[0]),
            "eps": arg(node, 7, "eps", 1e-5),
            "momentum": arg(node, 6, "momentum", 0.1),
            "track_running_stats": mean is not None,
        },
        layer_id,
    )


def pool(kind: str, average: bool = False) -> Handler:
    def handle(walker: Any, node: Any) -> None:
        kernel = list(node.args[1])
        stride = list(arg(node, 2, "stride", []) or [])
        params: dict[str, Any] = {
            "kernel_size": kernel,
            "stride": None if not stride or stride == kernel else stride,
            "padding": list(arg(node, 3, "padding", [0])),
        }
        if average:
            params.update(
                ceil_mode=arg(node, 4, "ceil_mode", False),
                count_include_pad=arg(node, 5, "count_include_pad", True),
                divisor_override=arg(node, 6, "divisor_override"),
            )
        else:
            params.update(
                dilation=list(arg(node, 4, "dilation", [1])),
                ceil_mode=arg(node, 5, "ceil_mode", False),
            )
        walker.layer(node, kind, [walker.tensor(node.args[0])], params)

    return handle
