"""Two published architectures written as specs agree with the same networks written in PyTorch:
ResNet-18 (examples/nn/resnet18.yaml, full width) and MobileNetV3-Small (built here, at half width).
The PyTorch versions follow torchvision's code; they are read back with from_module and must be the
same graph, and compute the same numbers with the same weights."""

from __future__ import annotations

import pytest
from nn_helpers import EXAMPLES

from tidal.nn import (
    NetworkSpec,
    build_module,
    from_module,
    infer_shapes,
    load_network,
    same_structure,
)


def spec_keys(module, torch) -> dict[str, str]:
    """Parameter names of ``module`` as from_module's layers name them: each of your own submodules is a
    block, and the path inside one block becomes one id (``layer2.0.downsample.0.weight`` ->
    ``layer2_0.downsample_0.weight``)."""
    blocks = {name for name, child in module.named_modules()
              if name and not type(child).__module__.startswith("torch.nn")}
    renamed = {}
    for key in module.state_dict():
        parts = key.split(".")
        segments, start = [], 0
        for end in range(1, len(parts)):
            if ".".join(parts[:end]) in blocks:
                segments.append("_".join(parts[start:end]))
                start = end
        segments.append("_".join(parts[start:-1]))
        renamed[key] = ".".join([*segments, parts[-1]])
    return renamed


def _check(spec, reference, example, torch, shapes):
    imported = from_module(reference, (example,), input_shapes=shapes)
    assert same_structure(spec, imported)
    built = build_module(spec).eval()
    names = spec_keys(reference, torch)
    built.load_state_dict({names[key]: value for key, value in reference.state_dict().items()})
    with torch.no_grad():
        assert (built(example) - reference(example)).abs().max().item() <= 1e-5


def _resnet18(torch):
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            layers, inplanes = [], 64
            for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                down = None
                if stride != 1:
                    down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes)))
                inplanes = planes
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18()


def _randomize_norms(module, torch):
    generator = torch.Generator().manual_seed(1)
    for child in module.modules():
        if isinstance(child, torch.nn.BatchNorm2d):
            child.running_mean.normal_(0, 0.1, generator=generator)
            child.running_var.uniform_(0.5, 1.5, generator=generator)


def test_resnet18_spec_matches_torchvisions_design(torch):
    spec = load_network(EXAMPLES / "resnet18.yaml")
    shapes = infer_shapes(spec)
    assert str(shapes.outputs["logits"]) == "[batch, 1000]"
    assert str(shapes.layers["layer4_1"].output) == "[batch, 512, (((((h + 1)//2 + 1)//2 + 1)//2 + 1)//2 + 1)//2, (((((w + 1)//2 + 1)//2 + 1)//2 + 1)//2 + 1)//2]"
    reference = _resnet18(torch)
    _randomize_norms(reference, torch)
    reference.eval()
    assert sum(p.numel() for p in reference.parameters()) == 11_689_512  # torchvision's resnet18
    _check(spec, reference, torch.randn(1, 3, 32, 32), torch, {"x": ["batch", 3, "h", "w"]})


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# torchvision's MobileNetV3-Small: (input, kernel, expanded, output, squeeze-excite, activation, stride)
SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
         (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
         (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
         (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]
WIDTH = 0.5


def _config():
    return [tuple(_divisible(c * WIDTH) if i in (0, 2, 3) else c for i, c in enumerate(row)) for row in SMALL]


def _mobilenet_spec() -> NetworkSpec:
    bn = {"eps": 0.001, "momentum": 0.01}

    def conv_bn(prefix, source, out, kernel, stride=1, groups=1, act=None):
        layers = [{"id": f"{prefix}_0", "kind": "conv2d", "inputs": [source],
                   "params": {"out_channels": out, "kernel_size": kernel, "stride": stride, "padding": (kernel - 1) // 2,
                              "groups": groups, "bias": False}},
                  {"id": f"{prefix}_1", "kind": "batchnorm2d", "inputs": [f"{prefix}_0"], "params": bn}]
        if act:
            layers.append({"id": f"{prefix}_2", "kind": act, "inputs": [f"{prefix}_1"]})
        return layers

    modules, layers = {}, conv_bn("features_0", "image", _divisible(16 * WIDTH), 3, 2, act="hardswish")
    previous = "features_0_2"
    for index, (cin, kernel, expanded, out, se, act_name, stride) in enumerate(_config(), start=1):
        act = "relu" if act_name == "RE" else "hardswish"
        inner, source = [], "x"
        if expanded != cin:
            inner += conv_bn("block_0", "x", expanded, 1, act=act)
            source = "block_0_2"
        position = len({layer["id"].split("_")[1] for layer in inner})
        inner += conv_bn(f"block_{position}", source, expanded, kernel, stride, expanded, act)
        source = f"block_{position}_2"
        if se:
            squeeze = _divisible(expanded // 4)
            name = f"se{expanded}"
            modules[name] = {"inputs": {"x": {"shape": ["batch", expanded, "h", "w"]}}, "layers": [
                {"id": "avgpool", "kind": "adaptive_avgpool2d", "inputs": ["x"], "params": {"output_size": 1}},
                {"id": "fc1", "kind": "conv2d", "inputs": ["avgpool"], "params": {"out_channels": squeeze, "kernel_size": 1}},
                {"id": "activation", "kind": "relu", "inputs": ["fc1"]},
                {"id": "fc2", "kind": "conv2d", "inputs": ["activation"], "params": {"out_channels": expanded, "kernel_size": 1}},
                {"id": "scale_activation", "kind": "hardsigmoid", "inputs": ["fc2"]},
                {"id": "scaled", "kind": "multiply", "inputs": ["scale_activation", "x"]}], "outputs": {"y": "scaled"}}
            position += 1
            inner.append({"id": f"block_{position}", "kind": "module", "inputs": [source], "params": {"network": name}})
            source = f"block_{position}"
        position += 1
        inner += conv_bn(f"block_{position}", source, out, 1)
        source = f"block_{position}_1"
        if stride == 1 and cin == out:
            inner.append({"id": "residual", "kind": "add", "inputs": [source, "x"]})
            source = "residual"
        name = f"inverted{index}"
        modules[name] = {"inputs": {"x": {"shape": ["batch", cin, "h", "w"]}}, "layers": inner, "outputs": {"y": source}}
        layers.append({"id": f"features_{index}", "kind": "module", "inputs": [previous], "params": {"network": name}})
        previous = f"features_{index}"
    last = 6 * _config()[-1][3]
    layers += conv_bn("features_12", previous, last, 1, act="hardswish")
    layers += [{"id": "avgpool", "kind": "adaptive_avgpool2d", "inputs": ["features_12_2"], "params": {"output_size": 1}},
               {"id": "flatten", "kind": "flatten", "inputs": ["avgpool"]},
               {"id": "classifier_0", "kind": "linear", "inputs": ["flatten"], "params": {"out_features": _divisible(1024 * WIDTH)}},
               {"id": "classifier_1", "kind": "hardswish", "inputs": ["classifier_0"]},
               {"id": "classifier_2", "kind": "dropout", "inputs": ["classifier_1"], "params": {"p": 0.2}},
               {"id": "classifier_3", "kind": "linear", "inputs": ["classifier_2"], "params": {"out_features": 1000}}]
    return NetworkSpec.from_dict({"tidal-nn": 1, "name": "mobilenet-v3-small", "inputs": {"image": {"shape": ["batch", 3, "h", "w"]}},
                                  "layers": layers, "outputs": {"logits": "classifier_3"}, "modules": modules})


def _mobilenet(torch):
    nn = torch.nn

    def conv_bn(cin, cout, kernel, stride=1, groups=1, act=None):
        layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
        return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels, squeeze):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
            self.activation, self.scale_activation = nn.ReLU(), nn.Hardsigmoid()

        def forward(self, x):
            scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
            return scale * x

    class InvertedResidual(nn.Module):
        def __init__(self, cin, kernel, expanded, out, se, act_name, stride):
            super().__init__()
            act = nn.ReLU if act_name == "RE" else nn.Hardswish
            layers = []
            if expanded != cin:
                layers.append(conv_bn(cin, expanded, 1, act=act))
            layers.append(conv_bn(expanded, expanded, kernel, stride, expanded, act))
            if se:
                layers.append(SqueezeExcitation(expanded, _divisible(expanded // 4)))
            layers.append(conv_bn(expanded, out, 1))
            self.block = nn.Sequential(*layers)
            self.use_res_connect = stride == 1 and cin == out

        def forward(self, x):
            result = self.block(x)
            if self.use_res_connect:
                result += x
            return result

    class MobileNetV3Small(nn.Module):
        def __init__(self):
            super().__init__()
            config = _config()
            last = 6 * config[-1][3]
            self.features = nn.Sequential(conv_bn(3, _divisible(16 * WIDTH), 3, 2, act=nn.Hardswish),
                                          *[InvertedResidual(*row) for row in config],
                                          conv_bn(config[-1][3], last, 1, act=nn.Hardswish))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Linear(last, _divisible(1024 * WIDTH)), nn.Hardswish(), nn.Dropout(0.2),
                                            nn.Linear(_divisible(1024 * WIDTH), 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return MobileNetV3Small()


def test_mobilenet_v3_small_spec_matches_torchvisions_design(torch):
    spec = _mobilenet_spec()
    assert str(infer_shapes(spec).outputs["logits"]) == "[batch, 1000]"
    reference = _mobilenet(torch)
    _randomize_norms(reference, torch)
    reference.eval()
    _check(spec, reference, torch.randn(2, 3, 32, 32), torch, {"x": ["batch", 3, 32, 32]})


@pytest.mark.parametrize("size", [224, 64])
def test_the_specs_infer_at_any_image_size(size):
    from tidal.nn._dims import substitute

    for spec in (load_network(EXAMPLES / "resnet18.yaml"), _mobilenet_spec()):
        shapes = infer_shapes(spec)
        stem = shapes.layers[spec.layers[0].id].output
        assert stem is not None and substitute(stem.shape[2], {"h": size}) == size // 2
