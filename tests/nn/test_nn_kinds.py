"""Every layer kind, checked from its row: the inferred shapes are the ones PyTorch produces, the
generated code computes what the directly built module computes, and from_module reads the
generated code back as the same graph. Checks read the row's data (its sample, ports, torch
form), never the kind's name."""

from __future__ import annotations

import pytest
from nn_helpers import concrete, load_generated, make_inputs, sample_spec

from tidal.nn import KINDS, build_module, from_module, infer_shapes, same_structure, to_source
from tidal.nn._build import FUNCTIONS
from tidal.nn._codegen import class_name

BRIEF = {"linear", "conv1d", "conv2d", "conv_transpose2d", "maxpool1d", "maxpool2d", "avgpool2d", "adaptive_avgpool1d",
         "adaptive_avgpool2d", "batchnorm1d", "batchnorm2d", "layernorm", "groupnorm", "dropout", "embedding", "lstm", "gru",
         "multihead_attention", "transformer_encoder_layer", "transformer_decoder_layer", "relu", "gelu", "silu", "tanh",
         "sigmoid", "leaky_relu", "elu", "hardswish", "hardsigmoid", "softmax", "log_softmax", "identity", "add", "multiply",
         "concat", "split", "reshape", "flatten", "permute", "mean", "select", "module"}


def test_the_table_has_every_kind_and_each_row_is_complete():
    assert BRIEF <= set(KINDS) and len(KINDS) >= 40
    for kind in KINDS.values():
        forms = [kind.torch is not None, kind.code is not None, kind.nested]
        assert sum(forms) == 1, f"{kind.name}: exactly one of a torch class, a code template, or nested"
        assert kind.code is None or kind.name in FUNCTIONS, f"{kind.name}: add its direct form to _build.FUNCTIONS"
        assert kind.summary and kind.category and kind.inputs
        names = [param.name for param in kind.params]
        assert len(names) == len(set(names))
        for param in kind.params:
            if not param.required and not param.inferred:
                assert param.check(param.default) is None, f"{kind.name}.{param.name}: default fails its own check"
            assert param.json_schema()


@pytest.mark.parametrize("name", list(KINDS))
def test_sample_shapes_match_torch_and_generated_code_matches_the_build(name, torch):
    kind = KINDS[name]
    spec = sample_spec(kind)
    shapes = infer_shapes(spec)
    built = build_module(spec).eval()
    inputs = make_inputs(spec, torch)
    with torch.no_grad():
        results = built(*inputs)
    results = results if isinstance(results, tuple) else (results,)
    expected = [concrete(tensor.shape) for tensor in shapes.outputs.values()]
    assert [tuple(result.shape) for result in results] == expected
    assert [str(result.dtype).removeprefix("torch.") for result in results] == [t.dtype for t in shapes.outputs.values()]
    generated = load_generated(to_source(spec), class_name(spec.name))().eval()
    generated.load_state_dict(built.state_dict())
    with torch.no_grad():
        again = generated(*inputs)
    again = again if isinstance(again, tuple) else (again,)
    for first, second in zip(results, again, strict=True):
        assert torch.equal(first, second)
    back = from_module(generated, inputs, batch_dim=None)  # and the generated code reads back as the same graph
    assert same_structure(spec, back)
