"""Parameter declarations: bounds, choices, log-scale hints, column references and help text.

A component declares each parameter with its annotation and an optional :class:`Param`::

    C: Annotated[float, Param(gt=0, log=True, help="Inverse regularization strength")] = 1.0

From these declarations Tidal builds a pydantic model (validation with errors that name the
parameter), a JSON Schema (Studio forms) and default AutoML search ranges.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Union, get_args, get_origin

import pydantic


@dataclass(frozen=True)
class Param:
    """Declarative metadata for one component parameter."""

    help: str | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    log: bool = False
    #: the parameter names a column (or columns) of the input port given here
    column_of: str | None = None
    #: "input" for a file the component reads (its content joins the cache key), "output" for one it writes
    file: str | None = None
    #: widget hint for the Studio: "code", "sql", "textarea"
    widget: str | None = None
    #: AutoML: tune this parameter by default, optionally within a narrower range than its bounds
    tune: bool = False
    low: float | None = None
    high: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def merge(self, other: Param) -> Param:
        """Combine two declarations; values set on ``other`` win."""
        changes = {
            name: getattr(other, name)
            for name in self.__dataclass_fields__
            if name != "extra" and getattr(other, name) is not None and getattr(other, name) is not False
        }
        merged = replace(self, **changes)
        if other.extra:
            merged = replace(merged, extra={**self.extra, **other.extra})
        return merged


#: A parameter naming one column of the component's first table input.
Column = Annotated[str, Param(column_of="*")]
#: A parameter naming several columns; ``None`` means "all (but the label)".
Columns = Annotated[list[str] | None, Param(column_of="*")]
#: A path the component reads; its content is part of the cache key.
InputFile = Annotated[str, Param(file="input")]
#: A path the component writes.
OutputFile = Annotated[str, Param(file="output")]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a component, as derived from its signature."""

    name: str
    annotation: Any
    default: Any
    required: bool
    meta: Param

    def field_definition(self) -> tuple[Any, Any]:
        kwargs: dict[str, Any] = {}
        for bound in ("gt", "ge", "lt", "le"):
            if getattr(self.meta, bound) is not None:
                kwargs[bound] = getattr(self.meta, bound)
        if self.meta.help:
            kwargs["description"] = self.meta.help
        extra: dict[str, Any] = {}
        if self.meta.log:
            extra["x-log"] = True
        if self.meta.column_of:
            extra["x-column-of"] = self.meta.column_of
        if self.meta.file:
            extra["x-file"] = self.meta.file
        if self.meta.widget:
            extra["x-widget"] = self.meta.widget
        if self.meta.tune:
            extra["x-tune"] = True
        if self.meta.low is not None:
            extra["x-low"] = self.meta.low
        if self.meta.high is not None:
            extra["x-high"] = self.meta.high
        extra.update(self.meta.extra)
        if extra:
            kwargs["json_schema_extra"] = extra
        default = ... if self.required else self.default
        return (self.annotation, pydantic.Field(default, **kwargs))


def split_annotation(annotation: Any) -> tuple[Any, Param]:
    """Strip ``Annotated`` and merge every :class:`Param` found in it."""
    meta = Param()
    while get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, Param):
                meta = meta.merge(extra)
        annotation = base
    if get_origin(annotation) in (Union, types.UnionType):  # Column | None keeps its column marker
        for member in get_args(annotation):
            if get_origin(member) is Annotated:
                for extra in get_args(member)[1:]:
                    if isinstance(extra, Param):
                        meta = extra.merge(meta)
    return annotation, meta


def build_params_model(component_id: str, params: list[ParamSpec]) -> type[pydantic.BaseModel]:
    fields = {spec.name: spec.field_definition() for spec in params}
    model_name = "Params_" + component_id.replace(".", "_")
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True, title=component_id)
    return pydantic.create_model(model_name, __config__=config, **fields)  # type: ignore[call-overload,no-any-return]


def describe_pydantic_error(error: dict[str, Any]) -> tuple[str | None, str]:
    """Turn one pydantic error into (parameter name, readable message)."""
    location = error.get("loc") or ()
    name = str(location[0]) if location else None
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return name, "unknown parameter"
    if kind == "missing":
        return name, "is required"
    message = error.get("msg", "invalid value")
    received = error.get("input")
    if received is not None and kind != "missing":
        message = f"{message} (got {received!r})"
    return name, message
