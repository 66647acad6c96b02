"""The node option ``partitions: auto | off``: parsed, checked, kept through YAML and the Python DSL."""

from __future__ import annotations

import pytest
import yaml

from tidal.core import ValidationFailed
from tidal.pipeline import Pipeline, from_python, to_python

TEXT = """tidal: 1
name: p
nodes:
  - {id: read, component: io.read_parquet, params: {path: parts}}
  - {id: keep, component: data.filter, inputs: {data: read}, params: {where: x > 0}, partitions: "off"}
  - {id: spread, component: data.filter, inputs: {data: read}, params: {where: x > 0}}
"""


def test_partitions_off_round_trips_through_yaml_and_python(tmp_path):
    pipeline = Pipeline.from_yaml(TEXT)
    assert (
        pipeline.nodes["keep"].partitions == "off" and pipeline.nodes["spread"].partitions == "auto"
    )
    assert yaml.safe_load(pipeline.to_yaml()) == yaml.safe_load(TEXT)
    script = tmp_path / "p.py"
    script.write_text(to_python(pipeline))
    assert "_partitions='off'" in script.read_text()
    assert from_python(script).to_dict() == pipeline.to_dict()


def test_an_unknown_partitions_value_is_refused_with_its_node():
    with pytest.raises(ValidationFailed) as failed:
        Pipeline.from_yaml(TEXT.replace('partitions: "off"', "partitions: sometimes"))
    message = str(failed.value)
    assert "node 'keep': partitions: 'sometimes' is not one of ['auto', 'off', False]" in message
    bare = Pipeline.from_yaml(
        TEXT.replace('partitions: "off"', "partitions: off")
    )  # YAML reads a bare off as false
    assert bare.nodes["keep"].partitions == "off"
    with pytest.raises(ValueError, match="node 'x': partitions must be 'auto' or 'off', not 'on'"):
        Pipeline("p").add("data.filter", "x", params={"where": "x > 0"}, partitions="on")
