"""JSON Schema checks that cost no import time when the document is valid.

A compiled validator (fastjsonschema) checks the document and stops at the first problem; only a
document with problems goes through jsonschema, which lists every problem with its path. Importing
jsonschema costs over a second (three on a slow machine) where its optional IRI checker
(rfc3987-syntax) is installed, which every command reading a pipeline or a market index would
otherwise pay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_COMPILED: dict[int, tuple[dict[str, Any], Callable[[Any], Any]]] = {}
_LOCK = threading.Lock()


def _compiled(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """The compiled validator of ``schema`` (a module constant: cached by identity, kept alive here)."""
    with _LOCK:
        entry = _COMPILED.get(id(schema))
        if entry is None or entry[0] is not schema:
            import fastjsonschema

            entry = (schema, fastjsonschema.compile(schema))
            _COMPILED[id(schema)] = entry
        return entry[1]


def schema_errors(schema: dict[str, Any], data: Any) -> list[Any]:
    """Every ``jsonschema.ValidationError`` of ``data`` under ``schema``, sorted by path; none when valid."""
    import fastjsonschema

    try:
        _compiled(schema)(data)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return []
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.absolute_path)))
