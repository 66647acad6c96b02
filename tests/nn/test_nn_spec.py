"""The network file format: reading, writing, the published schema, and every structural problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from nn_helpers import EXAMPLES, network, spec_of, write

from tidal.core import YamlError
from tidal.nn import (
    NETWORK_SCHEMA,
    NetworkError,
    NetworkSpec,
    load_network,
    parse_network,
    validate_network,
)

DOCS_SCHEMA = Path(__file__).parents[2] / "docs" / "nn.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(NETWORK_SCHEMA)  # compiled once: the schema has a branch per kind


def test_docs_schema_file_is_current():
    assert DOCS_SCHEMA.exists(), "run: python -m tidal.nn._schema > docs/nn.schema.json"
    assert json.loads(DOCS_SCHEMA.read_text()) == NETWORK_SCHEMA, "stale: python -m tidal.nn._schema > docs/nn.schema.json"
    jsonschema.Draft202012Validator.check_schema(NETWORK_SCHEMA)


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda path: path.name)
def test_examples_match_the_schema_and_read_back_identically(path, tmp_path):
    data = yaml.safe_load(path.read_text())
    VALIDATOR.validate(data)
    spec = load_network(path)
    assert spec.to_dict() == data
    copy = spec.save(tmp_path / "copy.yaml")
    assert yaml.safe_load(copy.read_text()) == data


def test_schema_checks_each_kinds_params():
    data = yaml.safe_load((EXAMPLES / "mlp.yaml").read_text())
    data["layers"][0]["params"]["out_feature"] = 3
    with pytest.raises(jsonschema.ValidationError, match="out_feature"):
        VALIDATOR.validate(data)
    data["layers"][0]["kind"] = "lineer"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)


def test_structural_problems_are_all_reported_with_their_layer():
    text = """
tidal-nn: 1
name: broken
inputs: {x: {shape: [batch, 0]}}
layers:
  - {id: fc, kind: linear, inputs: [x], params: {out_features: 3}, colour: red}
  - {id: 2bad, kind: relu, inputs: [fc]}
  - {kind: relu}
outputs: 7
extra: 1
"""
    with pytest.raises(NetworkError) as info:
        parse_network(text)
    issues = info.value.issues
    text = str(info.value)
    assert "inputs.x.shape.1: a dim must be a positive integer or a symbol name" in text
    assert any(item.layer == "fc" and "unknown key 'colour'" in item.message for item in issues)
    assert any(item.layer == "2bad" and item.message.startswith("id:") for item in issues)
    assert any(item.layer == "#3" and "id: Field required" in item.message for item in issues)
    assert any("outputs must be a mapping" in item.message for item in issues)
    assert any("unknown key 'extra'" in item.message for item in issues)


def test_unsupported_version_and_non_mapping():
    with pytest.raises(NetworkError, match="unsupported file format version 2"):
        parse_network("tidal-nn: 2\nname: x\n")
    with pytest.raises(Exception, match="must be a mapping"):
        parse_network("- 1\n- 2\n")
    with pytest.raises(YamlError):
        parse_network("tidal-nn: [1\n")


def test_outputs_as_a_list_and_x_keys_are_kept():
    data = network([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 2}, "x-note": "hi"},
                    {"id": "lstm_like", "kind": "relu", "inputs": ["fc"]}], outputs=["fc", "lstm_like"])
    data["x-owner"] = "team"
    spec = spec_of(data)
    assert spec.output_map == {"fc": "fc", "lstm_like": "lstm_like"}
    assert spec.to_dict() == data


def _issues(layers, **extra):
    return validate_network(spec_of(network(layers, **extra)))


def test_graph_problems_are_all_reported_with_hints():
    issues = _issues([
        {"id": "fc", "kind": "lineer", "inputs": ["x"], "params": {"out_features": 4}},
        {"id": "fc2", "kind": "linear", "inputs": ["x"], "params": {"out_feature": 4}},
        {"id": "fc3", "kind": "linear", "inputs": ["xx"], "params": {"out_features": 4}},
        {"id": "fc3", "kind": "relu", "inputs": ["x"]},
        {"id": "add", "kind": "add", "inputs": ["x"]},
        {"id": "drop", "kind": "dropout", "inputs": ["x"], "params": {"p": 1.5}},
        {"id": "conv", "kind": "conv2d", "inputs": ["x"], "params": {"kernel_size": 3}},
        {"id": "forward", "kind": "relu", "inputs": ["x"]},
        {"id": "a", "kind": "relu", "inputs": ["b"]},
        {"id": "b", "kind": "relu", "inputs": ["a"]},
        {"id": "lstm", "kind": "lstm", "inputs": ["x"], "params": {"hidden_size": 2}},
        {"id": "h", "kind": "relu", "inputs": ["lstm.hidden"]},
    ])
    found = {(item.layer, item.code) for item in issues}
    assert ("fc", "unknown_kind") in found
    assert next(item for item in issues if item.code == "unknown_kind").hint == "did you mean linear?"
    assert ("fc2", "unknown_param") in found
    assert next(item for item in issues if item.code == "unknown_param").hint == "did you mean 'out_features'?"
    assert ("fc2", "missing_param") in found
    assert ("fc3", "dangling_input") in found and ("fc3", "duplicate_id") in found
    assert ("add", "arity") in found
    assert ("drop", "bad_param") in found and ("conv", "missing_param") in found
    assert ("forward", "reserved_name") in found
    assert any(item.code == "cycle" and "a -> b -> a" in item.message for item in issues)
    assert any(item.layer == "h" and "lstm' has no output 'hidden' (outputs: output, h_n, c_n)" in item.message for item in issues)


def test_reserved_names_cover_torch_module_attributes(torch):
    from tidal.nn._validate import RESERVED_NAMES

    public = {name for name in dir(torch.nn.Module) if not name.startswith("_")} | set(vars(torch.nn.Module()))
    missing = {name for name in public if not name.startswith("_")} - RESERVED_NAMES
    assert not missing, f"add to RESERVED_NAMES: {sorted(missing)}"


def test_sub_network_files_resolve_inside_the_folder(tmp_path):
    head = network([{"id": "fc", "kind": "linear", "inputs": ["x"], "params": {"out_features": 2}}], name="head")
    write(tmp_path, "parts/head.yaml", head)
    top = network([{"id": "body", "kind": "relu", "inputs": ["x"]},
                   {"id": "out", "kind": "module", "inputs": ["body"], "params": {"file": "parts/head.yaml"}}])
    spec = load_network(write(tmp_path, "top.yaml", top))
    assert list(spec.files) == ["parts/head.yaml"]
    assert not validate_network(spec)
    unresolved = parse_network(yaml.safe_dump(top))
    assert [item.code for item in validate_network(unresolved)] == ["bad_module"]
    assert not validate_network(parse_network(yaml.safe_dump(top), base_dir=tmp_path))


def test_missing_and_broken_sub_network_files_name_the_layer(tmp_path):
    (tmp_path / "broken.yaml").write_text("tidal-nn: 1\nname: b\n")
    top = network([{"id": "a", "kind": "module", "inputs": ["x"], "params": {"file": "nope.yaml"}},
                   {"id": "b", "kind": "module", "inputs": ["x"], "params": {"file": "broken.yaml"}}])
    with pytest.raises(NetworkError) as info:
        load_network(write(tmp_path, "top.yaml", top))
    layers = {item.layer for item in info.value.issues}
    assert layers == {"a", "b"}
    assert "does not exist" in str(info.value) and "Field required" in str(info.value)


def test_spec_is_a_pydantic_model_with_private_file_cache():
    spec = NetworkSpec.model_validate(network([{"id": "r", "kind": "relu", "inputs": ["x"]}]))
    assert spec.files == {} and spec.source is None
    assert spec.layer("r").kind == "relu"
