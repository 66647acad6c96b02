"""Field scopes: which fields a model sees, at compile time (types) and at evaluation time (values).

A :class:`Scope` knows the type of every field visible to a model: the data dictionary, the
transformation dictionary, the model's local transformations, and (inside a model chain) the
output fields of earlier segments. A :class:`Context` holds the values of those fields for one
batch of rows; derived fields are computed on first use and kept. A context can narrow to a subset
of rows (the rows a segment's predicate selects); values then come from its parent, taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tidal.models._pmml._document import PmmlInvalid
from tidal.models._pmml._values import Column, cast


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    optype: str = "continuous"
    categories: tuple[str, ...] = ()  # valid values in document order (an ordinal field's order), as text


@dataclass
class Scope:
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    parent: Scope | None = None
    definitions: dict[str, Callable[[Context], Column]] = field(default_factory=dict)

    def lookup(self, name: str, where: str = "") -> FieldInfo:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.fields:
                return scope.fields[name]
            scope = scope.parent
        raise PmmlInvalid(f"field '{name}'{' used by ' + where if where else ''} is not defined in the PMML document")

    def child(self) -> Scope:
        return Scope(parent=self)

    def define(self, info: FieldInfo, compute: Callable[[Context], Column] | None = None) -> None:
        self.fields[info.name] = info
        if compute is not None:
            self.definitions[info.name] = compute


class Context:
    """Values of the fields of one :class:`Scope` over a batch of rows."""

    def __init__(self, size: int, scope: Scope, parent: Context | None = None,
                 rows: np.ndarray | None = None, values: dict[str, Column] | None = None) -> None:
        self.size = size
        self.scope = scope
        self.parent = parent
        self.rows = rows  # which of the parent's rows this context holds (None: all of them)
        self.values: dict[str, Column] = dict(values or {})

    def get(self, name: str) -> Column:
        found = self.values.get(name)
        if found is not None:
            return found
        compute = self.scope.definitions.get(name)
        if compute is not None and name in self.scope.fields:
            column = cast(compute(self), self.scope.fields[name].type)
        elif self.parent is not None:
            column = self.parent.get(name)
            if self.rows is not None:
                column = column.take(self.rows)
        else:
            raise PmmlInvalid(f"field '{name}' has no value: it is neither an input nor a derived field")
        self.values[name] = column
        return column

    def declare(self, name: str, column: Column) -> None:
        self.values[name] = column

    def enter(self, scope: Scope) -> Context:
        """A context for a nested scope (a segment's model) over the same rows."""
        return Context(self.size, scope, self)

    def subset(self, rows: np.ndarray) -> Context:
        """The same scope over some of the rows."""
        return Context(len(rows), Scope(parent=self.scope), self, rows)
