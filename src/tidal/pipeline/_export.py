"""Pipelines to runnable Python scripts and back."""

from __future__ import annotations

import builtins
import importlib
import keyword
import pprint
import re
import runpy
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError
from tidal.core._registry import registry
from tidal.pipeline._graph import Pipeline


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=88, sort_dicts=False)


def _identifier(text: str, taken: set[str]) -> str:
    name = re.sub(r"\W", "_", text)
    if not name or name[0].isdigit():
        name = f"n_{name}"
    while keyword.iskeyword(name) or name in taken or name in vars(builtins):
        name = f"{name}_node"
    return name


def build_code(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """The code that builds ``pipeline``: its import lines, and the ``with tidal.Pipeline(...)`` block
    (with the description and layout after it). Scripts and notebooks are made from these."""
    imports: dict[str, str] = {}
    lines_import: list[str] = []
    for node_id in pipeline.topological_order():
        component_id = pipeline.nodes[node_id].component
        if component_id in imports:
            continue
        spec = registry.get(component_id)
        alias = component_id.replace(".", "_")
        module_name, func_name = spec.func.__module__, spec.func.__name__
        try:
            importable = getattr(importlib.import_module(module_name), func_name, None) is spec
        except ImportError:
            importable = False
        if importable:
            lines_import.append(f"from {module_name} import {func_name} as {alias}")
        else:
            lines_import.append(f'{alias} = tidal.get_component("{component_id}")')
        imports[component_id] = alias

    taken = set(imports.values()) | {"tidal", "pipeline", "result"}
    variables: dict[str, str] = {}
    body: list[str] = []
    for node_id in pipeline.topological_order():
        node = pipeline.nodes[node_id]
        variable = _identifier(node_id, taken)
        taken.add(variable)
        variables[node_id] = variable
        arguments = []
        for port, ref in node.inputs.items():
            if ref.model is not None:
                arguments.append(f"{port}={ref.model!r}")
                continue
            source = variables.get(ref.node, ref.node)
            arguments.append(f"{port}={source}" if ref.port is None else f"{port}={source}.{ref.port}")
        arguments.extend(f"{name}={_literal(value)}" for name, value in node.params.items())
        arguments.append(f'_id="{node_id}"')
        if not node.cache:
            arguments.append("_cache=False")
        if node.retries:
            arguments.append(f"_retries={node.retries}")
        if node.timeout is not None:
            arguments.append(f"_timeout={node.timeout!r}")
        if node.resources is not None:
            arguments.append(f"_resources={node.resources.to_dict()!r}")
        if node.partitions != "auto":
            arguments.append(f"_partitions={node.partitions!r}")
        body.append(f"    {variable} = {imports[node.component]}({', '.join(arguments)})")

    block = [f"with tidal.Pipeline({pipeline.name!r}) as pipeline:", *body]
    if pipeline.description:
        block.append(f"pipeline.description = {pipeline.description!r}")
    if pipeline.layout:
        block.append(f"pipeline.layout = {_literal(pipeline.layout)}")
    return lines_import, block


def to_python(pipeline: Pipeline) -> str:
    """A script that builds the same graph (same node ids, so the same cache) and runs it."""
    lines_import, block = build_code(pipeline)
    header = [
        f'"""Pipeline {pipeline.name!r}, as a Python script (made by `tidal export`).',
        "",
        "Run it with `python <this file>`; it builds the same graph as the YAML file and runs it in",
        'the current workspace, sharing its cache."""',
        "",
        "import tidal",
        *lines_import,
        "",
        *block,
    ]
    header += [
        "",
        'if __name__ == "__main__":',
        "    result = tidal.run(pipeline)",
        "    result.print_summary()",
        "",
    ]
    return "\n".join(header)


def from_python(path: str | Path) -> Pipeline:
    """Run a script (not as ``__main__``) and take the pipeline it builds."""
    script = Path(path)
    if not script.exists():
        raise TidalError(f"script {script} does not exist")
    namespace = runpy.run_path(str(script), run_name="tidal_import")
    found = [value for value in namespace.values() if isinstance(value, Pipeline)]
    if not found:
        raise TidalError(f"{script} builds no tidal.Pipeline at module level")
    if len(found) > 1 and "pipeline" in namespace:
        return namespace["pipeline"]  # type: ignore[no-any-return]
    return found[0]
