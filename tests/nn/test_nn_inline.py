"""Sub-networks written out in place: the flat graph computes exactly what the network with modules
computes, its weights re-keyed, and what cannot be written out is refused with the layer named."""

from __future__ import annotations

import pytest
from nn_helpers import EXAMPLES, network, sized, spec_of

import tidal.nn as tnn
from tidal.core._errors import TidalError


def test_blocks_from_modules_and_from_files_are_written_out_and_answer_the_same(torch):
    spec = tnn.load_network(EXAMPLES / "nested.yaml")
    flat, paths = tnn.inline_modules(spec)
    ids = [layer.id for layer in flat.layers]
    assert ids == ["stem", "block1__conv1", "block1__relu1", "block1__conv2", "block1__skip", "block1__out",
                   "block2__conv1", "block2__relu1", "block2__conv2", "block2__skip", "block2__out",
                   "head__pool", "head__flatten", "head__fc"]
    assert not flat.modules and flat.output_map == {"logits": "head__fc"}
    by_id = {layer.id: layer for layer in flat.layers}
    assert by_id["block1__conv1"].inputs == ["stem"] and by_id["block1__skip"].inputs == ["block1__conv2", "stem"]
    assert by_id["block2__skip"].inputs == ["block2__conv2", "block1__out"] and by_id["head__pool"].inputs == ["block2__out"]
    assert paths["head__fc"] == "head.fc" and paths["block2__conv1"] == "block2.conv1" and paths["stem"] == "stem"
    module = tnn.build_module(spec).eval()
    model = tnn.NetworkModel(spec, {key: value.clone() for key, value in module.state_dict().items()}, "image",
                             (1, 6, 6), "logits")
    written = tnn.inline_network(model)
    assert "block2.conv1.weight" in model.state and "block2__conv1.weight" in written.state
    assert set(written.state) == {key.replace(".", "__", key.count(".") - 1) for key in model.state}
    images = torch.randn(3, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(module(images), written.module()(images))


def test_resnet18_written_out_answers_the_same_and_without_modules_the_model_is_returned_as_it_is(torch):
    spec = sized(EXAMPLES / "resnet18.yaml", ["batch", 3, 32, 32], out_features=10)
    model = tnn.network_package(spec, seed=1).model
    written = tnn.inline_network(model)
    assert len(written.spec.layers) == 69 and not any(layer.kind == "module" for layer in written.spec.layers)
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.module()(images), written.module()(images))
    assert tnn.inline_network(written) is written


def test_an_id_that_writing_out_would_give_twice_is_refused_naming_both():
    spec = spec_of(network([
        {"id": "blk__conv", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
        {"id": "blk", "kind": "module", "inputs": ["blk__conv"], "params": {"network": "inner"}}],
        modules={"inner": {"inputs": {"x": {"shape": ["batch", 8]}},
                           "layers": [{"id": "conv", "kind": "linear", "inputs": ["x"], "params": {"out_features": 4}}],
                           "outputs": {"y": "conv"}}}))
    with pytest.raises(TidalError, match=r"layer 'blk__conv' \(from 'blk__conv'\) would get the id of layer 'blk.conv'"):
        tnn.inline_modules(spec)


def test_a_block_output_that_is_its_input_passes_the_reference_through():
    spec = spec_of(network([
        {"id": "a", "kind": "linear", "inputs": ["x"], "params": {"out_features": 8}},
        {"id": "skip", "kind": "module", "inputs": ["a"], "params": {"network": "same"}},
        {"id": "b", "kind": "linear", "inputs": ["skip"], "params": {"out_features": 2}}],
        modules={"same": {"inputs": {"x": {"shape": ["batch", 8]}},
                          "layers": [{"id": "unused", "kind": "relu", "inputs": ["x"]}],
                          "outputs": {"y": "x"}}}))
    flat, _ = tnn.inline_modules(spec)
    assert {layer.id: layer.inputs for layer in flat.layers} == {"a": ["x"], "skip__unused": ["a"], "b": ["a"]}
