"""Shape inference: every edge typed, symbolic dims carried through, every problem reported once."""

from __future__ import annotations

import json

import pytest
from nn_helpers import EXAMPLES, network, spec_of

from tidal.nn import NetworkError, infer_shapes, load_network, validate_network

EXPECTED = {
    "mlp.yaml": "[batch, 10]",
    "digits_cnn.yaml": "[batch, 10]",
    "resnet_blocks.yaml": "[batch, 10]",
    "lstm_classifier.yaml": "[batch, 4]",
    "transformer_encoder.yaml": "[batch, 3]",
    "sequence_transformer.yaml": "[batch, 4]",
    "nested.yaml": "[batch, 10]",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples_infer(name):
    shapes = infer_shapes(load_network(EXAMPLES / name))
    assert [str(tensor) for tensor in shapes.outputs.values()] == [EXPECTED[name]]
    json.dumps(shapes.to_dict())


def test_every_edge_and_inferred_params():
    shapes = infer_shapes(load_network(EXAMPLES / "digits_cnn.yaml"))
    assert str(shapes.tensor("pool1")) == "[batch, 16, 4, 4]"
    assert str(shapes.tensor("flatten")) == "[batch, 128]"
    assert shapes.layers["conv2"].params["in_channels"] == 16  # left out in the file, inferred
    assert shapes.layers["fc2"].params["in_features"] == 64
    lstm = infer_shapes(load_network(EXAMPLES / "lstm_classifier.yaml"))
    assert str(lstm.tensor("lstm.h_n")) == "[2, batch, 32]"
    assert str(lstm.tensor("lstm")) == "[batch, seq, 32]"
    assert str(lstm.tensor("tokens")) == "[batch, seq] int64"


def test_the_error_names_layer_port_both_shapes_and_the_fix():
    data = network([
        {"id": "flatten", "kind": "flatten", "inputs": ["image"]},
        {"id": "fc1", "kind": "linear", "inputs": ["flatten"], "params": {"in_features": 3136, "out_features": 10}},
    ], inputs={"image": {"shape": ["batch", 32, 7, 7]}})
    with pytest.raises(NetworkError) as info:
        infer_shapes(spec_of(data))
    (problem,) = info.value.issues
    assert str(problem) == ("layer 'fc1' input 'x': expects last dim 3136 (in_features) but gets 1568 from 'flatten' "
                            "[batch, 1568]; set in_features: 1568")
    assert (problem.layer, problem.port, problem.expected, problem.actual) == ("fc1", "x", "3136", "[batch, 1568]")
    assert problem.to_dict()["layer"] == "fc1"
    assert "network 'test-net' has 1 problem" in str(info.value)


def test_symbolic_sizes_flow_through_convolutions():
    data = network([
        {"id": "c1", "kind": "conv2d", "inputs": ["image"], "params": {"out_channels": 4, "kernel_size": 3, "stride": 2}},
        {"id": "c2", "kind": "conv2d", "inputs": ["image"], "params": {"out_channels": 4, "kernel_size": 1, "stride": 2}},
        {"id": "c3", "kind": "conv2d", "inputs": ["c2"], "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"id": "sum", "kind": "add", "inputs": ["c1", "c3"]},
        {"id": "flat", "kind": "flatten", "inputs": ["sum"]},
    ], inputs={"image": {"shape": ["batch", 3, "h", "w"]}})
    shapes = infer_shapes(spec_of(data), check=False)
    assert str(shapes.tensor("c1")) == "[batch, 4, (h + 1)//2 - 1, (w + 1)//2 - 1]"
    assert str(shapes.tensor("c2")) == "[batch, 4, (h + 1)//2, (w + 1)//2]"
    # c1 is one smaller than c3 on both spatial dims: a real mismatch, found symbolically
    assert [item.code for item in shapes.issues] == ["broadcast"]
    assert "dim 2 is (h + 1)//2 against (h + 1)//2 - 1" in shapes.issues[0].message
    data["layers"][0]["params"]["padding"] = 1
    shapes = infer_shapes(spec_of(data))
    assert str(shapes.tensor("flat")) == "[batch, 4*((h + 1)//2)*((w + 1)//2)]"


def test_a_symbolic_size_cannot_become_a_weight_shape():
    data = network([{"id": "flat", "kind": "flatten", "inputs": ["image"]},
                    {"id": "fc", "kind": "linear", "inputs": ["flat"], "params": {"out_features": 2}}],
                   inputs={"image": {"shape": ["batch", 3, "h", "w"]}})
    (problem,) = validate_network(spec_of(data))
    assert problem.layer == "fc" and problem.param == "in_features" and "3*h*w" in problem.message


def test_problems_do_not_cascade_but_independent_ones_all_show():
    data = network([
        {"id": "fc1", "kind": "linear", "inputs": ["x"], "params": {"in_features": 9, "out_features": 4}},
        {"id": "act", "kind": "relu", "inputs": ["fc1"]},
        {"id": "fc2", "kind": "linear", "inputs": ["act"], "params": {"in_features": 5, "out_features": 2}},
        {"id": "bad", "kind": "reshape", "inputs": ["x"], "params": {"shape": [3, -1]}},
        {"id": "after_bad", "kind": "linear", "inputs": ["bad"], "params": {"in_features": 1, "out_features": 1}},
    ])
    issues = validate_network(spec_of(data))
    assert [(item.layer, item.port) for item in issues] == [("fc1", "x"), ("fc2", "x"), ("bad", "x")]


def test_sub_networks_bind_their_declared_dims():
    shapes = infer_shapes(load_network(EXAMPLES / "nested.yaml"))
    block = shapes.layers["block1"].module
    assert block is not None and str(block.tensor("conv2")) == "[batch, 8, h, w]"
    head = shapes.layers["head"].module
    assert head is not None and str(head.tensor("flatten")) == "[batch, 8]"


def test_problems_inside_sub_networks_are_named_by_path():
    block = {"inputs": {"x": {"shape": ["batch", "c"]}},
             "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"in_features": 8, "out_features": 3}}],
             "outputs": {"y": "fc"}}
    data = network([{"id": "one", "kind": "module", "inputs": ["x"], "params": {"network": "block"}},
                    {"id": "two", "kind": "module", "inputs": ["one"], "params": {"network": "block"}}],
                   modules={"block": block})
    issues = validate_network(spec_of(data))
    assert [(item.layer, item.port) for item in issues] == [("two/fc", "x")]
    assert "expects last dim 8 (in_features) but gets 3 from 'x' [batch, 3]" in issues[0].message


def test_sub_network_binding_mismatch_names_the_module_input():
    block = {"inputs": {"x": {"shape": ["batch", 4]}},
             "layers": [{"id": "act", "kind": "relu", "inputs": ["x"]}], "outputs": {"y": "act"}}
    data = network([{"id": "use", "kind": "module", "inputs": ["x"], "params": {"network": "block"}}],
                   modules={"block": block})
    (problem,) = validate_network(spec_of(data))
    assert (problem.layer, problem.port) == ("use", "x")
    assert "expects [batch, 4] float32 (input 'x' of 'block') but gets [batch, 8] from 'x': dim 1 is 8, not 4" in problem.message


def test_unused_and_cyclic_blocks_are_checked():
    unused = {"inputs": {"x": {"shape": ["batch", 4]}},
              "layers": [{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"in_features": 5, "out_features": 2}}],
              "outputs": {"y": "fc"}}
    loop = {"inputs": {"x": {"shape": ["batch", 8]}},
            "layers": [{"id": "again", "kind": "module", "inputs": ["x"], "params": {"network": "loop"}}],
            "outputs": {"y": "again"}}
    data = network([{"id": "use", "kind": "module", "inputs": ["x"], "params": {"network": "loop"}}],
                   modules={"unused": unused, "loop": loop})
    issues = validate_network(spec_of(data))
    assert {(item.layer, item.code) for item in issues} == {("use", "cycle"), ("loop/again", "cycle"), ("unused/fc", "size_mismatch")}


def test_dtype_mistakes():
    data = network([{"id": "fc", "kind": "linear", "inputs": ["tokens"], "params": {"out_features": 2}},
                    {"id": "emb", "kind": "embedding", "inputs": ["x"], "params": {"num_embeddings": 5, "embedding_dim": 2}}],
                   inputs={"tokens": {"shape": ["batch", 8], "dtype": "int64"}, "x": {"shape": ["batch", 8]}})
    issues = validate_network(spec_of(data))
    assert [(item.layer, item.port, item.code) for item in issues] == [("fc", "x", "dtype"), ("emb", "x", "dtype")]


def test_five_hundred_layers_infer_in_one_pass():
    layers = [{"id": "fc0", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}}]
    for index in range(1, 500):
        previous = layers[-1]["id"]
        kind = ("relu", "linear", "add", "layernorm", "dropout")[index % 5]
        layer = {"id": f"l{index}", "kind": kind, "inputs": [previous]}
        if kind == "linear":
            layer["params"] = {"out_features": 16}
        elif kind == "add":
            layer["inputs"] = [previous, layers[-2]["id"]]
        layers.append(layer)
    spec = spec_of(network(layers))
    for _ in range(3):  # re-inferred after each edit in the Studio
        shapes = infer_shapes(spec)
    assert len(shapes.layers) == 500
    assert str(shapes.outputs["y"]) == "[batch, 16]"
    assert shapes.layers["l1"].inputs[0][2].shape[1] == 16


def test_attention_heads_positions_and_masks_infer_with_symbols_and_name_their_mistakes():
    heads = {"inputs": ["h"], "kind": "unflatten", "params": {"dim": 2, "sizes": [2, -1]}}
    layers = [{"id": "h", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
              {"id": "q", **heads}, {"id": "qt", "kind": "transpose", "inputs": ["q"], "params": {"dim0": 1, "dim1": 2}},
              {"id": "keep", "kind": "cast", "inputs": ["mask"], "params": {"dtype": "bool"}},
              {"id": "k1", "kind": "unsqueeze", "inputs": ["keep"], "params": {"dim": 1}},
              {"id": "k2", "kind": "unsqueeze", "inputs": ["k1"], "params": {"dim": 2}},
              {"id": "att", "kind": "scaled_dot_product_attention", "inputs": ["qt", "qt", "qt", "k2"]},
              {"id": "places", "kind": "positions", "inputs": ["mask"], "params": {"dim": 1}},
              {"id": "types", "kind": "full_like", "inputs": ["mask"], "params": {"fill_value": 0, "dtype": "int64"}}]
    inputs = {"x": {"shape": ["batch", "seq", 6]}, "mask": {"shape": ["batch", "seq"], "dtype": "int64"}}
    shapes = infer_shapes(spec_of(network(layers, inputs=inputs, outputs={"att": "att", "places": "places", "types": "types"})))
    assert [str(tensor) for tensor in shapes.outputs.values()] == ["[batch, 2, seq, 4]", "[seq] int64", "[batch, seq] int64"]
    assert str(shapes.tensor("k2")) == "[batch, 1, 1, seq] bool"
    wrong = [dict(layer) for layer in layers]
    wrong[1] = {"id": "q", **heads, "params": {"dim": 2, "sizes": [3, -1]}}  # 8 features do not split into 3 heads
    wrong[6] = {"id": "att", "kind": "scaled_dot_product_attention", "inputs": ["qt", "qt", "qt", "k1"]}  # a mask missing a dim
    problems = validate_network(spec_of(network(wrong, inputs=inputs, outputs={"att": "att"})))
    assert {(problem.layer, problem.param or problem.port) for problem in problems} >= {("q", "sizes")}
    wrong[1] = layers[1]
    problems = validate_network(spec_of(network(wrong, inputs=inputs, outputs={"att": "att"})))
    (problem,) = problems
    assert problem.layer == "att" and problem.port == "attn_mask" and "does not broadcast" in problem.message
