"""The table of layer kinds: every row declared in the family modules, looked up by name."""

from __future__ import annotations

import difflib
import json

from tidal.nn import _kinds_basic, _kinds_sequence, _kinds_spatial, _kinds_tensor
from tidal.nn._kind import LayerKind

#: kind name -> its row, in documentation order
KINDS: dict[str, LayerKind] = {
    kind.name: kind
    for kind in (*_kinds_basic.KINDS, *_kinds_spatial.KINDS, *_kinds_sequence.KINDS, *_kinds_tensor.KINDS)
}


def get_kind(name: str) -> LayerKind | None:
    return KINDS.get(name)


def suggest_kinds(name: str) -> list[str]:
    return difflib.get_close_matches(name, list(KINDS), n=3, cutoff=0.6)


def _default_text(param: object) -> str:
    from tidal.nn._params import INFER, REQUIRED, ParamDef

    assert isinstance(param, ParamDef)
    if param.default is REQUIRED:
        return f"**{param.name}**"
    if param.default is INFER:
        return f"{param.name} (inferred)"
    return f"{param.name}: {json.dumps(param.default)}"


def kinds_markdown() -> str:
    """The layer table of docs/nn.md, generated from the rows (a test keeps the page current)."""
    lines = ["| kind | what it does | inputs | params (**required**) | outputs | PyTorch |",
             "| --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS.values():
        ports = ", ".join(port.name + ("..." if port.variadic else "") + ("?" if port.optional else "") for port in kind.inputs)
        params = ", ".join(_default_text(param) for param in kind.params) or "none"
        outputs = "numbered: .0, .1, ..." if kind.outputs == ("*",) else ", ".join(kind.outputs)
        if kind.nested:
            ports, outputs = "the block's inputs", "the block's outputs"
        form = f"`nn.{kind.torch}`" if kind.torch else (f"`{kind.code}`" if kind.code else "a generated class")
        summary = kind.summary.replace("|", "\\|")
        lines.append(f"| `{kind.name}` | {summary} | {ports} | {params} | {outputs} | {form} |")
    return "\n".join(lines) + "\n"
