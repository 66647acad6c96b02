"""Spec -> readable nn.Module source: it runs, computes what the directly built module computes,
and nothing in a spec can inject code into it."""

from __future__ import annotations

import ast

import pytest
from nn_helpers import EXAMPLES, concrete, load_generated, make_inputs, network, spec_of

from tidal.nn import NetworkError, build_module, infer_shapes, load_network, to_source
from tidal.nn._codegen import class_name

EXAMPLE_NAMES = ["mlp", "digits_cnn", "resnet_blocks", "lstm_classifier", "transformer_encoder", "nested"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_generated_code_matches_the_direct_build(name, torch):
    spec = load_network(EXAMPLES / f"{name}.yaml")
    built = build_module(spec).eval()
    generated = load_generated(to_source(spec), class_name(spec.name))().eval()
    generated.load_state_dict(built.state_dict())  # same keys: the ids are the attribute names
    inputs = make_inputs(spec, torch)
    with torch.no_grad():
        expected, actual = built(*inputs), generated(*inputs)
    assert tuple(actual.shape) == concrete(next(iter(infer_shapes(spec).outputs.values())).shape)
    assert torch.allclose(expected, actual, atol=1e-6, rtol=0)


def test_the_code_is_plain_and_readable():
    source = to_source(load_network(EXAMPLES / "digits_cnn.yaml"))
    tree = ast.parse(source)
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(node) for node in imports] == ["import torch", "from torch import nn"]
    assert "        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)\n" in source
    assert "        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)\n" in source  # in_channels inferred
    assert "        self.pool1 = nn.MaxPool2d(2)\n" in source
    assert "        conv1 = self.conv1(image)  # [batch, 16, 8, 8]\n" in source
    assert "        return fc2\n" in source
    assert max(len(line.split("  #")[0]) for line in source.splitlines()) <= 100
    lstm = to_source(load_network(EXAMPLES / "lstm_classifier.yaml"))
    assert "        lstm, (lstm_h_n, lstm_c_n) = self.lstm(embed)" in lstm
    assert "        last = lstm_h_n.select(0, -1)" in lstm


def test_sub_networks_become_classes_and_multiple_outputs_a_tuple(torch):
    block = {"inputs": {"x": {"shape": ["batch", 4]}},
             "layers": [{"id": "parts", "kind": "split", "inputs": ["x"], "params": {"split_size_or_sections": 2, "dim": 1}}],
             "outputs": {"left": "parts.0", "right": "parts.1"}}
    data = network([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 4}},
                    {"id": "halves", "kind": "module", "inputs": ["fc"], "params": {"network": "halves"}},
                    {"id": "joined", "kind": "concat", "inputs": ["halves.right", "halves"], "params": {"dim": 1}},
                    {"id": "attn", "kind": "multihead_attention", "inputs": ["seq"], "params": {"num_heads": 2}}],
                   inputs={"x": {"shape": ["batch", 8]}, "seq": {"shape": ["seq", "batch", 4]}},
                   outputs={"joined": "joined", "weights": "attn.weights"}, modules={"halves": block})
    spec = spec_of(data)
    source = to_source(spec)
    assert "class Halves(nn.Module):" in source
    assert "        parts, parts_1 = torch.split(x, 2, dim=1)" in source
    assert "        halves, halves_right = self.halves(fc)" in source
    assert "        joined = torch.cat([halves_right, halves], dim=1)" in source
    assert "        attn, attn_weights = self.attn(seq, seq, seq)" in source
    built = build_module(spec).eval()
    generated = load_generated(source, "TestNet")().eval()
    generated.load_state_dict(built.state_dict())
    inputs = make_inputs(spec, torch)
    with torch.no_grad():
        first, second = built(*inputs), generated(*inputs)
    assert len(first) == len(second) == 2
    assert all(torch.allclose(a, b, atol=1e-6, rtol=0) for a, b in zip(first, second, strict=True))
    assert tuple(first[1].shape) == (2, 5, 5)
    with torch.no_grad():
        assert torch.equal(built(x=inputs[0], seq=inputs[1])[0], first[0])
    with pytest.raises(TypeError, match="takes inputs x, seq"):
        built(inputs[0])


def test_blocks_used_with_different_inferred_params_get_a_class_each():
    block = {"inputs": {"x": {"shape": ["batch", "c"]}},
             "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 3}}],
             "outputs": {"y": "fc"}}
    data = network([{"id": "one", "kind": "module", "inputs": ["x"], "params": {"network": "proj"}},
                    {"id": "two", "kind": "module", "inputs": ["one"], "params": {"network": "proj"}},
                    {"id": "three", "kind": "module", "inputs": ["two"], "params": {"network": "proj"}}],
                   modules={"proj": block})
    source = to_source(spec_of(data))
    assert "nn.Linear(8, 3)" in source and "nn.Linear(3, 3)" in source
    assert "self.two = Proj2()" in source and "self.three = Proj2()" in source and "self.one = Proj()" in source


def test_hostile_text_cannot_reach_the_code_as_code(tmp_path):
    evil = '"""; import os; os.system("touch PWNED"); """\\'
    data = network([{"id": "r", "kind": "relu", "inputs": ["x"]}], name=evil, description=evil)
    source = to_source(spec_of(data))
    tree = ast.parse(source)
    assert [type(node).__name__ for node in tree.body] == ["Expr", "Import", "ImportFrom", "ClassDef"]
    klass = tree.body[-1]
    assert isinstance(klass, ast.ClassDef) and ast.get_docstring(klass) == " ".join(evil.split())
    assert "os.system" not in "".join(ast.unparse(node) for node in klass.body[1:])
    bad = network([{"id": "r", "kind": "gelu", "inputs": ["x"], "params": {"approximate": "none'); import os; ('"}}])
    with pytest.raises(NetworkError, match="approximate must be one of 'none', 'tanh'"):
        to_source(spec_of(bad))


def test_code_is_only_written_for_a_valid_network():
    data = network([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"in_features": 9, "out_features": 2}}])
    with pytest.raises(NetworkError, match="set in_features: 8"):
        to_source(spec_of(data))


def test_the_docs_show_the_code_to_source_writes():
    from pathlib import Path

    from tidal.nn import parse_network

    page = (Path(__file__).parents[2] / "docs" / "nn.md").read_text()
    shown = page.split("```py\n", 1)[1].split("```", 1)[0]
    spec_text = page.split('spec = tnn.parse_network("""', 1)[1].split('""")', 1)[0]
    assert shown in to_source(parse_network(spec_text))
