"""The published JSON Schema of network files (``docs/nn.schema.json``), generated.

The structure comes from the pydantic spec model; on top of it each layer ``kind`` is an enum
of the kinds table, and each kind's ``params`` get that kind's parameter schema (``if kind ==
... then params: ...``), so an editor can complete and check parameters as it does keys.
"""

from __future__ import annotations

from typing import Any

from tidal.nn._kinds import KINDS
from tidal.nn._spec import ID_PATTERN, NetworkSpec


def _tighten_names(node: Any) -> None:
    """pydantic writes constrained mapping keys as ``patternProperties``, which lets other keys
    through; state them as ``propertyNames`` so other keys are refused."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and list(patterns) == [ID_PATTERN] and "additionalProperties" not in node:
            node["additionalProperties"] = patterns.pop(ID_PATTERN)
            del node["patternProperties"]
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": ID_PATTERN}
        for value in node.values():
            _tighten_names(value)
    elif isinstance(node, list):
        for value in node:
            _tighten_names(value)


def build_schema() -> dict[str, Any]:
    generated = NetworkSpec.model_json_schema(by_alias=True)
    _tighten_names(generated)
    layer = generated["$defs"]["LayerSpec"]
    layer["properties"]["kind"] = {"enum": list(KINDS), "description": "the layer kind; see docs/nn.md"}
    layer["allOf"] = [
        {"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
         "then": {"properties": {"params": kind.params_schema()}}}
        for name, kind in KINDS.items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tidal.dev/schema/nn-1.json",
        **{key: value for key, value in generated.items() if key != "title"},
        "title": "Tidal network",
    }


#: JSON Schema (draft 2020-12) of a ``tidal-nn: 1`` file
NETWORK_SCHEMA: dict[str, Any] = build_schema()


if __name__ == "__main__":  # python -m tidal.nn._schema > docs/nn.schema.json
    import json

    print(json.dumps(NETWORK_SCHEMA, indent=2))
