"""Layer parameters declared as data: a name, a type, a default, bounds, and help.

Validation, the JSON Schema of a kind's parameters (Studio forms, editor completion) and the
constructor call in generated code all come from these declarations. Every string a parameter
may hold is a choice from a fixed list, an identifier or a checked relative path, so no
parameter value can carry code into generated source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: the parameter has no default; a spec must set it
REQUIRED: Any = _Marker("REQUIRED")
#: when a spec leaves it out, shape inference takes it from the input (``in_features``, ``in_channels``)
INFER: Any = _Marker("INFER")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: type name -> what a user is told it must be
TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "choice": "one of the listed choices",
    "ints": "an integer or a list of integers",
    "padding": "an integer, a list of integers, 'same' or 'valid'",
    "int_list": "a list of integers",
    "dims": "an integer, a list of integers, or null",
    "optional_int": "an integer or null",
    "optional_ints": "an integer, a list of integers, or null",
    "size": "an integer or a list of integers (null keeps that input size)",
    "optional_float": "a number or null",
    "sections": "an integer or a list of integers",
    "name": "a name (letters, digits and underscores)",
    "path": "a relative path inside the spec's folder",
}


@dataclass(frozen=True)
class ParamDef:
    """One parameter of a layer kind. Names follow the torch constructor's keyword names."""

    name: str
    type: str
    default: Any = REQUIRED
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    positional: bool = False  # generated code passes it positionally, in declaration order
    explicit: bool = False  # generated code always writes it (its default differs from torch's)
    constructor: bool = True  # passed to the torch constructor (False: used by the call only)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def inferred(self) -> bool:
        return self.default is INFER

    def check(self, value: Any) -> str | None:
        """Why ``value`` is refused, or ``None`` when it is acceptable."""
        problem = _CHECKS[self.type](self, value)
        if problem is None:
            return None
        return f"must be {problem}, got {_shown(value)}"

    def json_schema(self) -> dict[str, Any]:
        schema = dict(_SCHEMAS[self.type](self))
        if self.help:
            schema["description"] = self.help
        if self.default is not REQUIRED and self.default is not INFER:
            schema["default"] = self.default
        return schema


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bound(param: ParamDef) -> str:
    if param.minimum is not None and param.maximum is not None:
        return f" from {param.minimum:g} to {param.maximum:g}"
    if param.minimum is not None:
        return f" (at least {param.minimum:g})"
    return f" (at most {param.maximum:g})" if param.maximum is not None else ""


def _in_range(param: ParamDef, value: Any) -> bool:
    return (param.minimum is None or value >= param.minimum) and (param.maximum is None or value <= param.maximum)


def _int_ok(param: ParamDef, value: Any) -> bool:
    return _is_int(value) and _in_range(param, value)


def _check_int(param: ParamDef, value: Any) -> str | None:
    return None if _int_ok(param, value) else f"an integer{_bound(param)}"


def _check_float(param: ParamDef, value: Any) -> str | None:
    ok = _is_number(value) and _in_range(param, value)
    return None if ok else f"a number{_bound(param)}"


def _check_bool(param: ParamDef, value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _check_choice(param: ParamDef, value: Any) -> str | None:
    return None if value in param.choices and type(value) is type(param.choices[0]) else (
        "one of " + ", ".join(repr(choice) for choice in param.choices)
    )


def _ints_ok(param: ParamDef, value: Any) -> bool:
    if _int_ok(param, value):
        return True
    return isinstance(value, list) and 1 <= len(value) <= 3 and all(_int_ok(param, item) for item in value)


def _check_ints(param: ParamDef, value: Any) -> str | None:
    return None if _ints_ok(param, value) else f"an integer or a list of 1 to 3 integers{_bound(param)}"


def _check_padding(param: ParamDef, value: Any) -> str | None:
    return None if value in ("same", "valid") or _ints_ok(param, value) else (
        f"an integer, a list of integers{_bound(param)}, 'same' or 'valid'"
    )


def _check_int_list(param: ParamDef, value: Any) -> str | None:
    ok = isinstance(value, list) and len(value) <= 16 and all(_is_int(item) for item in value)
    return None if ok else "a list of at most 16 integers"


def _check_dims(param: ParamDef, value: Any) -> str | None:
    ok = value is None or _is_int(value) or (isinstance(value, list) and value and all(_is_int(item) for item in value))
    return None if ok else "an integer, a non-empty list of integers, or null (all dims)"


def _check_optional_int(param: ParamDef, value: Any) -> str | None:
    return None if value is None or _int_ok(param, value) else f"an integer{_bound(param)} or null"


def _check_optional_ints(param: ParamDef, value: Any) -> str | None:
    return None if value is None or _ints_ok(param, value) else f"an integer, a list of integers{_bound(param)}, or null"


def _check_size(param: ParamDef, value: Any) -> str | None:
    if _int_ok(param, value):
        return None
    ok = isinstance(value, list) and 1 <= len(value) <= 3 and all(item is None or _int_ok(param, item) for item in value)
    return None if ok else f"an integer{_bound(param)} or a list of them (null keeps that input size)"


def _check_optional_float(param: ParamDef, value: Any) -> str | None:
    ok = value is None or (_is_number(value) and _in_range(param, value))
    return None if ok else f"a number{_bound(param)} or null"


def _check_sections(param: ParamDef, value: Any) -> str | None:
    if _is_int(value) and value >= 1:
        return None
    ok = isinstance(value, list) and 1 <= len(value) <= 256 and all(_is_int(item) and item >= 0 for item in value)
    return None if ok else "a positive integer (the size of each part) or a list of part sizes"


def _check_name(param: ParamDef, value: Any) -> str | None:
    if value is None and param.default is None:
        return None
    ok = isinstance(value, str) and len(value) <= 100 and _IDENTIFIER.match(value) is not None
    return None if ok else "a name of letters, digits and underscores"


def _check_path(param: ParamDef, value: Any) -> str | None:
    if value is None and param.default is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 300 or "\x00" in value:
        return "a relative path of at most 300 characters"
    if value.startswith(("/", "~")) or "\\" in value or re.match(r"^[A-Za-z]:", value):
        return "a relative path with forward slashes (no absolute path, drive or home folder)"
    if any(part == ".." for part in value.split("/")):
        return "a path inside the spec's folder (no '..')"
    return None


_CHECKS = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "choice": _check_choice,
    "ints": _check_ints,
    "padding": _check_padding,
    "int_list": _check_int_list,
    "dims": _check_dims,
    "optional_int": _check_optional_int,
    "optional_ints": _check_optional_ints,
    "size": _check_size,
    "optional_float": _check_optional_float,
    "sections": _check_sections,
    "name": _check_name,
    "path": _check_path,
}


def _int_schema(param: ParamDef) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if param.minimum is not None:
        schema["minimum"] = int(param.minimum)
    if param.maximum is not None:
        schema["maximum"] = int(param.maximum)
    return schema


def _ints_schema(param: ParamDef) -> dict[str, Any]:
    return {"anyOf": [_int_schema(param), {"type": "array", "items": _int_schema(param), "minItems": 1, "maxItems": 3}]}


def _float_schema(param: ParamDef) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    return schema


def _nullable(param: ParamDef, schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]} if param.default is None else schema


_SCHEMAS = {
    "int": _int_schema,
    "float": _float_schema,
    "bool": lambda param: {"type": "boolean"},
    "choice": lambda param: {"enum": list(param.choices)},
    "ints": _ints_schema,
    "padding": lambda param: {"anyOf": [*_ints_schema(param)["anyOf"], {"enum": ["same", "valid"]}]},
    "int_list": lambda param: {"type": "array", "items": {"type": "integer"}, "maxItems": 16},
    "dims": lambda param: {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 1}, {"type": "null"}]},
    "optional_int": lambda param: {"anyOf": [_int_schema(param), {"type": "null"}]},
    "optional_ints": lambda param: {"anyOf": [*_ints_schema(param)["anyOf"], {"type": "null"}]},
    "size": lambda param: {"anyOf": [_int_schema(param), {"type": "array", "items": {"anyOf": [_int_schema(param), {"type": "null"}]}, "minItems": 1, "maxItems": 3}]},
    "optional_float": lambda param: {"anyOf": [_float_schema(param), {"type": "null"}]},
    "sections": lambda param: {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}]},
    "name": lambda param: _nullable(param, {"type": "string", "pattern": _IDENTIFIER.pattern}),
    "path": lambda param: _nullable(param, {"type": "string", "minLength": 1, "maxLength": 300}),
}
