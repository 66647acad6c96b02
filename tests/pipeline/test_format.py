import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import tidal
from tidal.core import TidalError, ValidationFailed
from tidal.pipeline import PIPELINE_SCHEMA, Pipeline, from_python, to_python, validate

DOCS_SCHEMA = Path(__file__).parents[2] / "docs" / "pipeline.schema.json"


def test_demo_yaml_round_trips_losslessly(demo_files):
    text = demo_files.read_text()
    pipeline = Pipeline.load(demo_files)
    assert yaml.safe_load(pipeline.to_yaml()) == yaml.safe_load(text)
    again = Pipeline.from_yaml(pipeline.to_yaml())
    assert again.to_dict() == pipeline.to_dict()


def test_extension_keys_and_node_options_survive(tmp_path):
    data = {
        "tidal": 1, "name": "p", "x-owner": "ana",
        "nodes": [{"id": "a", "component": "io.read_csv", "params": {"path": "x.csv"}, "cache": False,
                   "retries": 2, "timeout": 5, "x-note": "hi", "title": "Read"}],
        "layout": {"a": [1, 2]},
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    pipeline = Pipeline.load(path)
    assert pipeline.nodes["a"].retries == 2 and pipeline.nodes["a"].cache is False
    pipeline.save(path)
    assert yaml.safe_load(path.read_text()) == data


def test_published_schema_matches_and_accepts_examples(demo_files):
    jsonschema.Draft202012Validator.check_schema(PIPELINE_SCHEMA)
    assert json.loads(DOCS_SCHEMA.read_text()) == PIPELINE_SCHEMA
    jsonschema.validate(yaml.safe_load(demo_files.read_text()), PIPELINE_SCHEMA)


def test_structural_errors_are_all_reported(tmp_path):
    text = "tidal: 2\nname: p\nnodes:\n  - id: a\n  - component: io.read_csv\n    colour: red\nextra: 1\n"
    with pytest.raises(ValidationFailed) as info:
        Pipeline.from_yaml(text)
    message = str(info.value)
    assert "unsupported file format version 2" in message
    assert "'component' is a required property" in message
    assert "'id' is a required property" in message
    assert "colour" in message and "extra" in message


def test_yaml_syntax_error_names_line_and_column():
    with pytest.raises(TidalError, match=r"bad.yaml: not valid YAML at line \d+, column \d+"):
        Pipeline.from_yaml("tidal: 1\nname: [unclosed\n", "bad.yaml")


def test_validation_reports_every_problem_with_its_place():
    text = """
tidal: 1
name: broken
nodes:
  - id: read
    component: io.read_csv
    params: {path: d.csv, delimiter: ",", colour: red}
  - id: split
    component: data.split
    inputs: {data: read}
    params: {fraction: 1.5}
  - id: train
    component: classification.logistic_regresion
    inputs: {data: split}
  - id: score
    component: model.predict
    inputs: {model: split.train, data: ghost}
  - id: eval
    component: evaluation.binary_classification
    inputs: {data: loop}
    params: {label: y}
  - id: loop
    component: data.split
    inputs: {data: eval}
"""
    issues = validate(Pipeline.from_yaml(text))
    found = {(issue.code, issue.node, issue.port, issue.param) for issue in issues}
    assert ("bad_param", "read", None, "colour") in found
    assert ("bad_param", "split", None, "fraction") in found
    assert ("unknown_component", "train", None, None) in found
    assert ("type_mismatch", "score", "model", None) in found
    assert ("dangling_input", "score", "data", None) in found
    assert ("ambiguous_input", "eval", "data", None) in found
    assert any(issue.code == "cycle" for issue in issues)
    assert any("did you mean classification.logistic_regression" in str(issue) for issue in issues)
    missing = validate(Pipeline.from_yaml("tidal: 1\nname: m\nnodes:\n  - {id: s, component: data.split}\n"))
    assert [(i.code, i.port) for i in missing] == [("missing_input", "data")]


def test_python_dsl_builds_the_same_graph_as_yaml(demo_files):
    from tidal.components.classification import logistic_regression
    from tidal.components.data import split
    from tidal.components.evaluation import binary_classification
    from tidal.components.io import read_csv
    from tidal.components.model import predict

    with tidal.Pipeline("breast-cancer-baseline") as built:
        read = read_csv(path="data/breast_cancer.csv", _id="read")
        parts = split(read, fraction=0.8, seed=42, stratify="malignant", _id="split")
        train = logistic_regression(parts.train, label="malignant", C=1.0, _id="train")
        score = predict(train, parts.test, _id="score")
        binary_classification(score, label="malignant", _id="eval")
    loaded = Pipeline.load(demo_files)
    assert built.to_dict()["nodes"] == loaded.to_dict()["nodes"]


def test_export_to_python_and_back(demo_files, tmp_path):
    pipeline = Pipeline.load(demo_files)
    script = tmp_path / "demo.py"
    script.write_text(to_python(pipeline))
    compile(script.read_text(), str(script), "exec")
    back = from_python(script)
    assert back.to_dict() == pipeline.to_dict()


def test_docs_schema_file_is_current():
    assert DOCS_SCHEMA.exists(), "run: tidal schema > docs/pipeline.schema.json"


def test_the_compiled_check_and_jsonschema_agree_on_valid_and_invalid_files():
    """A file the compiled validator accepts is never one jsonschema would refuse (and the reverse)."""
    import fastjsonschema

    from tidal.core._json_schema import _compiled
    from tidal.market._index import INDEX_SCHEMA

    node = {"id": "a", "component": "io.read_csv", "params": {"path": "x.csv"}}
    cases = [
        {"tidal": 1, "name": "ok", "nodes": [node]},
        {"tidal": 1, "name": "ok", "nodes": [{**node, "retries": 2, "timeout": 1.5, "cache": False, "x-note": 1}], "x-owner": "me"},
        {"tidal": 2, "name": "v", "nodes": [node]},
        {"tidal": 1, "name": "", "nodes": [node]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "retries": True}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "retries": -1}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "timeout": 0}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "id": "1bad"}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "component": "NoCategory"}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "inputs": {"data": "a.b.c"}}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "inputs": {"data": "models:/churn@prod"}}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "surprise": 1}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "resources": {"gpus": 0.25, "memory": "2GiB"}}]},
        {"tidal": 1, "name": "n", "nodes": [{**node, "resources": {"gpus": -1}}]},
        {"tidal": 1, "name": "n", "nodes": [node], "layout": {"a": [1, 2, 3]}},
        {"tidal": 1, "name": "n", "nodes": [node], "layout": {"a": [1.5, 2]}},
        {"tidal": 1, "nodes": [node]},
        {"tidal": 1, "name": "n", "nodes": "a"},
    ]
    package = {"name": "tidal-x", "version": "1.0", "summary": "s", "url": "x.whl", "sha256": "0" * 64}
    indexes = [{"tidal_market": 1, "packages": []}, {"tidal_market": 2, "packages": []}, {"tidal_market": 1},
               {"tidal_market": 1, "packages": [package]}, {"tidal_market": 1, "packages": [{**package, "sha256": 3}]},
               {"tidal_market": 1, "packages": [], "extra": True}]
    for schema, documents in ((PIPELINE_SCHEMA, cases), (INDEX_SCHEMA, indexes)):
        for case in documents:
            try:
                _compiled(schema)(case)
                fast = True
            except fastjsonschema.JsonSchemaException:
                fast = False
            assert fast == jsonschema.Draft202012Validator(schema).is_valid(case), case
