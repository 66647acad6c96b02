"""Checks before a run starts: code the pipeline would run, ``--set`` overrides, resource requests."""

from __future__ import annotations

from typing import Any

from tidal.core._errors import CodeNotAllowed, TidalError
from tidal.core._registry import registry
from tidal.core._resources import Resources
from tidal.core._yaml import YamlError, load_yaml
from tidal.pipeline._graph import Pipeline

#: how a caller allows components that run code taken from a pipeline
ALLOW_CODE_HINT = (
    "allow it only for pipelines you trust: `tidal run --allow-code`, `tidal studio --allow-code`, "
    "or `tidal.run(pipeline, allow_code=True)`"
)


def code_nodes(pipeline: Pipeline) -> dict[str, str]:
    """Node id -> component id of the nodes whose component is tagged ``runs_user_code``."""
    found = {}
    for node_id, node in pipeline.nodes.items():
        try:
            spec = registry.get(node.component)
        except TidalError:  # an unknown component is reported by validation
            continue
        if spec.runs_user_code:
            found[node_id] = node.component
    return found


def check_code_allowed(pipeline: Pipeline, allow_code: bool) -> None:
    """Raise :class:`CodeNotAllowed` naming every node that would run code from the pipeline, unless allowed."""
    if allow_code:
        return
    found = code_nodes(pipeline)
    if found:
        listed = ", ".join(f"node '{node_id}' ({component})" for node_id, component in found.items())
        raise CodeNotAllowed(
            f"pipeline '{pipeline.name}': {listed} would run arbitrary Python code written in the pipeline, "
            f"with all the rights of this process, so it is refused by default; {ALLOW_CODE_HINT}"
        )


def parse_override(text: str) -> tuple[str, str, Any]:
    """``NODE.PARAM=VALUE`` with VALUE read as YAML (numbers, booleans, lists)."""
    target, separator, raw = text.partition("=")
    node, dot, param = target.partition(".")
    if not separator or not dot or not node or not param:
        raise TidalError(f"--set {text!r}: write it as NODE.PARAM=VALUE, e.g. --set train.C=0.5")
    try:
        value = load_yaml(raw, source=f"--set {target}") if raw != "" else ""
    except YamlError as error:
        if error.code != "syntax":  # too large, too deep, an alias bomb: refused, not taken as text
            raise
        value = raw
    return node, param, value


def resource_requests(pipeline: Pipeline) -> dict[str, Resources]:
    """Node id -> what one run needs: its component's defaults with the node's own keys over them.

    Nodes that ask for nothing are left out (the executor's defaults apply)."""
    found = {}
    for node_id, node in pipeline.nodes.items():
        spec = registry.get(node.component)
        base = spec.resources or Resources()
        request = base.merged(node.resources)
        if not request.empty:
            found[node_id] = request
    return found
