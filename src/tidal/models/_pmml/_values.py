"""Typed columns: a PMML field's values over a batch of rows, stored the way PMML types them.

``double`` values are float64, ``float`` values are float32 (so thresholds on float fields compare
in float32, as JPMML and scikit-learn compare them), ``integer`` and ``boolean`` values are float64
holding whole numbers, ``string`` values are Python strings in an object array. Every column carries
its own missing mask; a missing value never takes part in a comparison.

Text from the document (thresholds, constants, categories) is parsed into the field's type exactly
as Java parses it: a ``float`` constant is rounded once, from its decimal text to the nearest
float32, never through float64 first.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from tidal.models._pmml._document import PmmlInvalid, PmmlUnsupported, java_double

DOUBLE, FLOAT, INTEGER, STRING, BOOLEAN = "double", "float", "integer", "string", "boolean"
NUMERIC_TYPES = (DOUBLE, FLOAT, INTEGER)
DATA_TYPES = (DOUBLE, FLOAT, INTEGER, STRING, BOOLEAN)
STORAGE = {DOUBLE: np.float64, FLOAT: np.float32, INTEGER: np.float64, BOOLEAN: np.float64, STRING: np.object_}


class Column:
    """One field over ``len(values)`` rows: values in the type's storage, and a missing mask."""

    __slots__ = ("type", "values", "missing")

    def __init__(self, type: str, values: np.ndarray, missing: np.ndarray | None = None) -> None:
        self.type = type
        self.values = values
        if missing is None:
            missing = np.isnan(values) if values.dtype.kind == "f" else np.array([value is None for value in values],
                                                                                   dtype=bool)
        self.missing = missing

    def __len__(self) -> int:
        return len(self.values)

    def take(self, rows: np.ndarray) -> Column:
        return Column(self.type, self.values[rows], self.missing[rows])

    @classmethod
    def empty(cls, type: str, size: int) -> Column:
        if type == STRING:
            return cls(type, np.full(size, None, dtype=object), np.ones(size, dtype=bool))
        return cls(type, np.full(size, np.nan, dtype=STORAGE[type]), np.ones(size, dtype=bool))

    @classmethod
    def constant(cls, type: str, value: Any, size: int) -> Column:
        if value is None:
            return cls.empty(type, size)
        values = np.empty(size, dtype=STORAGE[type])
        values[:] = value
        return cls(type, values, np.zeros(size, dtype=bool))

    def numbers(self) -> np.ndarray:
        """The values as numbers in their own precision (float32 for ``float``), NaN where missing."""
        if self.type == STRING:
            raise PmmlInvalid("a string field is used where a number is required")
        return self.values

    def with_missing(self, missing: np.ndarray) -> Column:
        """This column with more rows marked missing."""
        if not missing.any():
            return self
        values = self.values.copy()
        values[missing] = None if self.type == STRING else np.nan
        return Column(self.type, values, self.missing | missing)

    def fill(self, rows: np.ndarray, other: Column) -> Column:
        """A copy with ``rows`` replaced by ``other`` (same length as ``rows``), cast to this type."""
        other = cast(other, self.type)
        values, missing = self.values.copy(), self.missing.copy()
        values[rows] = other.values
        missing[rows] = other.missing
        return Column(self.type, values, missing)


# -- parsing text into typed scalars ----------------------------------------------------------------
def float32_from_text(text: str) -> np.float32:
    """The float32 nearest to a decimal text, rounded once (Java's ``Float.parseFloat``)."""
    number = java_double(text)
    rounded = np.float32(number)
    if not np.isfinite(number) or float(rounded) == number:
        return rounded
    below = np.nextafter(rounded, np.float32(-np.inf)) if float(rounded) > number else rounded
    above = np.nextafter(below, np.float32(np.inf))
    midpoint = (float(below) + float(above)) / 2
    if number != midpoint:  # rounding through float64 cannot have changed the answer
        return rounded
    exact = Fraction(text.strip().rstrip("dDfF"))
    if exact == Fraction(midpoint):
        return below if int(below.view(np.int32)) % 2 == 0 else above
    return above if exact > Fraction(midpoint) else below


def parse_integer(text: str) -> float:
    """Java's reading of an integer: a whole number, also written as ``2.0``; anything else fails."""
    stripped = text.strip()
    try:
        return float(int(stripped))
    except ValueError:
        number = java_double(stripped)
        if np.isfinite(number) and number == int(number):
            return float(int(number))
        raise ValueError(f"'{text}' is not a whole number") from None


def parse_boolean(text: str) -> float:
    lowered = text.strip().lower()
    if lowered == "true":
        return 1.0
    if lowered == "false":
        return 0.0
    number = java_double(text)
    if number in (0.0, 1.0):
        return number
    raise ValueError(f"'{text}' is not a boolean")


def parse_value(text: str, type: str) -> Any:
    """A scalar of ``type`` from document text; raises ValueError when it does not parse."""
    if type == DOUBLE:
        return np.float64(java_double(text))
    if type == FLOAT:
        return float32_from_text(text)
    if type == INTEGER:
        return parse_integer(text)
    if type == BOOLEAN:
        return parse_boolean(text)
    if type == STRING:
        return text
    raise PmmlUnsupported(f"PMML dataType \"{type}\" is not supported by Tidal's evaluator "
                          f"(supported: {', '.join(DATA_TYPES)})")


def constant_type(text: str) -> str:
    """The type JPMML infers for a ``<Constant>`` without a dataType."""
    if text == "":
        return STRING
    if text.strip().lower() in ("nan", "inf", "-inf"):
        return DOUBLE
    if "." in text:
        try:
            float(text)
            return DOUBLE
        except ValueError:
            return STRING
    try:
        int(text)
        return INTEGER
    except ValueError:
        return STRING


def check_type(type: str | None, where: str, default: str = DOUBLE) -> str:
    type = type or default
    if type not in DATA_TYPES:
        raise PmmlUnsupported(f"PMML dataType \"{type}\" of {where} is not supported by Tidal's evaluator "
                              f"(supported: {', '.join(DATA_TYPES)})")
    return type


# -- formatting numbers as Java does -----------------------------------------------------------------
def java_string(value: Any, type: str) -> str:
    """A value as Java's ``toString`` writes it (``1.0``, ``1.0E-5``, ``7``, ``true``)."""
    if type == STRING:
        return str(value)
    if type == INTEGER:
        return str(int(value))
    if type == BOOLEAN:
        return "true" if value else "false"
    number = float(value)
    if np.isnan(number):
        return "NaN"
    if np.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0.0" if np.signbit(number) else "0.0"
    digits = (np.format_float_scientific(np.float32(number), unique=True, trim="-") if type == FLOAT
              else np.format_float_scientific(number, unique=True, trim="-"))
    mantissa, exponent_text = digits.split("e")
    exponent = int(exponent_text)
    sign = "-" if mantissa.startswith("-") else ""
    significant = mantissa.lstrip("-").replace(".", "")
    if 1e-3 <= abs(number) < 1e7:
        if exponent >= 0:
            whole = significant[: exponent + 1].ljust(exponent + 1, "0")
            fraction = significant[exponent + 1:] or "0"
        else:
            whole, fraction = "0", "0" * (-exponent - 1) + significant
        return f"{sign}{whole}.{fraction}"
    fraction = significant[1:] or "0"
    return f"{sign}{significant[0]}.{fraction}E{exponent}"


# -- converting columns between types ---------------------------------------------------------------
def cast(column: Column, type: str) -> Column:
    """``column`` as ``type`` (JPMML's TypeUtil.cast); a value that does not convert raises ValueError."""
    if column.type == type:
        return column
    source, missing = column.values, column.missing
    if type == STRING:
        values = np.array([None if gone else java_string(value, column.type) for value, gone in zip(source, missing,
                                                                                                   strict=True)],
                          dtype=object)
        return Column(STRING, values, missing)
    if column.type == STRING:
        parsed = np.full(len(source), np.nan, dtype=STORAGE[type])
        for index, (value, gone) in enumerate(zip(source, missing, strict=True)):
            if not gone:
                parsed[index] = parse_value(str(value), type)
        return Column(type, parsed, missing)
    numbers = source.astype(np.float64)
    if type in (INTEGER, BOOLEAN):
        present = numbers[~missing]
        whole = present == np.floor(present)
        if type == BOOLEAN:
            whole &= (present == 0) | (present == 1)
        if not whole.all():
            bad = present[~whole][0]
            raise ValueError(f"{java_string(bad, column.type)} is not {'a boolean' if type == BOOLEAN else 'a whole number'}")
    return Column(type, numbers.astype(STORAGE[type]), missing)


def to_python(value: Any, type: str) -> Any:
    """A stored scalar as the Python value a caller sees (int for integer, bool for boolean)."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    if type == INTEGER:
        return int(value)
    if type == BOOLEAN:
        return bool(value)
    if type in (DOUBLE, FLOAT):
        return float(value)
    return value


def typed_constant(text: str, type: str, where: str) -> Any:
    """Document text as a value of ``type``; text that does not parse is an invalid document."""
    try:
        return parse_value(text, type)
    except ValueError:
        raise PmmlInvalid(f"value '{text}' of {where} is not a valid {type}") from None


def equals_text(column: Column, text: str, where: str) -> np.ndarray:
    """Rows whose (present) value equals document text, compared in the column's type."""
    if column.type == STRING:
        return (column.values == text) & ~column.missing
    target = typed_constant(text, column.type, where)
    return (column.values == target) & ~column.missing


def order_against(column: Column, text: str, where: str, categories: tuple[str, ...] = ()) -> tuple[np.ndarray, Any]:
    """Values and a constant that compare with ``<``/``>`` as PMML orders them for this field."""
    if categories:  # an ordinal field orders by the position of its values in the data dictionary
        position = {value: index for index, value in enumerate(categories)}
        if text not in position:
            raise PmmlInvalid(f"value '{text}' of {where} is not one of the field's ordered values")
        strings = cast(column, STRING).values
        ranks = np.array([np.nan if value is None else position.get(value, np.nan) for value in strings])
        return ranks, float(position[text])
    if column.type == STRING:
        return column.values, text
    return column.values, typed_constant(text, column.type, where)
