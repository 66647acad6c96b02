"""Derived fields: ``TransformationDictionary``, ``LocalTransformations`` and their expressions.

Supported expressions: ``Constant``, ``FieldRef``, ``Apply`` (the built-in functions of
:mod:`._functions`, with ``mapMissingTo``, ``defaultValue`` and ``invalidValueTreatment``),
``NormContinuous``, ``NormDiscrete``, ``Discretize`` and ``MapValues``. Any other expression
(``Aggregate``, ``Lag``, ``TextIndex``, user ``DefineFunction`` s) is refused at load.

Each expression compiles into an object with a result ``type`` and ``evaluate(context)``, which
computes the whole column at once.
"""

from __future__ import annotations

import numpy as np

from tidal.models._pmml._context import Context, FieldInfo, Scope
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._functions import FUNCTIONS, EvaluationFailed
from tidal.models._pmml._values import (
    DOUBLE,
    STRING,
    Column,
    cast,
    check_type,
    constant_type,
    equals_text,
    typed_constant,
)

EXPRESSIONS = ("Constant", "FieldRef", "Apply", "NormContinuous", "NormDiscrete", "Discretize", "MapValues")


class Expression:
    type: str = DOUBLE

    def evaluate(self, context: Context) -> Column:
        raise NotImplementedError


class Constant(Expression):
    def __init__(self, element: Element) -> None:
        text = element.text.strip()
        self.type = check_type(element.get("dataType") or constant_type(text), element.describe())
        missing = element.get("missing", "false") == "true"
        self.value = None if missing else typed_constant(text, self.type, element.describe())

    def evaluate(self, context: Context) -> Column:
        return Column.constant(self.type, self.value, context.size)


def _missing_replacement(element: Element, attribute: str) -> tuple[str, object] | None:
    text = element.get(attribute)
    if text is None:
        return None
    type = constant_type(text)
    return type, typed_constant(text, type, element.describe())


def _replace_missing(column: Column, replacement: tuple[str, object] | None, type: str | None = None) -> Column:
    if replacement is None or not column.missing.any():
        return column
    rows = np.flatnonzero(column.missing)
    if type is not None and column.type != type:
        column = cast(column, type)
    filler = cast(Column.constant(replacement[0], replacement[1], len(rows)), column.type)
    return column.fill(rows, filler)


class FieldRef(Expression):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.name = element.require("field")
        self.type = scope.lookup(self.name, element.describe()).type
        self.map_missing = _missing_replacement(element, "mapMissingTo")

    def evaluate(self, context: Context) -> Column:
        return _replace_missing(context.get(self.name), self.map_missing)


class Apply(Expression):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.name = element.require("function")
        self.where = element.describe()
        if self.name not in FUNCTIONS and self.name != "if":
            raise PmmlUnsupported(f"PMML function '{self.name}' of <Apply> is not supported by Tidal's evaluator")
        self.arguments = [compile_expression(child, scope) for child in element.element_children()]
        if self.name != "if":
            function = FUNCTIONS[self.name]
            count = len(self.arguments)
            if count < function.min_args or (function.max_args is not None and count > function.max_args):
                raise PmmlInvalid(f"{self.where} has {count} argument(s), which '{self.name}' does not take")
        elif not 2 <= len(self.arguments) <= 3:
            raise PmmlInvalid(f"{self.where}: 'if' takes a condition and one or two values")
        self.map_missing = _missing_replacement(element, "mapMissingTo")
        self.default = _missing_replacement(element, "defaultValue")
        self.invalid = element.choice("invalidValueTreatment", "returnInvalid", ("returnInvalid", "asIs", "asMissing"))
        self.type = self._result_type()

    def _result_type(self) -> str:
        if self.name == "if":
            return self.arguments[1].type
        probe = [Column.empty(argument.type, 1) for argument in self.arguments]
        try:
            return FUNCTIONS[self.name].apply(probe).type
        except PmmlInvalid as error:
            raise PmmlInvalid(f"{self.where}: {error}") from None

    def evaluate(self, context: Context) -> Column:
        if self.name == "if":
            return self._if(context)
        arguments = [argument.evaluate(context) for argument in self.arguments]
        function = FUNCTIONS[self.name]
        any_missing = np.zeros(context.size, dtype=bool)
        for argument in arguments:
            any_missing |= argument.missing
        try:
            result = function.apply(arguments)
        except EvaluationFailed:
            if self.invalid != "asMissing":
                raise
            result = Column.empty(self.type, context.size)
        if self.default is not None:
            result = _fill(result, result.missing & ~any_missing, self.default)
        if self.map_missing is not None:
            result = _fill(result, any_missing, self.map_missing)
        return result

    def _if(self, context: Context) -> Column:
        condition = self.arguments[0].evaluate(context)
        size = context.size
        chosen_true = ~condition.missing & (np.where(condition.missing, 0, condition.values.astype(np.float64)) != 0)
        chosen_false = ~condition.missing & ~chosen_true
        result = Column.empty(self.type, size)
        for rows_mask, argument in ((chosen_true, self.arguments[1]),
                                    (chosen_false, self.arguments[2] if len(self.arguments) == 3 else None)):
            rows = np.flatnonzero(rows_mask)
            if argument is None or not len(rows):
                continue
            value = argument.evaluate(context.subset(rows))
            result = result.fill(rows, value)
        if self.map_missing is not None:
            result = _replace_missing(result, self.map_missing)
        if self.default is not None:
            result = _replace_missing(result, self.default)
        return result


class NormContinuous(Expression):
    type = DOUBLE

    def __init__(self, element: Element, scope: Scope) -> None:
        self.name = element.require("field")
        scope.lookup(self.name, element.describe())
        norms = element.findall("LinearNorm")
        if len(norms) < 2:
            raise PmmlInvalid(f"{element.describe()} needs at least two <LinearNorm> elements")
        self.original = np.array([norm.number("orig") for norm in norms])
        self.normalized = np.array([norm.number("norm") for norm in norms])
        if np.any(np.diff(self.original) <= 0):
            raise PmmlInvalid(f"{element.describe()}: LinearNorm orig values must increase")
        self.outliers = element.choice("outliers", "asIs", ("asIs", "asMissingValues", "asExtremeValues"))
        self.map_missing = _missing_replacement(element, "mapMissingTo")

    def evaluate(self, context: Context) -> Column:
        column = context.get(self.name)
        x = column.values.astype(np.float64)
        segment = np.clip(np.searchsorted(self.original, x, side="right") - 1, 0, len(self.original) - 2)
        start, end = self.original[segment], self.original[segment + 1]
        low, high = self.normalized[segment], self.normalized[segment + 1]
        with np.errstate(all="ignore"):
            values = low + (x - start) / (end - start) * (high - low)
        missing = column.missing.copy()
        below, above = x < self.original[0], x > self.original[-1]
        if self.outliers == "asMissingValues":
            missing |= below | above
        elif self.outliers == "asExtremeValues":
            values = np.where(below, self.normalized[0], np.where(above, self.normalized[-1], values))
        values[missing] = np.nan
        result = Column(DOUBLE, values, missing)
        return _replace_missing(result, self.map_missing)


class NormDiscrete(Expression):
    type = DOUBLE

    def __init__(self, element: Element, scope: Scope) -> None:
        self.name = element.require("field")
        scope.lookup(self.name, element.describe())
        self.value = element.require("value")
        self.where = element.describe()
        self.map_missing = _missing_replacement(element, "mapMissingTo")

    def evaluate(self, context: Context) -> Column:
        column = context.get(self.name)
        values = equals_text(column, self.value, self.where).astype(np.float64)
        values[column.missing] = np.nan
        return _replace_missing(Column(DOUBLE, values, column.missing.copy()), self.map_missing)


class Interval:
    def __init__(self, element: Element) -> None:
        self.closure = element.choice("closure", "closedClosed",
                                      ("openOpen", "openClosed", "closedOpen", "closedClosed"))
        self.left = element.number("leftMargin", float("-inf"))
        self.right = element.number("rightMargin", float("inf"))

    def contains(self, x: np.ndarray) -> np.ndarray:
        left = x >= self.left if self.closure.startswith("closed") else x > self.left
        right = x <= self.right if self.closure.endswith("Closed") else x < self.right
        return left & right


class Discretize(Expression):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.name = element.require("field")
        scope.lookup(self.name, element.describe())
        bins = element.findall("DiscretizeBin")
        labels = [bin.require("binValue") for bin in bins]
        self.type = check_type(element.get("dataType") or (constant_type(labels[0]) if labels else STRING),
                               element.describe())
        self.bins = [(Interval(bin.find("Interval") or _missing_child(bin, "Interval")),
                      typed_constant(label, self.type, bin.describe())) for bin, label in zip(bins, labels, strict=True)]
        self.map_missing = _missing_replacement(element, "mapMissingTo")
        self.default = _missing_replacement(element, "defaultValue")

    def evaluate(self, context: Context) -> Column:
        column = context.get(self.name)
        x = column.values.astype(np.float64)
        result = Column.empty(self.type, context.size)
        pending = ~column.missing
        for interval, label in self.bins:
            hit = pending & interval.contains(x)
            if hit.any():
                rows = np.flatnonzero(hit)
                result = result.fill(rows, Column.constant(self.type, label, len(rows)))
                pending &= ~hit
        if self.default is not None and pending.any():
            rows = np.flatnonzero(pending)
            result = result.fill(rows, cast(Column.constant(self.default[0], self.default[1], len(rows)), self.type))
        if self.map_missing is not None and column.missing.any():
            rows = np.flatnonzero(column.missing)
            filler = cast(Column.constant(self.map_missing[0], self.map_missing[1], len(rows)), self.type)
            result = result.fill(rows, filler)
        return result


def column_key(name: str) -> str:
    """An InlineTable column as the parser names it (without a namespace prefix such as ``data:``)."""
    return name.rsplit(":", 1)[-1]


class MapValues(Expression):
    def __init__(self, element: Element, scope: Scope) -> None:
        self.pairs = [(pair.require("field"), column_key(pair.require("column")))
                      for pair in element.findall("FieldColumnPair")]
        for name, _ in self.pairs:
            scope.lookup(name, element.describe())
        output = column_key(element.require("outputColumn"))
        self.type = check_type(element.get("dataType"), element.describe(), default=STRING)
        table = element.find("InlineTable")
        if table is None:
            raise PmmlUnsupported(f"{element.describe()} without an <InlineTable> (a TableLocator) is not supported "
                                  "by Tidal's evaluator")
        self.rows: list[tuple[list[str], object]] = []
        for row in table.findall("row"):
            cells = {cell.use().tag: cell.text.strip() for cell in row.children}
            if output not in cells or any(column not in cells for _, column in self.pairs):
                continue
            self.rows.append(([cells[column] for _, column in self.pairs],
                              typed_constant(cells[output], self.type, element.describe())))
        self.where = element.describe()
        self.map_missing = _missing_replacement(element, "mapMissingTo")
        self.default = _missing_replacement(element, "defaultValue")

    def evaluate(self, context: Context) -> Column:
        columns = [context.get(name) for name, _ in self.pairs]
        any_missing = np.zeros(context.size, dtype=bool)
        for column in columns:
            any_missing |= column.missing
        result = Column.empty(self.type, context.size)
        pending = ~any_missing
        for keys, value in self.rows:
            hit = pending.copy()
            for column, key in zip(columns, keys, strict=True):
                hit &= equals_text(column, key, self.where)
            if hit.any():
                rows = np.flatnonzero(hit)
                result = result.fill(rows, Column.constant(self.type, value, len(rows)))
                pending &= ~hit
        for mask, replacement in ((pending, self.default), (any_missing, self.map_missing)):
            if replacement is not None and mask.any():
                rows = np.flatnonzero(mask)
                result = result.fill(rows, cast(Column.constant(replacement[0], replacement[1], len(rows)), self.type))
        return result


def _fill(column: Column, mask: np.ndarray, replacement: tuple[str, object]) -> Column:
    if not mask.any():
        return column
    rows = np.flatnonzero(mask)
    return column.fill(rows, cast(Column.constant(replacement[0], replacement[1], len(rows)), column.type))


def _missing_child(element: Element, tag: str) -> Element:
    raise PmmlInvalid(f"{element.describe()} lacks its <{tag}> element")


def compile_expression(element: Element, scope: Scope) -> Expression:
    element.use()
    tag = element.tag
    if tag == "Constant":
        return Constant(element)
    if tag == "FieldRef":
        return FieldRef(element, scope)
    if tag == "Apply":
        return Apply(element, scope)
    if tag == "NormContinuous":
        return NormContinuous(element, scope)
    if tag == "NormDiscrete":
        return NormDiscrete(element, scope)
    if tag == "Discretize":
        return Discretize(element, scope)
    if tag == "MapValues":
        return MapValues(element, scope)
    raise PmmlUnsupported(f"PMML element <{tag}> is not supported by Tidal's evaluator (supported expressions: "
                          f"{', '.join(EXPRESSIONS)})")


def expression_of(element: Element) -> Element:
    """The single expression child of a DerivedField or OutputField."""
    children = [child for child in element.element_children() if child.tag not in ("Value",)]
    if len(children) != 1:
        raise PmmlInvalid(f"{element.describe()} must hold exactly one expression, found {len(children)}")
    return children[0]


def define_derived_fields(container: Element | None, scope: Scope) -> None:
    """Compile the DerivedFields of a TransformationDictionary or LocalTransformations into ``scope``."""
    if container is None:
        return
    for child in container.element_children():
        if child.tag == "DefineFunction":
            raise PmmlUnsupported("PMML element <DefineFunction> is not supported by Tidal's evaluator")
        if child.tag != "DerivedField":
            continue
        child.use()
        name = child.require("name")
        type = check_type(child.get("dataType"), child.describe())
        optype = child.get("optype", "continuous") or "continuous"
        values = tuple(value.require("value") for value in child.findall("Value"))
        expression = compile_expression(expression_of(child), scope)
        scope.define(FieldInfo(name, type, optype, values), expression.evaluate)


__all__ = ["Expression", "Interval", "column_key", "compile_expression", "define_derived_fields", "expression_of"]
