"""Named image architectures written as ``tidal-nn: 1`` specs, sized to the images and the classes.

* ``cnn``: conv-batchnorm-relu-maxpool blocks (16, 32, 64 ... channels) until the image is about
  2 pixels across (at most 5 blocks), then a hidden linear layer and the head (the shape of examples/nn/digits_cnn.yaml);
* ``resnet18``: ResNet-18's basic blocks (2 per stage, 4 stages) as in examples/nn/resnet18.yaml;
* ``mobilenet_v3_small``: MobileNetV3-Small's inverted residual blocks with squeeze-excite and
  hardswish (torchvision's configuration).

``width`` scales every channel count (1.0: the published widths). Images of 64 pixels or less
keep their resolution in the stem (stride 1, no max pool), as CIFAR-sized ResNets do; larger
ones use the published stride-2 stem. The head is the layer ``head``; ``features`` is the
pooled, flattened vector before it (what ``vision.embed`` reads by default).
"""

from __future__ import annotations

import math
from typing import Any

from tidal.core._errors import TidalError

ARCHITECTURES = ("cnn", "resnet18", "mobilenet_v3_small")
#: MobileNetV3-Small: (kernel, expanded, out, squeeze-excite, activation, stride), from the paper's table 2
SMALL = [(3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
         (5, 96, 40, True, "hardswish", 2), (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
         (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1), (5, 288, 96, True, "hardswish", 2),
         (5, 576, 96, True, "hardswish", 1), (5, 576, 96, True, "hardswish", 1)]


def divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor``, never below 90% of it (MobileNet's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _layer(layer_id: str, kind: str, source: str | list[str], **params: Any) -> dict[str, Any]:
    layer: dict[str, Any] = {"id": layer_id, "kind": kind, "inputs": [source] if isinstance(source, str) else source}
    if params:
        layer["params"] = params
    return layer


def _conv_bn(prefix: str, source: str, out: int, kernel: int, stride: int = 1, groups: int = 1, act: str | None = None,
             bn: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    layers = [_layer(f"{prefix}_conv", "conv2d", source, out_channels=out, kernel_size=kernel, stride=stride,
                     padding=(kernel - 1) // 2, groups=groups, bias=False),
              _layer(f"{prefix}_bn", "batchnorm2d", f"{prefix}_conv", **(bn or {}))]
    if act:
        layers.append(_layer(f"{prefix}_act", act, f"{prefix}_bn"))
    return layers


def _cnn(channels: int, height: int, width_px: int, scale: float) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    layers: list[dict[str, Any]] = []
    source, size = "image", min(height, width_px)
    blocks = max(1, min(5, int(math.log2(max(size, 2) / 2))))  # pool down to about 2x2 (8x8 -> 2 blocks)
    for block in range(1, blocks + 1):
        out = max(4, round(16 * scale * 2 ** (block - 1)))
        layers += [_layer(f"conv{block}", "conv2d", source, out_channels=out, kernel_size=3, padding=1),
                   _layer(f"bn{block}", "batchnorm2d", f"conv{block}"), _layer(f"relu{block}", "relu", f"bn{block}"),
                   _layer(f"pool{block}", "maxpool2d", f"relu{block}", kernel_size=2)]
        source = f"pool{block}"
    layers += [_layer("flatten", "flatten", source), _layer("hidden", "linear", "flatten", out_features=max(8, round(64 * scale))),
               _layer("features", "relu", "hidden")]
    return layers, {}, "features"


def _resnet18(channels: int, height: int, width_px: int, scale: float) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    small = min(height, width_px) <= 64
    base = max(4, round(64 * scale))
    layers = _conv_bn("stem", "image", base, 3 if small else 7, 1 if small else 2, act="relu")
    source = "stem_act"
    if not small:
        layers.append(_layer("maxpool", "maxpool2d", source, kernel_size=3, stride=2, padding=1))
        source = "maxpool"
    modules: dict[str, Any] = {}
    cin = base
    for stage in range(4):
        planes = base * 2 ** stage
        for index in range(2):
            stride = 2 if stage > 0 and index == 0 else 1
            name = f"basic_{cin}_{planes}_{stride}"
            if name not in modules:
                inner = _conv_bn("conv1", "x", planes, 3, stride, act="relu") + _conv_bn("conv2", "conv1_act", planes, 3)
                shortcut = "x"
                if stride != 1 or cin != planes:
                    inner += _conv_bn("down", "x", planes, 1, stride)
                    shortcut = "down_bn"
                inner += [_layer("add", "add", ["conv2_bn", shortcut]), _layer("out", "relu", "add")]
                modules[name] = {"inputs": {"x": {"shape": ["batch", cin, "h", "w"]}}, "layers": inner, "outputs": {"y": "out"}}
            layers.append(_layer(f"layer{stage + 1}_{index}", "module", source, network=name))
            source, cin = f"layer{stage + 1}_{index}", planes
    layers += [_layer("avgpool", "adaptive_avgpool2d", source, output_size=1), _layer("features", "flatten", "avgpool")]
    return layers, modules, "features"


def _mobilenet(channels: int, height: int, width_px: int, scale: float) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    bn = {"eps": 0.001, "momentum": 0.01}
    small = min(height, width_px) <= 64
    stem = divisible(16 * scale)
    layers = _conv_bn("stem", "image", stem, 3, 1 if small else 2, act="hardswish", bn=bn)
    source, cin, modules = "stem_act", stem, {}
    for index, (kernel, expanded_base, out_base, se, act, stride) in enumerate(SMALL, start=1):
        expanded, out = divisible(expanded_base * scale), divisible(out_base * scale)
        inner: list[dict[str, Any]] = []
        current = "x"
        if expanded != cin:
            inner += _conv_bn("expand", current, expanded, 1, act=act, bn=bn)
            current = "expand_act"
        inner += _conv_bn("depthwise", current, expanded, kernel, stride, expanded, act, bn=bn)
        current = "depthwise_act"
        if se:
            squeeze = divisible(expanded // 4)
            inner += [_layer("se_pool", "adaptive_avgpool2d", current, output_size=1),
                      _layer("se_fc1", "conv2d", "se_pool", out_channels=squeeze, kernel_size=1),
                      _layer("se_relu", "relu", "se_fc1"),
                      _layer("se_fc2", "conv2d", "se_relu", out_channels=expanded, kernel_size=1),
                      _layer("se_gate", "hardsigmoid", "se_fc2"), _layer("se_scaled", "multiply", ["se_gate", current])]
            current = "se_scaled"
        inner += _conv_bn("project", current, out, 1, bn=bn)
        current = "project_bn"
        if stride == 1 and cin == out:
            inner.append(_layer("residual", "add", [current, "x"]))
            current = "residual"
        name = f"block{index}"
        modules[name] = {"inputs": {"x": {"shape": ["batch", cin, "h", "w"]}}, "layers": inner, "outputs": {"y": current}}
        layers.append(_layer(f"block{index}", "module", source, network=name))
        source, cin = f"block{index}", out
    last = 6 * cin
    layers += _conv_bn("last", source, last, 1, act="hardswish", bn=bn)
    layers += [_layer("avgpool", "adaptive_avgpool2d", "last_act", output_size=1), _layer("flatten", "flatten", "avgpool"),
               _layer("hidden", "linear", "flatten", out_features=divisible(1024 * scale)),
               _layer("features", "hardswish", "hidden"), _layer("dropout", "dropout", "features", p=0.2)]
    return layers, modules, "dropout"


BUILDERS = {"cnn": _cnn, "resnet18": _resnet18, "mobilenet_v3_small": _mobilenet}


def architecture(name: str, *, channels: int, height: int, width_px: int, classes: int, scale: float = 1.0) -> dict[str, Any]:
    """The spec (a ``tidal-nn: 1`` mapping) of architecture ``name`` for ``[channels, height, width_px]`` images."""
    if name not in BUILDERS:
        raise TidalError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {name!r}")
    if not scale > 0:
        raise TidalError(f"width must be above 0, got {scale}")
    layers, modules, last = BUILDERS[name](channels, height, width_px, scale)
    layers.append(_layer("head", "linear", last, out_features=classes))
    spec: dict[str, Any] = {"tidal-nn": 1, "name": name.replace("_", "-"),
                            "description": f"{name} for {channels}x{height}x{width_px} images, {classes} classes, width {scale}",
                            "inputs": {"image": {"shape": ["batch", channels, height, width_px]}},
                            "layers": layers, "outputs": {"logits": "head"}}
    if modules:
        spec["modules"] = modules
    return spec
