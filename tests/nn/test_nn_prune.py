"""Structured pruning on the layer graph: which layers can lose channels, and that the smaller network
computes exactly what the original computes with those channels' readers zeroed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from nn_helpers import EXAMPLES, network, sized, spec_of

import tidal.nn as tnn
from tidal.core._errors import TidalError
from tidal.models import ModelPackage
from tidal.nn._prune import Group


def _output(module, tensor):
    produced = module(tensor)
    return produced if not isinstance(produced, dict | tuple | list) else next(iter(
        produced.values() if isinstance(produced, dict) else produced))


def _readers_zeroed(model, kept, torch):
    """The original network (its sub-networks written out) with every input column of a removed channel zeroed in
    the layers that read it."""
    model = tnn.inline_network(model)
    plan = tnn.pruning_plan(model.spec)
    state = {key: value.clone() for key, value in model.state.items()}
    for layer, indices in kept.items():
        group = plan[layer]
        assert isinstance(group, Group)
        gone = np.setdiff1d(np.arange(group.channels), indices)
        for consumer, block in group.consumers.items():
            columns = (group.offsets.get(consumer, 0) + gone)[:, None] * block + np.arange(block)[None, :]
            state[f"{consumer}.weight"][:, torch.as_tensor(columns.reshape(-1), dtype=torch.long)] = 0
    module = tnn.build_module(model.spec)
    module.load_state_dict(state)
    return module.eval()


def _same_as_readers_zeroed(model, pruned, kept, torch, shape, seed, atol=1e-5):
    """Check the pruned network on random inputs of ``shape`` against the original with the removed channels'
    readers zeroed; returns the pruned network's output."""
    images = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = _output(_readers_zeroed(model, kept, torch), images)
        produced = _output(pruned.module(), images)
    assert torch.allclose(produced, expected, atol=atol), (produced - expected).abs().max()
    return produced


@pytest.fixture(scope="module")
def digits_cnn(torch):
    return tnn.network_package(tnn.load_network(EXAMPLES / "digits_cnn.yaml"), seed=3).model


def test_the_digits_cnn_plan_follows_batchnorm_pooling_and_flatten_and_stops_at_the_output(digits_cnn):
    plan = tnn.pruning_plan(digits_cnn.spec)
    assert tnn.prunable_layers(digits_cnn.spec) == ["conv1", "conv2", "fc1"]
    assert plan["conv1"].passes == ["bn1", "relu1", "pool1"] and plan["conv1"].consumers == {"conv2": 1}
    assert plan["conv2"].consumers == {"fc1": 4}  # 32 channels of 2x2 after pool2: each channel is 4 features
    assert plan["fc2"] == "its channels reach the network output through 'fc2'"


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.9])
def test_the_pruned_network_equals_the_original_with_the_removed_channels_readers_zeroed(digits_cnn, torch, ratio):
    pruned, kept = tnn.prune_network(digits_cnn, ratio)
    assert {layer: len(indices) for layer, indices in kept.items()} == {
        "conv1": max(1, round(16 * (1 - ratio))), "conv2": max(1, round(32 * (1 - ratio))), "fc1": max(1, round(64 * (1 - ratio)))}
    widths = {layer.id: layer.params for layer in pruned.spec.layers}
    assert widths["conv1"]["out_channels"] == len(kept["conv1"]) and widths["fc1"]["out_features"] == len(kept["fc1"])
    assert widths["fc1"]["in_features"] == 4 * len(kept["conv2"])  # the width the spec states follows the cut
    assert pruned.state["bn1.running_mean"].shape == (len(kept["conv1"]),)
    assert _same_as_readers_zeroed(digits_cnn, pruned, kept, torch, (7, 1, 8, 8), 1).shape == (7, 10)
    # the original is untouched
    assert digits_cnn.state["conv1.weight"].shape == (16, 1, 3, 3) and digits_cnn.spec.layers[0].params["out_channels"] == 16


def test_the_channels_kept_are_those_with_the_largest_weights(digits_cnn, torch):
    model = tnn.network_package(digits_cnn.spec, seed=5).model
    weight = model.state["conv2.weight"]
    weight[[3, 7, 11]] *= 100  # three channels far larger than the rest
    weight[[0, 1]] = 0  # two channels with nothing in them
    _pruned, kept = tnn.prune_network(model, 0.5, layers=["conv2"])
    assert list(kept) == ["conv2"] and {3, 7, 11} <= set(kept["conv2"]) and not {0, 1} & set(kept["conv2"])
    assert kept["conv2"] == sorted(kept["conv2"])


def test_a_mlp_with_dropout_prunes_its_hidden_layers(torch):
    model = tnn.network_package(tnn.load_network(EXAMPLES / "mlp.yaml")).model
    pruned, kept = tnn.prune_network(model, 0.5)
    assert {layer: len(indices) for layer, indices in kept.items()} == {"fc1": 16, "fc2": 8}
    rows = torch.randn(4, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(_output(pruned.module(), rows), _output(_readers_zeroed(model, kept, torch), rows), atol=1e-5)


def test_layers_joined_by_a_residual_add_are_one_group_that_keeps_the_same_channels(torch):
    spec = tnn.load_network(EXAMPLES / "resnet_blocks.yaml")
    plan = tnn.pruning_plan(spec)
    assert isinstance(plan["b1_conv1"], Group) and plan["b1_conv1"].members == ["b1_conv1"]
    stream = plan["b1_conv2"]  # the stem's channels and the first block's are added: they are cut together
    assert stream.members == ["stem", "b1_conv2"] and plan["stem"].members == stream.members
    assert stream.adds == ["b1_add"] and set(stream.consumers) == {"b1_conv1", "b2_conv1", "b2_short"}
    assert set(plan["stem"].passes) == set(stream.passes) >= {"stem_bn", "b1_bn2", "b1_out"}
    projected = plan["b2_short"]  # the projected shortcut and the second block's last conv
    assert projected.members == ["b2_conv2", "b2_short"] and projected.consumers == {"fc": 1}
    model = tnn.network_package(spec, seed=4).model
    pruned, kept = tnn.prune_network(model, 0.5)
    assert kept["stem"] == kept["b1_conv2"] and kept["b2_conv2"] == kept["b2_short"] and len(kept["stem"]) == 8
    widths = {layer.id: layer.params for layer in pruned.spec.layers}
    assert widths["stem"]["out_channels"] == widths["b1_conv2"]["out_channels"] == 8
    assert pruned.state["b1_conv1.weight"].shape[1] == 8 and pruned.state["fc.weight"].shape == (10, 16)
    assert _same_as_readers_zeroed(model, pruned, kept, torch, (5, 3, 16, 16), 3).shape == (5, 10)


def test_resnet18s_blocks_under_modules_are_written_out_and_pruned_stage_by_stage(torch):
    model = tnn.network_package(sized(EXAMPLES / "resnet18.yaml", ["batch", 3, 32, 32], out_features=10), seed=2).model
    plan = tnn.pruning_plan(model.spec)
    stage1 = plan["conv1"]  # the stem and both blocks' last convs of the first stage are added together
    assert isinstance(stage1, Group) and stage1.members == ["conv1", "layer1_0__conv2", "layer1_1__conv2"]
    assert set(stage1.consumers) == {"layer1_0__conv1", "layer1_1__conv1", "layer2_0__conv1", "layer2_0__downsample_0"}
    stage4 = plan["layer4_1__conv2"]
    assert stage4.members == ["layer4_0__conv2", "layer4_0__downsample_0", "layer4_1__conv2"]
    assert set(stage4.consumers) == {"layer4_1__conv1", "fc"}
    assert plan["layer2_0__conv1"].members == ["layer2_0__conv1"] and plan["fc"].startswith("its channels reach")
    pruned, kept = tnn.prune_network(model, 0.5)
    assert kept["conv1"] == kept["layer1_1__conv2"] and len(kept["conv1"]) == 32 and len(kept["layer4_1__conv2"]) == 256
    assert pruned.state["layer1_0__conv1.weight"].shape == (32, 32, 3, 3) and pruned.state["fc.weight"].shape == (10, 256)
    before = sum(value.numel() for key, value in model.state.items() if key.endswith("weight"))
    after = sum(value.numel() for key, value in pruned.state.items() if key.endswith("weight"))
    assert 0.2 < after / before < 0.3  # half the channels in and out: about a quarter of the weights
    _same_as_readers_zeroed(model, pruned, kept, torch, (2, 3, 32, 32), 5, atol=1e-4)


def _densenet_like():
    return spec_of(network([
        {"id": "a", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 6, "kernel_size": 3, "padding": 1}},
        {"id": "b", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 4, "kernel_size": 1}},
        {"id": "b_relu", "kind": "relu", "inputs": ["b"]},
        {"id": "cat", "kind": "concat", "inputs": ["a", "b_relu"], "params": {"dim": 1}},
        {"id": "bn", "kind": "batchnorm2d", "inputs": ["cat"]},
        {"id": "act", "kind": "relu", "inputs": ["bn"]},
        {"id": "c", "kind": "conv2d", "inputs": ["act"], "params": {"out_channels": 6, "kernel_size": 3, "padding": 1}},
        {"id": "cat2", "kind": "concat", "inputs": ["x", "c"], "params": {"dim": -3}},
        {"id": "pool", "kind": "adaptive_avgpool2d", "inputs": ["cat2"], "params": {"output_size": 2}},
        {"id": "flat", "kind": "flatten", "inputs": ["pool"]},
        {"id": "fc", "kind": "linear", "inputs": ["flat"], "params": {"out_features": 5}}],
        inputs={"x": {"shape": ["batch", 3, 8, 8]}}))


def test_channels_joined_by_a_concat_are_cut_at_their_offset_through_norms_flatten_and_readers(torch):
    spec = _densenet_like()
    plan = tnn.pruning_plan(spec)
    assert plan["a"].consumers == {"c": 1} and plan["a"].offsets == {} and plan["a"].passes == ["cat", "bn", "act"]
    assert plan["b"].consumers == {"c": 1} and plan["b"].offsets == {"bn": 6, "act": 6, "c": 6}
    assert plan["c"].consumers == {"fc": 4} and plan["c"].offsets == {"pool": 3, "flat": 3, "fc": 3}  # after x's 3 channels
    module = tnn.build_module(spec)
    with torch.no_grad():  # batch statistics of its own, so that cutting the norm's channels shows
        module.bn.running_mean.uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
        module.bn.running_var.uniform_(0.5, 2, generator=torch.Generator().manual_seed(1))
    model = tnn.NetworkModel(spec, {key: value.clone() for key, value in module.state_dict().items()}, "x",
                             (3, 8, 8), "y")
    pruned, kept = tnn.prune_network(model, 0.5)
    assert [len(kept[name]) for name in ("a", "b", "c")] == [3, 2, 3]
    assert pruned.state["bn.running_mean"].shape == (5,) and pruned.state["c.weight"].shape == (3, 5, 3, 3)
    assert pruned.state["fc.weight"].shape == (5, (3 + 3) * 4)
    assert torch.equal(pruned.state["bn.running_mean"][3:], model.state["bn.running_mean"][6:][kept["b"]])
    _same_as_readers_zeroed(model, pruned, kept, torch, (4, 3, 8, 8), 2, atol=1e-5)


def test_a_concat_off_the_channels_twice_the_same_tensor_or_an_add_after_it_is_refused_with_the_reason():
    conv = {"kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 4, "kernel_size": 1}}
    head = {"id": "head", "kind": "conv2d", "params": {"out_channels": 2, "kernel_size": 1}}
    image = {"x": {"shape": ["batch", 4, 4, 4]}}
    on_width = tnn.pruning_plan(spec_of(network([{"id": "a", **conv}, {"id": "cat", "kind": "concat",
                                                 "inputs": ["a", "a"], "params": {"dim": 3}},
                                                 {**head, "inputs": ["cat"]}], inputs=image)))
    assert on_width["a"] == "its channels reach 'cat' (concat), which joins on dim 3, not the channels (dim 1)"
    twice = tnn.pruning_plan(spec_of(network([{"id": "a", **conv}, {"id": "cat", "kind": "concat",
                                              "inputs": ["a", "a"], "params": {"dim": 1}},
                                              {**head, "inputs": ["cat"]}], inputs=image)))
    assert twice["a"] == "its channels reach 'cat' (concat) 2 times"
    added = tnn.pruning_plan(spec_of(network([
        {"id": "a", **conv}, {"id": "b", **conv}, {"id": "cat", "kind": "concat", "inputs": ["a", "b"], "params": {"dim": 1}},
        {"id": "wide", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 8, "kernel_size": 1}},
        {"id": "sum", "kind": "add", "inputs": ["cat", "wide"]}, {**head, "inputs": ["sum"]}], inputs=image)))
    assert added["a"] == "its channels reach 'sum' (add) after a concat, which pruning does not follow"
    assert added["wide"].startswith("its channels are added in 'sum' to those of 'cat' (concat)")


def test_mobilenet_v3s_depthwise_convolutions_and_squeeze_excitation_gates_are_cut_with_their_expansion(torch):
    from tidal.components._vision_nets import architecture

    spec = tnn.NetworkSpec.from_dict(architecture("mobilenet_v3_small", channels=1, height=16, width_px=16, classes=10,
                                                  scale=0.5))
    model = tnn.network_package(spec, seed=6).model
    plan = tnn.pruning_plan(model.spec)
    gated = next(group for group in plan.values() if isinstance(group, Group)
                 and group.members[0].endswith("__expand_conv") and any(add.endswith("se_scaled") for add in group.adds))
    block = gated.members[0].split("__")[0]
    assert gated.members == [f"{block}__expand_conv", f"{block}__se_fc2"]  # the expansion and the gate's conv
    assert {f"{block}__depthwise_conv", f"{block}__se_pool"} <= set(gated.passes)
    assert set(gated.consumers) == {f"{block}__se_fc1", f"{block}__project_conv"}
    assert plan[f"{block}__depthwise_conv"].startswith("a grouped convolution")  # cut with its input, not alone
    pruned, kept = tnn.prune_network(model, 0.5)
    width = len(kept[f"{block}__expand_conv"])
    assert kept[f"{block}__se_fc2"] == kept[f"{block}__expand_conv"]
    depthwise = pruned.spec.layer(f"{block}__depthwise_conv").params
    assert depthwise["groups"] == depthwise["out_channels"] == width
    assert pruned.state[f"{block}__depthwise_conv.weight"].shape[0] == width
    _same_as_readers_zeroed(model, pruned, kept, torch, (3, 1, 16, 16), 7, atol=1e-5)


def test_a_multiply_that_broadcasts_over_channels_is_not_followed():
    plan = tnn.pruning_plan(spec_of(network([
        {"id": "features", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 4, "kernel_size": 1}},
        {"id": "attention", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 1, "kernel_size": 1}},
        {"id": "weighted", "kind": "multiply", "inputs": ["features", "attention"]},
        {"id": "head", "kind": "conv2d", "inputs": ["weighted"], "params": {"out_channels": 2, "kernel_size": 1}}],
        inputs={"x": {"shape": ["batch", 3, 4, 4]}})))
    assert plan["features"] == ("'weighted' (multiply) joins inputs of 1 and 4 channels (broadcast over channels), which "
                                "pruning does not follow")


def test_a_residual_add_to_the_network_input_or_an_unprunable_layer_is_refused_with_the_reason():
    onto_input = spec_of(network([
        {"id": "conv", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 3, "kernel_size": 1}},
        {"id": "sum", "kind": "add", "inputs": ["conv", "x"]},
        {"id": "head", "kind": "conv2d", "inputs": ["sum"], "params": {"out_channels": 2, "kernel_size": 1}}],
        inputs={"x": {"shape": ["batch", 3, 4, 4]}}))
    assert tnn.pruning_plan(onto_input)["conv"] == ("its channels are added in 'sum' to the network input 'x', which "
                                                   "pruning cannot cut")
    onto_grouped = spec_of(network([
        {"id": "a", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 4, "kernel_size": 1}},
        {"id": "b", "kind": "conv2d", "inputs": ["x"], "params": {"out_channels": 4, "kernel_size": 1, "groups": 2}},
        {"id": "sum", "kind": "add", "inputs": ["a", "b"]},
        {"id": "head", "kind": "conv2d", "inputs": ["sum"], "params": {"out_channels": 2, "kernel_size": 1}}],
        inputs={"x": {"shape": ["batch", 4, 4, 4]}}))
    assert tnn.pruning_plan(onto_grouped)["a"].startswith("its channels are added in 'sum' to those of 'b', and a "
                                                          "grouped convolution")


def test_what_cannot_be_pruned_is_refused_with_the_layer_and_the_reason(digits_cnn):
    with pytest.raises(TidalError, match="ratio must be above 0 and below 1"):
        tnn.prune_network(digits_cnn, 1.0)
    with pytest.raises(TidalError, match="layer 'fc2' cannot be pruned: its channels reach the network output"):
        tnn.prune_network(digits_cnn, 0.5, layers=["fc2"])
    with pytest.raises(TidalError, match=r"layer .bn1. is not a convolution or linear layer of network .digits-cnn. \(those are: conv1, conv2, fc1, fc2\)"):
        tnn.prune_network(digits_cnn, 0.5, layers=["bn1"])
    sequence = spec_of(network([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 6}},
                                {"id": "act", "kind": "relu", "inputs": ["fc"]},
                                {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 2}}],
                               inputs={"x": {"shape": ["batch", 3, 8]}}))
    assert tnn.pruning_plan(sequence)["fc"].startswith("a linear layer is pruned only on [batch, features]")
    model = tnn.network_package(sequence).model
    with pytest.raises(TidalError, match="has no prunable layer"):
        tnn.prune_network(model, 0.5)


def test_a_pruned_and_fine_tuned_network_saves_loads_and_answers_the_same(digits_cnn, torch, tmp_path):
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.iloc[:300]
    frame.columns = [str(name) for name in frame.columns]
    package = tnn.train_network(digits_cnn.spec, frame, label="target",
                                settings=tnn.TrainSettings(epochs=1, threads=1, seed=0)).package
    smaller = ModelPackage.load(package.save(tmp_path / "full"))
    smaller.model, _kept = tnn.prune_network(smaller.model, 0.5)
    tuned = tnn.train_network(smaller, frame, label="target", settings=tnn.TrainSettings(epochs=1, threads=1)).package
    loaded = ModelPackage.load(tuned.save(tmp_path / "pruned"))
    rows = frame.drop(columns="target").iloc[:20]
    assert np.allclose(loaded.predict_proba(rows), tuned.predict_proba(rows), atol=1e-6)
    assert loaded.model.spec.layers[0].params["out_channels"] == 8
    assert isinstance(loaded.predict(pd.DataFrame(rows))[0], int | np.integer)
