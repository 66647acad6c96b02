"""Thirty shape mistakes injected into one valid network: each is reported, naming the layer and the
input port it shows at, with both shapes and what to change."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from nn_helpers import spec_of

from tidal.nn import validate_network

BASE = yaml.safe_load("""
tidal-nn: 1
name: mistakes
inputs:
  image: {shape: [batch, 3, 32, 32]}
  tokens: {shape: [batch, seq], dtype: int64}
  memory: {shape: [batch, 6, 16]}
layers:
  - {id: conv1, kind: conv2d, inputs: [image], params: {in_channels: 3, out_channels: 16, kernel_size: 3, padding: 1}}
  - {id: bn1, kind: batchnorm2d, inputs: [conv1], params: {num_features: 16}}
  - {id: relu1, kind: relu, inputs: [bn1]}
  - {id: pool1, kind: maxpool2d, inputs: [relu1], params: {kernel_size: 2}}
  - {id: conv2, kind: conv2d, inputs: [pool1], params: {in_channels: 16, out_channels: 32, kernel_size: 3, padding: 1}}
  - {id: short, kind: conv2d, inputs: [pool1], params: {in_channels: 16, out_channels: 32, kernel_size: 1}}
  - {id: res, kind: add, inputs: [conv2, short]}
  - {id: gn, kind: groupnorm, inputs: [res], params: {num_groups: 4, num_channels: 32}}
  - {id: up, kind: conv_transpose2d, inputs: [gn], params: {in_channels: 32, out_channels: 16, kernel_size: 2, stride: 2}}
  - {id: cat, kind: concat, inputs: [up, relu1], params: {dim: 1}}
  - {id: gap, kind: adaptive_avgpool2d, inputs: [cat], params: {output_size: 1}}
  - {id: flat, kind: flatten, inputs: [gap]}
  - {id: fc_img, kind: linear, inputs: [flat], params: {in_features: 32, out_features: 16}}
  - {id: embed, kind: embedding, inputs: [tokens], params: {num_embeddings: 100, embedding_dim: 16}}
  - {id: lstm, kind: lstm, inputs: [embed], params: {input_size: 16, hidden_size: 16, batch_first: true}}
  - {id: last, kind: select, inputs: [lstm.h_n], params: {dim: 0, index: -1}}
  - {id: proj, kind: module, inputs: [last], params: {network: projection}}
  - id: attn
    kind: multihead_attention
    inputs: [lstm, memory, memory]
    params: {embed_dim: 16, num_heads: 4, batch_first: true}
  - id: enc
    kind: transformer_encoder_layer
    inputs: [attn]
    params: {d_model: 16, nhead: 4, dim_feedforward: 32, batch_first: true}
  - id: dec
    kind: transformer_decoder_layer
    inputs: [enc, memory]
    params: {d_model: 16, nhead: 4, dim_feedforward: 32, batch_first: true}
  - {id: pooled, kind: mean, inputs: [dec], params: {dim: 1}}
  - {id: norm, kind: layernorm, inputs: [pooled], params: {normalized_shape: 16}}
  - {id: joined, kind: add, inputs: [fc_img, proj]}
  - {id: both, kind: multiply, inputs: [joined, norm]}
  - {id: stacked, kind: concat, inputs: [both, pooled], params: {dim: 1}}
  - {id: parts, kind: split, inputs: [stacked], params: {split_size_or_sections: [16, 16], dim: 1}}
  - {id: r, kind: reshape, inputs: [parts], params: {shape: [-1, 4, 4]}}
  - {id: perm, kind: permute, inputs: [r], params: {dims: [0, 2, 1]}}
  - {id: mm, kind: matmul, inputs: [r, perm]}
  - {id: flat2, kind: flatten, inputs: [mm]}
  - {id: head, kind: linear, inputs: [flat2], params: {in_features: 16, out_features: 10}}
  - {id: soft, kind: log_softmax, inputs: [head], params: {dim: 1}}
outputs: {logits: soft, rest: parts.1}
modules:
  projection:
    inputs: {x: {shape: [batch, 16]}}
    layers:
      - {id: fc, kind: linear, inputs: [x], params: {in_features: 16, out_features: 16}}
    outputs: {y: fc}
""")


def _set(layer: str, **params: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        next(item for item in data["layers"] if item["id"] == layer)["params"].update(params)
    return change


def _inputs(layer: str, *refs: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        next(item for item in data["layers"] if item["id"] == layer)["inputs"] = list(refs)
    return change


def _declare(name: str, shape: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["inputs"][name]["shape"] = shape
    return change


#: mistake -> (how to inject it, the layer and port that must be named, a phrase of the message)
MISTAKES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str, str]] = {
    "conv in_channels wrong": (_set("conv1", in_channels=1), "conv1", "x", "expects channels (dim 1) 1"),
    "batchnorm features wrong": (_set("bn1", num_features=8), "bn1", "x", "num_features"),
    "second conv channels wrong": (_set("conv2", in_channels=32), "conv2", "x", "in_channels"),
    "shortcut without projection": (_set("short", out_channels=16), "res", "b", "dim 1 is 16 against 32"),
    "shortcut strided": (_set("short", stride=2), "res", "b", "dim 2 is 8 against 16"),
    "groupnorm channels wrong": (_set("gn", num_channels=16), "gn", "x", "num_channels"),
    "upsampling off by one": (_set("up", stride=1), "cat", "x1", "dim 2 is 32 but 'up' has 17"),
    "linear after pooling wrong": (_set("fc_img", in_features=64), "fc_img", "x", "set in_features: 32"),
    "pooling to 2x2 instead of 1x1": (_set("gap", output_size=2), "fc_img", "x", "gets 128"),
    "embedding fed floats": (_inputs("embed", "image"), "embed", "x", "expects integer indices"),
    "lstm input size wrong": (_set("lstm", input_size=32), "lstm", "x", "input_size"),
    "lstm layout (batch_first forgotten)": (_set("lstm", batch_first=False), "joined", "b", "dim 0 is seq against batch"),
    "attention width wrong": (_set("attn", embed_dim=32), "attn", "query", "embed_dim"),
    "attention key is an image": (_inputs("attn", "lstm", "image", "memory"), "attn", "key", "expects a 3-d input"),
    "memory declared too narrow": (_declare("memory", ["batch", 6, 8]), "attn", "key", "set kdim: 8"),
    "encoder width wrong": (_set("enc", d_model=32), "enc", "src", "d_model"),
    "decoder memory from another batch": (_inputs("dec", "enc", "lstm.h_n"), "dec", "memory", "batch size 1"),
    "layernorm size wrong": (_set("norm", normalized_shape=32), "norm", "x", "normalized_shape"),
    "adding a sequence to a vector": (_inputs("joined", "fc_img", "lstm"), "joined", "b", "cannot add"),
    "multiplying different widths": (_inputs("both", "joined", "flat"), "both", "b", "dim 1 is 32 against 16"),
    "concat of different ranks": (_inputs("stacked", "both", "lstm"), "stacked", "x1", "expects a 2-d input"),
    "split sections do not add up": (_set("parts", split_size_or_sections=[16, 8]), "parts", "x", "add up to 24"),
    "reshape that does not divide": (_set("r", shape=[-1, 5, 4]), "r", "x", "not a multiple of 20"),
    "permute missing a dim": (_set("perm", dims=[0, 2]), "perm", "x", "not an order of all 3 dims"),
    "matmul inner sizes differ": (_inputs("mm", "r", "parts.1"), "mm", "b", "expects dim 0 to be 4"),
    "classifier input wrong": (_set("head", in_features=32), "head", "x", "set in_features: 16"),
    "softmax over a missing dim": (_set("soft", dim=3), "soft", "x", "dim 3 is out of range"),
    "pooling window larger than the image": (_set("pool1", kernel_size=64), "pool1", "x", "smaller than the 64-wide window"),
    "selecting a missing layer": (_set("last", index=3), "last", "x", "index 3 is out of range"),
    "block fed the wrong width": (_inputs("proj", "lstm"), "proj", "x", "input 'x' of 'projection'"),
    "image declared without channels": (_declare("image", ["batch", 32, 32]), "conv1", "x", "read as one unbatched sample"),
}


def test_the_base_network_is_valid():
    assert validate_network(spec_of(BASE)) == []


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_injected_mistake_is_reported_at_its_layer_and_port(mistake):
    inject, layer, port, phrase = MISTAKES[mistake]
    data = copy.deepcopy(BASE)
    inject(data)
    issues = validate_network(spec_of(data))
    assert issues, f"{mistake}: not reported"
    found = [item for item in issues if item.layer == layer and item.port == port]
    assert found, f"{mistake}: expected layer {layer!r} input {port!r}, got {[str(item) for item in issues]}"
    assert any(phrase in str(item) for item in found), [str(item) for item in found]
    assert all(item.layer for item in issues)
    assert all(item.actual for item in found if item.code not in ("bad_dim", "bad_index", "too_small"))


def test_all_thirty_are_distinct_and_reported():
    assert len(MISTAKES) >= 30
    reported = 0
    for inject, layer, port, _ in MISTAKES.values():
        data = copy.deepcopy(BASE)
        inject(data)
        reported += any(item.layer == layer and item.port == port for item in validate_network(spec_of(data)))
    assert reported == len(MISTAKES)
