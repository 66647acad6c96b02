"""PMML predicates in three-valued logic, evaluated over many rows at once.

A predicate answers TRUE, FALSE or UNKNOWN for each row: a comparison with a missing value is
UNKNOWN, and ``and``/``or``/``xor`` combine answers as PMML (and Kleene) define them; ``surrogate``
takes the first answer that is known. An evaluation returns two boolean masks over the rows asked
about: which are TRUE and which are UNKNOWN (the rest are FALSE).

Comparisons are made in the field's type: a ``float`` field against its threshold in float32, a
``double`` field in float64, an ``integer`` field as whole numbers, strings as text, an ordinal
field by the order of its values in the data dictionary.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from tidal.models._pmml._context import Context, Scope
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._values import STRING, order_against, typed_constant

PREDICATES = ("SimplePredicate", "CompoundPredicate", "SimpleSetPredicate", "True", "False")
Masks = tuple[np.ndarray, np.ndarray]
ORDERINGS: dict[str, Callable[[Any, Any], Any]] = {
    "lessThan": operator.lt, "lessOrEqual": operator.le, "greaterThan": operator.gt, "greaterOrEqual": operator.ge,
}


def _rows(context: Context, rows: np.ndarray | None) -> int:
    return context.size if rows is None else len(rows)


class Predicate:
    def evaluate(self, context: Context, rows: np.ndarray | None = None) -> Masks:
        raise NotImplementedError


class Constant(Predicate):
    def __init__(self, value: bool) -> None:
        self.value = value

    def evaluate(self, context: Context, rows: np.ndarray | None = None) -> Masks:
        size = _rows(context, rows)
        return np.full(size, self.value), np.zeros(size, dtype=bool)


class SimplePredicate(Predicate):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.field = element.require("field")
        info = scope.lookup(self.field, element.describe())
        self.operator = element.choice("operator", "", ("equal", "notEqual", "lessThan", "lessOrEqual",
                                                        "greaterThan", "greaterOrEqual", "isMissing", "isNotMissing"))
        text = element.get("value")
        where = element.describe()
        if self.operator in ("isMissing", "isNotMissing"):
            self.constant: Any = None
            self.categories: tuple[str, ...] = ()
            return
        if text is None:
            raise PmmlInvalid(f"{where} with operator '{self.operator}' lacks the attribute 'value'")
        if info.optype == "categorical" and self.operator in ORDERINGS:
            raise PmmlInvalid(f"{where} orders the categorical field '{self.field}' ({self.operator}); "
                              "only continuous and ordinal fields can be compared that way")
        self.categories = info.categories if info.optype == "ordinal" and self.operator in ORDERINGS else ()
        if self.categories:
            self.constant = text
        else:
            self.constant = text if info.type == STRING else typed_constant(text, info.type, where)
        self.where = where

    def evaluate(self, context: Context, rows: np.ndarray | None = None) -> Masks:
        column = context.get(self.field)
        if rows is not None:
            values, missing = column.values[rows], column.missing[rows]
        else:
            values, missing = column.values, column.missing
        if self.operator == "isMissing":
            return missing.copy(), np.zeros(len(missing), dtype=bool)
        if self.operator == "isNotMissing":
            return ~missing, np.zeros(len(missing), dtype=bool)
        if self.categories:
            ranks, constant = order_against(column.take(rows) if rows is not None else column, self.constant,
                                            self.where, self.categories)
            with np.errstate(invalid="ignore"):
                return ORDERINGS[self.operator](ranks, constant) & ~missing, missing
        if column.type == STRING and self.operator in ORDERINGS:
            present = ~missing
            result = np.zeros(len(values), dtype=bool)
            result[present] = [ORDERINGS[self.operator](value, self.constant) for value in values[present]]
            return result, missing
        with np.errstate(invalid="ignore"):
            if self.operator == "equal":
                result = values == self.constant
            elif self.operator == "notEqual":
                result = values != self.constant
            else:
                result = ORDERINGS[self.operator](values, self.constant)
        return np.asarray(result, dtype=bool) & ~missing, missing


def parse_array(element: Element) -> list[str]:
    """The items of a PMML ``<Array>``: whitespace-separated, double-quoted when they hold spaces."""
    items = [match.group(1).replace('\\"', '"') if match.group(1) is not None else match.group(2)
             for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', element.text)]
    count = element.get("n")
    if count is not None and int(count) != len(items):
        raise PmmlInvalid(f"{element.describe()} declares n={count} but holds {len(items)} values")
    element.get("type")
    return items


class SimpleSetPredicate(Predicate):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.field = element.require("field")
        info = scope.lookup(self.field, element.describe())
        self.inside = element.choice("booleanOperator", "", ("isIn", "isNotIn")) == "isIn"
        array = element.find("Array")
        if array is None:
            raise PmmlInvalid(f"{element.describe()} lacks its <Array>")
        items = parse_array(array)
        members = items if info.type == STRING else [typed_constant(item, info.type, element.describe()) for item in items]
        self.members = np.array(members, dtype=object if info.type == STRING else None)

    def evaluate(self, context: Context, rows: np.ndarray | None = None) -> Masks:
        column = context.get(self.field)
        values, missing = (column.values[rows], column.missing[rows]) if rows is not None else (column.values,
                                                                                                  column.missing)
        found = np.isin(values, self.members) if len(self.members) else np.zeros(len(values), dtype=bool)
        return (found == self.inside) & ~missing, missing


class CompoundPredicate(Predicate):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.operator = element.choice("booleanOperator", "", ("and", "or", "xor", "surrogate"))
        self.parts = [compile_predicate(child, scope) for child in element.element_children()]
        if len(self.parts) < 2:
            raise PmmlInvalid(f"{element.describe()} needs at least two predicates")

    def evaluate(self, context: Context, rows: np.ndarray | None = None) -> Masks:
        true, unknown = self.parts[0].evaluate(context, rows)
        for part in self.parts[1:]:
            if self.operator == "surrogate":
                if not unknown.any():
                    break
                more_true, more_unknown = part.evaluate(context, rows)
                true = np.where(unknown, more_true, true)
                unknown = unknown & more_unknown
                continue
            more_true, more_unknown = part.evaluate(context, rows)
            false, more_false = ~true & ~unknown, ~more_true & ~more_unknown
            if self.operator == "and":
                true, false = true & more_true, false | more_false
            elif self.operator == "or":
                true, false = true | more_true, false & more_false
            else:
                unknown = unknown | more_unknown
                true = (true ^ more_true) & ~unknown
                continue
            unknown = ~true & ~false
        return true, unknown


def compile_predicate(element: Element, scope: Scope) -> Predicate:
    element.use()
    if element.tag == "True":
        return Constant(True)
    if element.tag == "False":
        return Constant(False)
    if element.tag == "SimplePredicate":
        return SimplePredicate(element, scope)
    if element.tag == "SimpleSetPredicate":
        return SimpleSetPredicate(element, scope)
    if element.tag == "CompoundPredicate":
        return CompoundPredicate(element, scope)
    raise PmmlUnsupported(f"PMML element <{element.tag}> is not supported by Tidal's evaluator "
                          f"(supported predicates: {', '.join(PREDICATES)})")


def predicate_of(element: Element, scope: Scope) -> Predicate:
    """The predicate child of a Node, Segment or rule."""
    for child in element.children:
        if child.tag in PREDICATES:
            return compile_predicate(child, scope)
    for child in element.children:
        if child.tag.endswith("Predicate"):
            return compile_predicate(child, scope)
    raise PmmlInvalid(f"{element.describe()} has no predicate")
