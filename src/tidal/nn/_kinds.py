"""The table of layer kinds: every row declared in the family modules, looked up by name."""

from __future__ import annotations

import difflib

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
