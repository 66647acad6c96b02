"""The ``@component`` decorator: a typed Python function becomes a registered component."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import pydantic

from tidal.core._errors import DataError, Issue, ValidationFailed
from tidal.core._params import (
    ParamSpec,
    build_params_model,
    describe_pydantic_error,
    split_annotation,
)
from tidal.core._ports import LazyTable, Metrics, deliver_table, resolve_annotation
from tidal.core._resources import Resources, as_resources

SINGLE_OUTPUT = "output"
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Port:
    """Optional metadata for an input or output port: ``Annotated[pd.DataFrame, Port(help=...)]``."""

    help: str | None = None


@dataclass(frozen=True)
class PortSpec:
    name: str
    type: str
    delivery: str
    optional: bool = False
    help: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "optional": self.optional, "help": self.help}


@dataclass
class ComponentSpec:
    """Everything Tidal knows about a component, derived from its function."""

    id: str
    func: Callable[..., Any]
    title: str
    version: str
    description: str
    tags: dict[str, Any]
    inputs: list[PortSpec]
    outputs: list[PortSpec]
    params: list[ParamSpec]
    side_effects: bool = False
    output_tuple: type | None = None
    #: what one run needs by default (a pipeline node may override it key by key)
    resources: Resources | None = None
    _params_model: type[pydantic.BaseModel] | None = field(default=None, repr=False)

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def params_model(self) -> type[pydantic.BaseModel]:
        if self._params_model is None:
            self._params_model = build_params_model(self.id, self.params)
        return self._params_model

    @property
    def cacheable(self) -> bool:
        return not self.side_effects

    @property
    def runs_user_code(self) -> bool:
        """Tagged ``runs_user_code``: it runs code taken from its parameters, so engines run it only when allowed."""
        return bool(self.tags.get("runs_user_code"))

    def input(self, name: str) -> PortSpec | None:
        return next((port for port in self.inputs if port.name == name), None)

    def output(self, name: str) -> PortSpec | None:
        return next((port for port in self.outputs if port.name == name), None)

    def param(self, name: str) -> ParamSpec | None:
        return next((spec for spec in self.params if spec.name == name), None)

    # -- parameters -------------------------------------------------------------------------
    def param_issues(self, values: dict[str, Any], node: str | None = None) -> list[Issue]:
        try:
            self.params_model.model_validate(values)
        except pydantic.ValidationError as error:
            issues = []
            for item in error.errors():
                name, message = describe_pydantic_error(dict(item))
                hint = None
                if message == "unknown parameter":
                    known = ", ".join(spec.name for spec in self.params) or "none"
                    hint = f"{self.id} takes: {known}"
                issues.append(Issue(message, node=node, param=name, hint=hint, code="bad_param"))
            return issues
        return []

    def validate_params(self, values: dict[str, Any], node: str | None = None) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises :class:`ValidationFailed`."""
        try:
            model = self.params_model.model_validate(values)
        except pydantic.ValidationError:
            raise ValidationFailed(self.param_issues(values, node), subject=f"{self.id} parameters") from None
        return {spec.name: getattr(model, spec.name) for spec in self.params}

    def params_schema(self) -> dict[str, Any]:
        schema = self.params_model.model_json_schema()
        schema["title"] = self.title
        return schema

    def default_params(self) -> dict[str, Any]:
        return {spec.name: spec.default for spec in self.params if not spec.required}

    # -- execution ---------------------------------------------------------------------------
    def execute(self, inputs: dict[str, Any], params: dict[str, Any], node: str | None = None) -> dict[str, Any]:
        """Run the function on real values; returns ``{output port: value}``."""
        values = self.validate_params(params, node)
        kwargs: dict[str, Any] = {}
        for port in self.inputs:
            value = inputs.get(port.name)
            if value is None:
                if not port.optional:
                    raise DataError(_where(node, port.name) + "required input is not connected")
                kwargs[port.name] = None
                continue
            if port.type == "Table":
                try:
                    value = deliver_table(value, port.delivery)
                except TypeError as error:
                    raise DataError(f"{_where(node, port.name)}{error}") from None
            kwargs[port.name] = value
        self._check_columns(kwargs, values, node)
        result = self.func(**kwargs, **values)
        return self.split_outputs(result, node)

    def _check_columns(self, inputs: dict[str, Any], values: dict[str, Any], node: str | None) -> None:
        for spec in self.params:
            target = spec.meta.column_of
            value = values.get(spec.name)
            if not target or value is None:
                continue
            port_name = self._column_port(target)
            table = inputs.get(port_name) if port_name else None
            if table is None:
                continue
            columns = _columns_of(table)
            wanted = [value] if isinstance(value, str) else list(value)
            missing = [name for name in wanted if name not in columns]
            if missing:
                shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
                raise DataError(
                    f"{_where(node, None)}parameter '{spec.name}': column {', '.join(map(repr, missing))} "
                    f"not found in input '{port_name}' (columns: {shown})"
                )

    def _column_port(self, target: str) -> str | None:
        if target != "*":
            return target
        table_inputs = [port.name for port in self.inputs if port.type == "Table"]
        return table_inputs[0] if table_inputs else None

    def split_outputs(self, result: Any, node: str | None = None) -> dict[str, Any]:
        if len(self.outputs) == 1:
            port = self.outputs[0]
            return {port.name: _coerce_output(port, result, node)}
        if isinstance(result, dict):
            items = result
        elif isinstance(result, tuple) and len(result) == len(self.outputs):
            items = dict(zip([port.name for port in self.outputs], result, strict=True))
        else:
            raise TypeError(f"{self.id} must return {len(self.outputs)} outputs, got {type(result).__name__}")
        return {port.name: _coerce_output(port, items[port.name], node) for port in self.outputs}

    # -- calling -----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tidal.core._building import current_recorder

        builder = current_recorder()
        if builder is not None:
            return builder.add_call(self, args, kwargs)
        return self.run_eager(*args, **kwargs)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split a call's arguments into inputs and parameters."""
        if len(args) > len(self.inputs):
            raise TypeError(f"{self.id} takes {len(self.inputs)} input(s) positionally, got {len(args)}")
        inputs = {port.name: value for port, value in zip(self.inputs, args, strict=False)}
        params: dict[str, Any] = {}
        input_names = {port.name for port in self.inputs}
        for key, value in kwargs.items():
            if key in input_names:
                if key in inputs:
                    raise TypeError(f"{self.id}: input '{key}' given twice")
                inputs[key] = value
            else:
                params[key] = value
        return inputs, params

    def run_eager(self, *args: Any, **kwargs: Any) -> Any:
        inputs, params = self.bind(args, kwargs)
        outputs = self.execute(inputs, params)
        if self.output_tuple is not None:
            return self.output_tuple(**outputs)
        return outputs[self.outputs[0].name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "category": self.category,
            "description": self.description,
            "tags": self.tags,
            "side_effects": self.side_effects,
            "inputs": [port.to_dict() for port in self.inputs],
            "outputs": [port.to_dict() for port in self.outputs],
            "params": self.params_schema(),
        }

    def __repr__(self) -> str:
        return f"<component {self.id} v{self.version}>"


def _where(node: str | None, port: str | None) -> str:
    parts = []
    if node:
        parts.append(f"node '{node}'")
    if port:
        parts.append(f"input '{port}'")
    return (", ".join(parts) + ": ") if parts else ""


def _columns_of(table: Any) -> list[str]:
    if isinstance(table, LazyTable):
        return table.columns
    if hasattr(table, "column_names"):
        return list(table.column_names)
    return [str(name) for name in table.columns]


def _coerce_output(port: PortSpec, value: Any, node: str | None) -> Any:
    from tidal.core._ports import Figure, port_type_of_value

    if port.type == "Metrics" and isinstance(value, dict) and not isinstance(value, Metrics):
        value = Metrics(value)
    if port.type == "Figure" and isinstance(value, dict) and not isinstance(value, Figure):
        value = Figure(value)
    actual = port_type_of_value(value)
    if actual != port.type:
        where = f"node '{node}', " if node else ""
        raise TypeError(f"{where}output '{port.name}' must be a {port.type}, got {type(value).__name__}")
    return value


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (annotation, False)."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(get_args(annotation)) == 2:
            return members[0], True
    return annotation, False


def _port_from(name: str, annotation: Any, has_default: bool) -> PortSpec | None:
    base, optional = _unwrap_optional(annotation)
    help_text = None
    if get_origin(base) is Annotated:
        base, *extras = get_args(base)
        help_text = next((extra.help for extra in extras if isinstance(extra, Port)), None)
    resolved = resolve_annotation(base)
    if resolved is None:
        return None
    return PortSpec(name, resolved[0], resolved[1], optional or has_default, help_text)


def _output_ports(hints: dict[str, Any], component_id: str) -> tuple[list[PortSpec], type | None]:
    returned = hints.get("return")
    if returned is None:
        raise TypeError(f"component {component_id}: annotate the return type with a port type")
    if isinstance(returned, type) and issubclass(returned, tuple) and hasattr(returned, "_fields"):
        field_hints = get_type_hints(returned, include_extras=True)
        ports = []
        for name in returned._fields:
            port = _port_from(name, field_hints[name], False)
            if port is None:
                raise TypeError(f"component {component_id}: output '{name}' is not a port type")
            ports.append(PortSpec(name, port.type, port.delivery, False, port.help))
        return ports, returned
    port = _port_from(SINGLE_OUTPUT, returned, False)
    if port is None:
        raise TypeError(f"component {component_id}: return type {returned!r} is not a port type")
    return [PortSpec(SINGLE_OUTPUT, port.type, port.delivery, False, port.help)], None


def _describe(func: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.cleandoc(func.__doc__ or "")
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    return summary, doc


def make_spec(
    func: Callable[..., Any],
    component_id: str,
    *,
    title: str | None,
    version: str,
    tags: dict[str, Any] | None,
    side_effects: bool,
    resources: Resources | dict[str, Any] | None = None,
) -> ComponentSpec:
    if not _ID_PATTERN.match(component_id):
        raise ValueError(f"component id {component_id!r} must be 'category.name' in snake_case")
    hints = get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    inputs: list[PortSpec] = []
    params: list[ParamSpec] = []
    for name, parameter in signature.parameters.items():
        annotation = hints.get(name, Any)
        has_default = parameter.default is not inspect.Parameter.empty
        port = _port_from(name, annotation, has_default)
        if port is not None and parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            inputs.append(port)
            continue
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(
                f"component {component_id}: '{name}' is not a port type, so it must be keyword-only "
                "(put it after '*')"
            )
        base, meta = split_annotation(annotation)
        params.append(ParamSpec(name, base, parameter.default if has_default else None, not has_default, meta))
    outputs, output_tuple = _output_ports(hints, component_id)
    summary, doc = _describe(func)
    default_title = component_id.split(".", 1)[1].replace("_", " ").title()
    return ComponentSpec(
        id=component_id,
        func=func,
        title=title or default_title,
        version=str(version),
        description=doc or summary,
        tags=dict(tags or {}),
        inputs=inputs,
        outputs=outputs,
        params=params,
        side_effects=side_effects,
        output_tuple=output_tuple,
        resources=as_resources(resources, f"component {component_id}: resources"),
    )


def component(
    component_id: str,
    *,
    title: str | None = None,
    version: str | int = "1",
    tags: dict[str, Any] | None = None,
    side_effects: bool = False,
    register: bool = True,
    resources: Resources | dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], ComponentSpec]:
    """Register a typed function as a component.

    Inputs are the parameters annotated with a port type (``pd.DataFrame``, ``pa.Table``,
    ``LazyTable``, ``ModelPackage``, ``Metrics``, ``Figure``); every other parameter must be
    keyword-only and is a component parameter. ``side_effects=True`` marks a component whose
    results must never be taken from the cache (writers, registrations). ``resources`` is what one
    run needs by default, e.g. ``{"cpus": 2, "memory": "4GiB", "gpus": 0.5}``; a pipeline node's
    ``resources:`` overrides it key by key (see :mod:`tidal.core._resources`).
    """

    def decorate(func: Callable[..., Any]) -> ComponentSpec:
        spec = make_spec(
            func, component_id, title=title, version=str(version), tags=tags, side_effects=side_effects,
            resources=resources,
        )
        spec.__doc__ = func.__doc__  # type: ignore[attr-defined]
        if register:
            from tidal.core._registry import registry

            registry.add(spec)
        return spec

    return decorate
