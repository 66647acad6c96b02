"""PMML's built-in functions for ``<Apply>``, vectorised over columns.

Each function takes the argument columns and returns a column. Unless a function tolerates missing
values (``isMissing``, ``isNotMissing``, the aggregates, ``if``), a row with any missing argument
gives a missing result. Result types follow JPMML: arithmetic keeps the common numeric type of its
arguments (integer arithmetic stays integer, ``/`` included, truncating as Java does), the
``double`` maths functions give doubles, rounding gives integers, comparisons give booleans.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from tidal.models._pmml._document import PmmlInvalid
from tidal.models._pmml._values import (
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INTEGER,
    NUMERIC_TYPES,
    STRING,
    Column,
    cast,
)


class EvaluationFailed(PmmlInvalid):
    """A function could not be applied to a row's values (a division by zero, a log of a negative)."""


def common_type(left: str, right: str) -> str:
    """JPMML's common numeric type of two arguments."""
    if left == right and left in NUMERIC_TYPES:
        return left
    pair = {left, right}
    if pair <= {DOUBLE, FLOAT, INTEGER}:
        return DOUBLE if DOUBLE in pair else FLOAT
    raise PmmlInvalid(f"arithmetic on {left} and {right} values is not defined")


def _numbers(column: Column) -> np.ndarray:
    if column.type == STRING:
        raise PmmlInvalid("a string value is used where a number is required")
    return column.values.astype(np.float64)


def _result(type: str, values: np.ndarray, missing: np.ndarray) -> Column:
    values = values.astype(np.float64)
    values[missing] = np.nan
    if type == INTEGER:
        values = np.where(missing, np.nan, np.trunc(values))
    return cast(Column(DOUBLE, values, missing.copy()), type) if type != DOUBLE else Column(DOUBLE, values, missing.copy())


def _any_missing(args: list[Column]) -> np.ndarray:
    missing = np.zeros(len(args[0]), dtype=bool)
    for arg in args:
        missing |= arg.missing
    return missing


# -- arithmetic -----------------------------------------------------------------------------------
def _arithmetic(operator: str) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        left, right = args
        type = common_type(left.type, right.type)
        missing = left.missing | right.missing
        a, b = _numbers(left), _numbers(right)
        with np.errstate(all="ignore"):
            if operator == "+":
                values = a + b
            elif operator == "-":
                values = a - b
            elif operator == "*":
                values = a * b
            elif type == INTEGER:
                if np.any((b == 0) & ~missing):
                    raise EvaluationFailed("integer division by zero in <Apply function=\"/\">")
                values = np.fix(a / np.where(b == 0, 1, b))
            else:
                values = a / b
        return _result(type, values, missing)

    return apply


def _aggregate(name: str) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        type = args[0].type
        for arg in args[1:]:
            type = common_type(type, arg.type)
        stacked = np.column_stack([np.where(arg.missing, np.nan, _numbers(arg)) for arg in args])
        missing = np.all(np.isnan(stacked), axis=1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if name in ("min", "max"):
                values = (np.nanmin if name == "min" else np.nanmax)(np.where(missing[:, None], 0, stacked), axis=1)
            elif name == "sum":
                values = np.nansum(stacked, axis=1)
            elif name == "product":
                values = np.nanprod(stacked, axis=1)
            elif name == "avg":
                values, type = np.nanmean(np.where(missing[:, None], 0, stacked), axis=1), DOUBLE
            else:
                values, type = np.nanmedian(np.where(missing[:, None], 0, stacked), axis=1), DOUBLE
        return _result(type, values, missing)

    return apply


def _math(function: Callable[[np.ndarray], np.ndarray], keep_type: bool = False,
          rounding: bool = False) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        (arg,) = args
        with np.errstate(all="ignore"):
            values = function(_numbers(arg))
        type = INTEGER if rounding else (arg.type if keep_type else DOUBLE)
        return _result(type, values, arg.missing.copy())

    return apply


def _pow(args: list[Column]) -> Column:
    base, exponent = args
    missing = base.missing | exponent.missing
    with np.errstate(all="ignore"):
        values = np.power(_numbers(base), _numbers(exponent))
    type = INTEGER if base.type == INTEGER and exponent.type == INTEGER else DOUBLE
    return _result(type, values, missing)


def _threshold(args: list[Column]) -> Column:
    value, limit = args
    missing = value.missing | limit.missing
    return _result(INTEGER, (_numbers(value) > _numbers(limit)).astype(np.float64), missing)


def _java_round(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


def _modulo(args: list[Column]) -> Column:
    left, right = args
    type = common_type(left.type, right.type)
    missing = left.missing | right.missing
    with np.errstate(all="ignore"):
        a, b = _numbers(left), _numbers(right)
        values = np.fmod(a, b)
    return _result(type, values, missing)


# -- comparisons and logic --------------------------------------------------------------------------
def _comparable(left: Column, right: Column) -> tuple[np.ndarray, np.ndarray]:
    if STRING in (left.type, right.type):
        return (cast(left, STRING).values, cast(right, STRING).values)
    type = common_type(left.type, right.type) if left.type != BOOLEAN and right.type != BOOLEAN else DOUBLE
    return cast(left, type).values if left.type != BOOLEAN else left.values, (
        cast(right, type).values if right.type != BOOLEAN else right.values)


def _compare(operator: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        left, right = args
        missing = left.missing | right.missing
        a, b = _comparable(left, right)
        present = ~missing
        values = np.zeros(len(a), dtype=np.float64)
        values[present] = operator(a[present], b[present])
        return _result(BOOLEAN, values, missing)

    return apply


def _logical(name: str) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        missing = _any_missing(args)
        truth = [np.where(arg.missing, 0.0, _numbers(arg)) != 0 for arg in args]
        if name == "not":
            values = ~truth[0]
        elif name == "and":
            values = np.logical_and.reduce(truth)
        elif name == "or":
            values = np.logical_or.reduce(truth)
        else:
            values = np.logical_xor.reduce(truth)
        return _result(BOOLEAN, values.astype(np.float64), missing)

    return apply


def _is_in(negate: bool) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        value, *members = args
        missing = value.missing
        found = np.zeros(len(value), dtype=bool)
        for member in members:
            a, b = _comparable(value, member)
            found |= (a == b) & ~member.missing
        return _result(BOOLEAN, (found != negate).astype(np.float64), missing)

    return apply


def _missing_test(want_missing: bool) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        (arg,) = args
        flags = arg.missing if want_missing else ~arg.missing
        return Column(BOOLEAN, flags.astype(np.float64), np.zeros(len(arg), dtype=bool))

    return apply


# -- strings ---------------------------------------------------------------------------------------
def _strings(function: Callable[..., str | None]) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        missing = _any_missing(args)
        texts = [cast(arg, STRING).values if arg.type == STRING else arg.values for arg in args]
        values = np.full(len(args[0]), None, dtype=object)
        for row in np.flatnonzero(~missing):
            values[row] = function(*(text[row] for text in texts))
        return Column(STRING, values, missing | np.array([value is None for value in values], dtype=bool))

    return apply


def _substring(text: str, start: float, length: float) -> str:
    begin = int(start) - 1
    return text[begin: begin + int(length)]


def _matches(text: str, pattern: str) -> str:
    return "true" if re.search(pattern, text) else "false"


def _booleans_from_text(column: Column) -> Column:
    return Column(BOOLEAN, np.array([np.nan if value is None else float(value == "true") for value in column.values]),
                  column.missing)


# -- distributions ---------------------------------------------------------------------------------
def _normal(kind: str) -> Callable[[list[Column]], Column]:
    def apply(args: list[Column]) -> Column:
        missing = _any_missing(args)
        x = _numbers(args[0])
        mean, deviation = (_numbers(args[1]), _numbers(args[2])) if len(args) == 3 else (0.0, 1.0)
        with np.errstate(all="ignore"):
            if kind == "cdf":
                values = special.ndtr((x - mean) / deviation)
            elif kind == "pdf":
                z = (x - mean) / deviation
                values = np.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * deviation)
            else:
                values = special.ndtri(x) * deviation + mean
        return _result(DOUBLE, values, missing)

    return apply


@dataclass(frozen=True)
class Function:
    apply: Callable[[list[Column]], Column]
    min_args: int
    max_args: int | None
    tolerates_missing: bool = False


FUNCTIONS: dict[str, Function] = {
    "+": Function(_arithmetic("+"), 2, 2),
    "-": Function(_arithmetic("-"), 2, 2),
    "*": Function(_arithmetic("*"), 2, 2),
    "/": Function(_arithmetic("/"), 2, 2),
    "min": Function(_aggregate("min"), 1, None, True),
    "max": Function(_aggregate("max"), 1, None, True),
    "sum": Function(_aggregate("sum"), 1, None, True),
    "avg": Function(_aggregate("avg"), 1, None, True),
    "median": Function(_aggregate("median"), 1, None, True),
    "product": Function(_aggregate("product"), 1, None, True),
    "log10": Function(_math(np.log10), 1, 1),
    "ln": Function(_math(np.log), 1, 1),
    "sqrt": Function(_math(np.sqrt), 1, 1),
    "exp": Function(_math(np.exp), 1, 1),
    "expm1": Function(_math(np.expm1), 1, 1),
    "ln1p": Function(_math(np.log1p), 1, 1),
    "sin": Function(_math(np.sin), 1, 1),
    "cos": Function(_math(np.cos), 1, 1),
    "tan": Function(_math(np.tan), 1, 1),
    "asin": Function(_math(np.arcsin), 1, 1),
    "acos": Function(_math(np.arccos), 1, 1),
    "atan": Function(_math(np.arctan), 1, 1),
    "sinh": Function(_math(np.sinh), 1, 1),
    "cosh": Function(_math(np.cosh), 1, 1),
    "tanh": Function(_math(np.tanh), 1, 1),
    "abs": Function(_math(np.abs, keep_type=True), 1, 1),
    "floor": Function(_math(np.floor, rounding=True), 1, 1),
    "ceil": Function(_math(np.ceil, rounding=True), 1, 1),
    "round": Function(_math(_java_round, rounding=True), 1, 1),
    "rint": Function(_math(np.rint), 1, 1),
    "pow": Function(_pow, 2, 2),
    "threshold": Function(_threshold, 2, 2),
    "modulo": Function(_modulo, 2, 2),
    "equal": Function(_compare(np.equal), 2, 2),
    "notEqual": Function(_compare(np.not_equal), 2, 2),
    "lessThan": Function(_compare(np.less), 2, 2),
    "lessOrEqual": Function(_compare(np.less_equal), 2, 2),
    "greaterThan": Function(_compare(np.greater), 2, 2),
    "greaterOrEqual": Function(_compare(np.greater_equal), 2, 2),
    "and": Function(_logical("and"), 2, None),
    "or": Function(_logical("or"), 2, None),
    "xor": Function(_logical("xor"), 2, None),
    "not": Function(_logical("not"), 1, 1),
    "isIn": Function(_is_in(False), 2, None),
    "isNotIn": Function(_is_in(True), 2, None),
    "isMissing": Function(_missing_test(True), 1, 1, True),
    "isNotMissing": Function(_missing_test(False), 1, 1, True),
    "isValid": Function(_missing_test(False), 1, 1, True),
    "isNotValid": Function(lambda args: Column(BOOLEAN, np.zeros(len(args[0])), np.zeros(len(args[0]), dtype=bool)),
                          1, 1, True),
    "uppercase": Function(_strings(str.upper), 1, 1),
    "lowercase": Function(_strings(str.lower), 1, 1),
    "trimBlanks": Function(_strings(str.strip), 1, 1),
    "concat": Function(_strings(lambda *parts: "".join(parts)), 1, None),
    "substring": Function(_strings(_substring), 3, 3),
    "replace": Function(_strings(lambda text, pattern, replacement: re.sub(pattern, replacement, text)), 3, 3),
    "matches": Function(lambda args: _booleans_from_text(_strings(_matches)(args)), 2, 2),
    "stdNormalCDF": Function(_normal("cdf"), 1, 1),
    "stdNormalPDF": Function(_normal("pdf"), 1, 1),
    "stdNormalIDF": Function(_normal("idf"), 1, 1),
    "normalCDF": Function(_normal("cdf"), 3, 3),
    "normalPDF": Function(_normal("pdf"), 3, 3),
    "normalIDF": Function(_normal("idf"), 3, 3),
    "erf": Function(_math(special.erf), 1, 1),
}
