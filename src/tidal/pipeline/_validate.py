"""Validation before anything runs: every problem at once, each with its node, port or parameter.

Inputs that name a registered model (``models:/NAME@ALIAS``) are checked for their form always,
and against the model registry when one is given (the engine gives the workspace's): a name,
alias or version that does not exist is an issue naming the node, the port and the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidal.core._errors import Issue, TidalError, ValidationFailed
from tidal.core._registry import Registry, registry
from tidal.pipeline._graph import Pipeline, Ref

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec
    from tidal.models._registry import ModelRegistry


def model_inputs(pipeline: Pipeline) -> dict[tuple[str, str], str]:
    """(node, port) -> registry reference, for every input fed by a registered model."""
    return {(node.id, port): ref.model for node in pipeline.nodes.values() for port, ref in node.inputs.items()
            if ref.model is not None}


def _model_issues(node_id: str, port: str, ref: Ref, spec: ComponentSpec | None, models: Any) -> list[Issue]:
    from tidal.models._registry import parse_model_uri

    wanted = spec.input(port) if spec is not None else None
    if wanted is not None and wanted.type != "Model":
        return [Issue(f"type mismatch: '{ref}' is a registered Model, but this input takes a {wanted.type}",
                      node=node_id, port=port, code="type_mismatch")]
    try:
        reference = parse_model_uri(str(ref.model))
    except TidalError as error:
        return [Issue(f"'{ref}': {error}", node=node_id, port=port, code="bad_model_reference")]
    try:
        if models is not None:
            models.resolve(reference)
    except TidalError as error:
        return [Issue(f"'{ref}': {error}", node=node_id, port=port, code="unknown_model")]
    return []


def validate(pipeline: Pipeline, components: Registry | None = None, *, models: ModelRegistry | None = None) -> list[Issue]:
    """All problems in ``pipeline``; an empty list means it can run.

    ``models`` (a :class:`~tidal.models.ModelRegistry`) also checks that every ``models:/`` input
    names a registered model, alias or version; without it only their form is checked.
    """
    components = components or registry
    issues: list[Issue] = []
    if not pipeline.nodes:
        issues.append(Issue("the pipeline has no nodes", code="empty"))
    for node in pipeline.nodes.values():
        spec = components.find(node.component)
        if spec is None:
            close = components.suggestions(node.component)
            hint = f"did you mean {', '.join(close)}?" if close else "see `tidal components list`"
            issues.append(Issue(f"unknown component '{node.component}'", node=node.id, hint=hint, code="unknown_component"))
        for port, ref in node.inputs.items():
            if spec is not None and spec.input(port) is None:
                known = ", ".join(item.name for item in spec.inputs) or "none"
                issues.append(
                    Issue(f"{node.component} has no input '{port}'", node=node.id, port=port, hint=f"inputs: {known}", code="unknown_port")
                )
                continue
            if ref.model is not None:
                issues.extend(_model_issues(node.id, port, ref, spec, models))
                continue
            source = pipeline.nodes.get(ref.node)
            if source is None:
                issues.append(
                    Issue(f"input refers to node '{ref.node}', which does not exist", node=node.id, port=port, code="dangling_input")
                )
                continue
            source_spec = components.find(source.component)
            if source_spec is None:
                continue
            if ref.port is None:
                if len(source_spec.outputs) != 1:
                    names = ", ".join(f"{ref.node}.{item.name}" for item in source_spec.outputs)
                    issues.append(
                        Issue(f"node '{ref.node}' has several outputs; name one", node=node.id, port=port, hint=f"one of: {names}", code="ambiguous_input")
                    )
                    continue
                out = source_spec.outputs[0]
            else:
                found = source_spec.output(ref.port)
                if found is None:
                    names = ", ".join(item.name for item in source_spec.outputs)
                    issues.append(
                        Issue(f"node '{ref.node}' has no output '{ref.port}'", node=node.id, port=port, hint=f"outputs: {names}", code="dangling_input")
                    )
                    continue
                out = found
            wanted = spec.input(port) if spec is not None else None
            if wanted is not None and wanted.type != out.type:
                issues.append(
                    Issue(
                        f"type mismatch: '{ref}' is a {out.type}, but this input takes a {wanted.type}",
                        node=node.id,
                        port=port,
                        code="type_mismatch",
                    )
                )
        if spec is None:
            continue
        for port_spec in spec.inputs:
            if not port_spec.optional and port_spec.name not in node.inputs:
                issues.append(
                    Issue(f"required input '{port_spec.name}' ({port_spec.type}) is not connected", node=node.id, port=port_spec.name, code="missing_input")
                )
        issues.extend(spec.param_issues(node.params, node=node.id))
        if node.retries < 0:
            issues.append(Issue("retries must be 0 or more", node=node.id, code="bad_option"))
    cycle = pipeline.find_cycle()
    if cycle:
        issues.append(Issue(f"the nodes form a cycle: {' -> '.join(cycle)}", node=cycle[0], code="cycle"))
    return issues


def check(pipeline: Pipeline, components: Registry | None = None, *, models: ModelRegistry | None = None) -> None:
    """Raise :class:`ValidationFailed` listing every problem, if there are any."""
    issues = validate(pipeline, components, models=models)
    if issues:
        raise ValidationFailed(issues, subject=f"pipeline '{pipeline.name}'")
