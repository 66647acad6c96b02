"""The pipeline file format (``tidal: 1``): parse, dump, and its published JSON Schema."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tidal.core._errors import Issue, TidalError, ValidationFailed
from tidal.core._json_schema import schema_errors
from tidal.core._resources import resource_issues
from tidal.core._yaml import load_yaml, read_yaml_text
from tidal.pipeline._graph import FORMAT_VERSION, Node, Pipeline, Ref

_ID = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
#: 'node', 'node.port', or a registered model 'models:/...' (whose name and alias validation checks)
_REF = r"^(?:[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_]*)?|models:/\S+)$"

PIPELINE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tidal.dev/schema/pipeline-1.json",
    "title": "Tidal pipeline",
    "type": "object",
    "required": ["tidal", "name", "nodes"],
    "properties": {
        "tidal": {"const": FORMAT_VERSION, "description": "file format version"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "component"],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "component": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"},
                    "title": {"type": "string"},
                    "inputs": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "pattern": _REF},
                        "description": "input port -> 'node' (its only output), 'node.port', or a registered model: "
                                       "'models:/NAME@ALIAS', 'models:/NAME/VERSION' or 'models:/NAME' (the newest version)",
                    },
                    "params": {"type": "object"},
                    "cache": {"type": "boolean", "default": True},
                    "retries": {"type": "integer", "minimum": 0, "default": 0},
                    "timeout": {"type": "number", "exclusiveMinimum": 0},
                    "partitions": {
                        "enum": ["auto", "off", False],
                        "default": "auto",
                        "description": "auto: a data step whose input is split runs per partition where the executor "
                                       "can spread it (the ray executor); off: it always runs as one query (a bare "
                                       "off, which YAML reads as false, means off too)",
                    },
                    "resources": {
                        "type": "object",
                        "description": "what one run needs, over the component's defaults: cpus and gpus (numbers, "
                                       "fractions such as 0.25 allowed), memory (2GiB, 512MiB, 1.5GB or bytes), "
                                       "custom (Ray resource name -> amount)",
                        "properties": {
                            "cpus": {"type": "number", "minimum": 0},
                            "memory": {"type": ["string", "integer"]},
                            "gpus": {"type": "number", "minimum": 0},
                            "custom": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                        },
                    },
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
        },
        "layout": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "description": "Studio positions, ignored by the engine",
        },
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}

_NODE_KEYS = {"id", "component", "title", "inputs", "params", "cache", "retries", "timeout", "resources", "partitions"}
_TOP_KEYS = {"tidal", "name", "description", "nodes", "layout"}


def _schema_issues(data: Any) -> list[Issue]:
    """Every way ``data`` breaks the pipeline schema (none for a valid file).

    A valid file costs no jsonschema import (see :mod:`tidal.core._json_schema`).
    """
    issues = []
    for error in schema_errors(PIPELINE_SCHEMA, data):
        path = list(error.absolute_path)
        node = None
        if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
            try:
                node = data["nodes"][path[1]].get("id") or f"#{path[1] + 1}"
            except (AttributeError, IndexError, KeyError, TypeError):
                node = f"#{path[1] + 1}"
            path = path[2:]
        place = ".".join(str(part) for part in path)
        message = error.message
        if error.validator == "const" and path == ["tidal"]:
            message = f"unsupported file format version {error.instance!r}; this Tidal reads 'tidal: {FORMAT_VERSION}'"
        elif error.validator == "additionalProperties":
            message = f"{message} (allowed keys are listed in the pipeline schema; prefix your own keys with 'x-')"
        issues.append(Issue(f"{place + ': ' if place else ''}{message}", node=node, code="format"))
    return issues


def parse_pipeline(text: str, source: str | Path | None = None) -> Pipeline:
    """Parse pipeline YAML; structural problems raise :class:`ValidationFailed` with all of them.

    The text goes through :func:`tidal.core.load_yaml`: too large, too deep, alias bombs and
    invalid YAML raise :class:`tidal.core.YamlError` naming ``source``.
    """
    where = f"{source}: " if source else ""
    data = load_yaml(text, source=source or "pipeline YAML")
    if not isinstance(data, dict):
        raise TidalError(f"{where}a pipeline file must be a mapping with 'tidal', 'name' and 'nodes'")
    issues = _schema_issues(data)
    if issues:
        raise ValidationFailed(issues, subject=f"{where}pipeline file".strip())
    return pipeline_from_dict(data, source)


def pipeline_from_dict(data: dict[str, Any], source: str | Path | None = None) -> Pipeline:
    pipeline = Pipeline(
        name=data["name"],
        description=data.get("description"),
        layout={key: list(value) for key, value in (data.get("layout") or {}).items()},
        extra={key: value for key, value in data.items() if key not in _TOP_KEYS},
        source=Path(source) if source else None,
    )
    problems: list[Issue] = []
    for raw in data["nodes"]:
        resources = None
        if raw.get("resources") is not None:
            resources, issues = resource_issues(raw["resources"], raw["id"])
            problems.extend(issues)
        partitions = raw.get("partitions", "auto")
        partitions = "off" if partitions is False else partitions  # a bare `off` is YAML's false
        if partitions not in ("auto", "off") or isinstance(partitions, (bool, int)):
            problems.append(Issue(f"partitions: {partitions!r} is not one of ['auto', 'off']", node=raw["id"]))
            partitions = "auto"
        node = Node(
            id=raw["id"],
            component=raw["component"],
            inputs={port: Ref.parse(ref) for port, ref in (raw.get("inputs") or {}).items()},
            params=dict(raw.get("params") or {}),
            cache=raw.get("cache", True),
            retries=raw.get("retries", 0),
            timeout=raw.get("timeout"),
            title=raw.get("title"),
            extra={key: value for key, value in raw.items() if key not in _NODE_KEYS},
            resources=resources,
            partitions=partitions,
        )
        if node.id in pipeline.nodes:
            problems.append(Issue("node id is used more than once", node=node.id, code="duplicate_id"))
        pipeline.nodes[node.id] = node
    if problems:
        raise ValidationFailed(problems)
    return pipeline


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and parse a pipeline file; its size, encoding and YAML limits are checked before parsing."""
    file = Path(path)
    if not file.exists():
        raise TidalError(f"pipeline file {file} does not exist")
    if file.is_dir():
        raise TidalError(f"{file} is a folder; give the path of a pipeline YAML file")
    return parse_pipeline(read_yaml_text(file), file)


#: libyaml's emitter where PyYAML was built with it (ten times faster on a 200-node pipeline), else PyYAML's own
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(pipeline: Pipeline) -> str:
    return yaml.dump(pipeline.to_dict(), Dumper=_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def save_pipeline(pipeline: Pipeline, path: str | Path) -> Path:
    """Write atomically: a half-written pipeline file is never visible."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tidal-", suffix=".yaml", dir=target.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(dump_yaml(pipeline))
    os.replace(temporary, target)
    return target
