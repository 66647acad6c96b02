"""Pipelines: the graph, the YAML format, validation, the Python DSL and code export."""

from tidal.pipeline._builder import NodeHandle, OutputHandle
from tidal.pipeline._export import from_python, to_python
from tidal.pipeline._graph import Node, Pipeline, Ref
from tidal.pipeline._validate import check, validate
from tidal.pipeline._yaml import PIPELINE_SCHEMA, load_pipeline, parse_pipeline, save_pipeline

__all__ = [
    "PIPELINE_SCHEMA",
    "Node",
    "NodeHandle",
    "OutputHandle",
    "Pipeline",
    "Ref",
    "check",
    "from_python",
    "load_pipeline",
    "parse_pipeline",
    "save_pipeline",
    "to_python",
    "validate",
]
