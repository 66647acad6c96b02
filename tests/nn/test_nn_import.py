"""PyTorch -> spec through torch.fx: round trips are isomorphic and compute the same numbers, and
whatever has no layer kind is refused naming the node and the line."""

from __future__ import annotations

import re
import warnings

import pytest
from nn_helpers import EXAMPLES, load_generated, make_inputs

from tidal.nn import (
    NetworkError,
    build_module,
    from_module,
    load_network,
    same_structure,
    to_source,
)
from tidal.nn._codegen import class_name

ROUND_TRIPS = ["mlp", "digits_cnn", "resnet_blocks", "lstm_classifier", "transformer_encoder", "nested"]


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_spec_to_code_to_module_to_spec_round_trip(name, torch):
    spec = load_network(EXAMPLES / f"{name}.yaml")
    module = load_generated(to_source(spec), class_name(spec.name))()
    for parameter in module.parameters():  # weights of the generated module, copied to the rebuilt one below
        torch.nn.init.normal_(parameter, std=0.2)
    module.eval()
    inputs = make_inputs(spec, torch)
    back = from_module(module, inputs)
    assert same_structure(spec, back)
    rebuilt = build_module(back).eval()
    rebuilt.load_state_dict(module.state_dict())  # strict: the same keys
    with torch.no_grad():
        expected, actual = module(*inputs), rebuilt(*inputs)
    assert (expected - actual).abs().max().item() <= 1e-6


@pytest.mark.parametrize("name", ["mlp", "digits_cnn", "resnet_blocks"])
def test_the_examples_round_trip_through_torch_export_too(name, torch):
    spec = load_network(EXAMPLES / f"{name}.yaml")
    module = load_generated(to_source(spec), class_name(spec.name))()
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter, std=0.2)
    module.eval()
    inputs = make_inputs(spec, torch)
    back = from_module(module, inputs, via="export")
    assert same_structure(spec, back)
    rebuilt = build_module(back).eval()
    rebuilt.load_state_dict(module.state_dict())  # exported layers are named by the modules that own their weights
    with torch.no_grad():
        assert (module(*inputs) - rebuilt(*inputs)).abs().max().item() <= 1e-6


def test_same_structure_notices_changes():
    spec = load_network(EXAMPLES / "resnet_blocks.yaml")
    data = spec.to_dict()
    data["layers"][8]["inputs"] = ["b1_bn2", "b1_relu1"]  # the residual taken from elsewhere
    changed = type(spec).from_dict(data)
    assert not same_structure(spec, changed)
    data = spec.to_dict()
    data["layers"][0]["params"]["kernel_size"] = [3, 3]  # the same conv, written differently
    data["layers"][0]["id"] = "first"
    data["layers"][1]["inputs"] = ["first"]
    assert same_structure(spec, type(spec).from_dict(data))


def _module(torch):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn = nn.BatchNorm2d(channels)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)) + x)

    class HandWritten(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True))
            self.block = Block(4)
            self.side = nn.Conv2d(1, 4, 1)
            self.fc = nn.Linear(8 * 4 * 4, 3)

        def forward(self, x):
            a = self.block(self.features(x))
            b = torch.sigmoid(self.side(x))
            joined = torch.cat([a, b * a], dim=1)
            pooled = F.max_pool2d(joined, 2)
            flat = pooled.view(pooled.size(0), -1)
            return F.log_softmax(self.fc(flat), dim=1)

    return HandWritten()


def _renamed(state, blocks):
    """The original module's weights under the spec's layer ids (module paths with dots made underscores)."""
    renamed = {}
    for key, value in state.items():
        path, _, leaf = key.rpartition(".")
        block = next((name for name in blocks if path.startswith(name + ".")), None)
        prefix = block + "." + path[len(block) + 1:] if block else re.sub(r"\W", "_", path)
        renamed[f"{prefix}.{leaf}"] = value
    return renamed


def test_a_hand_written_module_converts_and_computes_the_same(torch):
    module = _module(torch)
    module.block.bn.running_mean.fill_(0.5)
    module.train()
    before = module.block.bn.running_mean.clone()
    example = torch.randn(2, 1, 8, 8)
    spec = from_module(module, (example,), input_shapes={"x": ["batch", 1, 8, 8]})
    assert torch.equal(module.block.bn.running_mean, before) and module.training  # nothing changed
    kinds = [layer.kind for layer in spec.layers]
    assert kinds == ["conv2d", "relu", "module", "conv2d", "sigmoid", "multiply", "concat", "maxpool2d", "flatten",
                     "linear", "log_softmax"]
    assert spec.layers[0].id == "features_0" and spec.layers[1].params == {"inplace": True}
    assert spec.layers[2].params == {"network": "block"}
    assert [layer.kind for layer in spec.modules["block"].layers] == ["conv2d", "batchnorm2d", "add", "relu"]
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(_renamed(module.state_dict(), ["block"]))
    module.eval()
    with torch.no_grad():
        assert (rebuilt(example) - module(example)).abs().max().item() <= 1e-6
    flat = from_module(module, (example,), nested=False)
    assert "modules" not in flat.to_dict() and "block_conv" in [layer.id for layer in flat.layers]


def test_refusals_name_every_node_and_its_line(torch):
    nn = torch.nn

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(1, 2, 1)
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            y = self.conv(x)
            z = torch.exp(y)
            return z * self.scale + 1

    with pytest.raises(NetworkError) as info:
        from_module(Odd(), (torch.randn(1, 1, 2, 2, 2),))
    issues = info.value.issues
    text = str(info.value)
    assert [item.layer for item in issues] == ["conv", "exp", "scale", "add"]
    assert "torch.nn.modules.conv.Conv3d, which has no Tidal layer kind" in text
    assert "function torch.exp has no Tidal layer kind" in text
    assert "forward reads self.scale directly" in text
    assert "'b' is the constant 1, not a tensor" in text
    assert re.search(r"test_nn_import\.py:\d+: `z = torch\.exp\(y\)`", text)


def test_data_dependent_control_flow_is_refused_with_its_line(torch):
    class Branchy(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return torch.relu(x)
            return x

    with pytest.raises(NetworkError) as info:
        from_module(Branchy(), (torch.randn(2, 3),))
    (problem,) = info.value.issues
    assert problem.code == "untraceable" and "data-dependent control flow" in problem.message
    assert re.search(r"test_nn_import\.py:\d+: `if x\.sum\(\) > 0:`", problem.message)


def test_settings_without_a_spec_form_and_shared_weights_are_refused(torch):
    nn = torch.nn

    class Settings(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")
            self.lstm = nn.LSTM(4, 3, proj_size=2)
            self.fc = nn.Linear(4, 4)

        def forward(self, x, seq):
            return self.conv(x), self.lstm(seq)[0], self.fc(self.fc(seq))

    with pytest.raises(NetworkError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that oneDNN has no LSTM projections
        from_module(Settings(), (torch.randn(1, 1, 4, 4), torch.randn(5, 1, 4)))
    text = str(info.value)
    assert "self.conv (Conv2d): settings Tidal's conv2d cannot express: padding_mode='reflect'" in text
    assert "self.lstm (LSTM): settings Tidal's lstm cannot express: proj_size=2" in text
    assert "self.fc is called 2 times" in text


def test_call_idioms_map_to_kinds(torch):
    nn = torch.nn

    class Idioms(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
            self.gru = nn.GRU(4, 4, batch_first=True)

        def forward(self, x):
            attended, _ = self.attn(x, x, x, need_weights=False)
            out, hidden = self.gru(attended)
            last = out[:, -1]
            first = out[..., 0]
            halves = torch.split(out, 2, dim=2)
            mean = out.mean(dim=(1, 2), keepdim=True)
            shaped = out.reshape(out.size(0), 5, 4).permute(0, 2, 1).transpose(1, 2)
            return {"last": last, "first": first, "half": halves[1], "mean": mean, "shaped": shaped, "hidden": hidden}

    module = Idioms().eval()
    example = torch.randn(2, 5, 4)
    spec = from_module(module, (example,))
    layers = {layer.id: layer for layer in spec.layers}
    assert layers["attn"].inputs == ["x"]
    assert layers["select"].kind == "select" and layers["select"].params == {"dim": 1, "index": -1}
    assert layers["select_2"].params == {"dim": -1, "index": 0}
    assert layers["reshape"].params == {"shape": [-1, 5, 4]}
    assert layers["mean"].params == {"dim": [1, 2], "keepdim": True}
    assert spec.output_map == {"last": "select", "first": "select_2", "half": "split.1", "mean": "mean",
                               "shaped": "transpose", "hidden": "gru.h_n"}
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(module.state_dict())
    with torch.no_grad():
        expected, actual = module(example), rebuilt(example)
    for name, tensor in zip(spec.output_map, actual, strict=True):
        assert torch.allclose(expected[name], tensor, atol=1e-6), name


def test_unsupported_indexing_and_reshape_are_refused(torch):
    class Slicing(torch.nn.Module):
        def forward(self, x):
            b, c = x.size(0), x.size(1)
            return x[:, 1:3], x.view(b, c, -1)

    with pytest.raises(NetworkError) as info:
        from_module(Slicing(), (torch.randn(2, 4, 3),))
    text = str(info.value)
    assert "Tidal's select takes one index along one dim" in text
    assert "several sizes read from the input's shape" in text


def _attention_block(torch):
    nn, F = torch.nn, torch.nn.functional

    class TinyEncoder(nn.Module):
        """Embeddings, positions, multi-head attention with a padding mask, a GELU feed-forward, residuals."""

        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(20, 8, padding_idx=0)
            self.places = nn.Embedding(16, 8)
            self.norm = nn.LayerNorm(8)
            self.qkv = nn.Linear(8, 24)
            self.out = nn.Linear(8, 8)
            self.up = nn.Linear(8, 16)
            self.down = nn.Linear(16, 8)
            self.drop = nn.Dropout(0.1)

        def forward(self, ids, mask):
            places = torch.arange(ids.size(1), device=ids.device).unsqueeze(0)
            x = self.norm(self.tokens(ids) + self.places(places))
            q, k, v = torch.split(self.qkv(x), 8, dim=2)
            heads = [item.unflatten(2, (2, 4)).transpose(1, 2) for item in (q, k, v)]
            keep = mask.to(torch.bool).unsqueeze(1).unsqueeze(2)
            attended = F.scaled_dot_product_attention(heads[0], heads[1], heads[2], attn_mask=keep)
            x = x + self.drop(self.out(attended.transpose(1, 2).flatten(2)))
            return x + self.down(F.gelu(self.up(x)))

    return TinyEncoder()


def test_torch_export_reads_an_attention_block_as_torch_fx_does(torch):
    module = _attention_block(torch).eval()
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    ids = torch.tensor([[3, 5, 7, 9, 2], [4, 6, 8, 0, 0]])
    mask = (ids != 0).long()
    dims = {"ids": ["batch", "seq"], "mask": ["batch", "seq"]}
    exported = from_module(module, (ids, mask), input_shapes=dims, via="export")
    traced = from_module(module, (ids, mask), input_shapes=dims, via="fx")
    assert same_structure(exported, traced)  # two readers, one graph
    kinds = [layer.kind for layer in exported.layers]
    assert {"positions", "unflatten", "cast", "scaled_dot_product_attention", "split", "flatten"} <= set(kinds)
    assert {layer.id for layer in exported.layers} >= {"tokens", "places", "norm", "qkv", "out", "up", "down"}
    rebuilt = build_module(exported).eval()
    rebuilt.load_state_dict(module.state_dict())  # the owning modules' paths are the layer ids
    with torch.no_grad():
        assert (module(ids, mask) - rebuilt(ids, mask)).abs().max().item() <= 1e-6
        longer = torch.tensor([[1, 2, 3, 4, 5, 6, 7]])
        assert (module(longer, torch.ones_like(longer)) - rebuilt(longer, torch.ones_like(longer))).abs().max().item() <= 1e-6


def test_torch_export_refuses_an_aten_op_without_a_kind_naming_it_and_its_line(torch):
    nn = torch.nn

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.scale = nn.Parameter(torch.ones(3))

        def forward(self, x):
            y = self.fc(x)
            z = torch.exp(y)
            return z * self.scale

    with pytest.raises(NetworkError) as info:
        from_module(Odd(), (torch.randn(2, 3),), via="export")
    issues = {item.layer: item.message for item in info.value.issues}
    assert list(issues) == ["exp", "mul"]
    assert "ATen op aten.exp.default has no Tidal layer kind" in issues["exp"]
    assert re.search(r"test_nn_import\.py:\d+: `z = torch\.exp\(y\)`", issues["exp"])
    assert "forward uses the parameter self.scale directly" in issues["mul"]


def test_torch_export_refuses_data_dependent_control_flow_naming_the_line(torch):
    class Branchy(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return torch.relu(x)
            return x

    class Conditional(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, torch.relu, torch.sigmoid, (x,))

    with pytest.raises(NetworkError) as info:
        from_module(Branchy(), (torch.randn(2, 3),), via="export")
    (problem,) = info.value.issues
    assert problem.code == "untraceable" and "data-dependent control flow" in problem.message
    assert re.search(r"test_nn_import\.py:\d+: `if x\.sum\(\) > 0:`", problem.message)
    with pytest.raises(NetworkError) as info:
        from_module(Conditional(), (torch.randn(2, 3),))  # fx cannot trace torch.cond; export reads it, Tidal refuses it
    assert any("cond (a branch or loop on tensor values" in item.message and
               re.search(r"test_nn_import\.py:\d+: `return torch\.cond", item.message) for item in info.value.issues)
    with pytest.raises(NetworkError, match="via must be 'auto', 'fx' or 'export'"):
        from_module(Branchy(), (torch.randn(2, 3),), via="onnx")


def test_attention_written_out_by_hand_reads_the_same_through_fx_and_export(torch):
    class Scores(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.query = torch.nn.Linear(4, 4)
            self.key = torch.nn.Linear(4, 4)

        def forward(self, x):
            scores = self.query(x) @ self.key(x).transpose(-2, -1) * 0.5  # a scale: a fixed number
            return torch.softmax(scores, dim=-1) @ x

    module = Scores().eval()
    x = torch.randn(2, 5, 4)
    traced, exported = from_module(module, (x,), via="fx"), from_module(module, (x,), via="export")
    assert same_structure(traced, exported)
    assert [layer.kind for layer in exported.layers] == ["linear", "linear", "transpose", "matmul", "scale", "softmax",
                                                          "matmul"]
    assert exported.layers[4].params == {"factor": 0.5}
    rebuilt = build_module(exported).eval()
    rebuilt.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert (module(x) - rebuilt(x)).abs().max().item() <= 1e-6


def test_a_mask_that_keeps_everything_is_read_as_no_mask(torch):
    class Unmasked(torch.nn.Module):
        """Builds a mask of ones when none is given, as transformers does for a batch without padding."""

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 4)

        def forward(self, x):
            keep = torch.ones(x.shape[0], 1, x.shape[1], x.shape[1], dtype=torch.bool, device=x.device)
            heads = self.proj(x).unsqueeze(1)
            return torch.nn.functional.scaled_dot_product_attention(heads, heads, heads, attn_mask=keep)

    module = Unmasked().eval()
    x = torch.randn(2, 5, 4)
    spec = from_module(module, (x,))  # fx refuses torch.ones; export reads it
    (attention,) = [layer for layer in spec.layers if layer.kind == "scaled_dot_product_attention"]
    assert len(attention.inputs) == 3  # the all-true mask is dropped, not held as a constant
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert (module(x) - rebuilt(x)).abs().max().item() <= 1e-6
