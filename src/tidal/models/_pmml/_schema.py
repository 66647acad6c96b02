"""The data dictionary and mining schemas: what a model takes as input, and how inputs are prepared.

Input values are converted to each field's ``dataType``; values listed as ``missing`` in the data
dictionary (``NaN`` for LightGBM and XGBoost models) count as missing; values outside the valid
values or intervals are invalid. Then each ``MiningField`` applies its treatments, as JPMML does:
``missingValueReplacement`` / ``missingValueTreatment``, ``invalidValueTreatment`` (``returnInvalid``
refuses the row with an error naming the field, ``asIs``, ``asMissing``, ``asValue``) and
``outliers`` (``asIs``, ``asMissingValues``, ``asExtremeValues`` with ``lowValue``/``highValue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tidal.core._errors import DataError
from tidal.models._pmml._context import FieldInfo, Scope
from tidal.models._pmml._document import Element, PmmlInvalid, PmmlUnsupported
from tidal.models._pmml._transformations import Interval
from tidal.models._pmml._values import (
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INTEGER,
    STORAGE,
    STRING,
    Column,
    cast,
    check_type,
    java_string,
    parse_value,
    typed_constant,
)

INPUT_USAGES = ("active",)
TARGET_USAGES = ("target", "predicted")
IGNORED_USAGES = ("supplementary", "group", "order", "frequencyWeight", "analysisWeight")


@dataclass
class DataField:
    info: FieldInfo
    valid: list[Any] = field(default_factory=list)
    invalid: list[Any] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)


def read_data_dictionary(element: Element | None, scope: Scope) -> dict[str, DataField]:
    if element is None:
        raise PmmlInvalid("the PMML document has no <DataDictionary>")
    fields: dict[str, DataField] = {}
    for item in element.findall("DataField"):
        name = item.require("name")
        type = check_type(item.get("dataType"), item.describe())
        optype = item.choice("optype", "continuous" if type in (DOUBLE, FLOAT, INTEGER) else "categorical",
                             ("continuous", "categorical", "ordinal"))
        if item.get("isCyclic", "0") not in ("0", "false"):
            raise PmmlUnsupported(f"cyclic fields ({item.describe()} isCyclic) are not supported by Tidal's evaluator")
        entry = DataField(FieldInfo(name, type, optype))
        texts = []
        for value in item.findall("Value"):
            text = value.require("value")
            value.get("displayValue")
            kind = value.choice("property", "valid", ("valid", "invalid", "missing"))
            parsed = _value_or_text(text, type, value)
            {"valid": entry.valid, "invalid": entry.invalid, "missing": entry.missing}[kind].append(parsed)
            if kind == "valid":
                texts.append(text)
        entry.intervals = [Interval(interval) for interval in item.findall("Interval")]
        entry.info = FieldInfo(name, type, optype, tuple(texts))
        fields[name] = entry
        scope.define(entry.info)
    return fields


def _value_or_text(text: str, type: str, where: Element) -> Any:
    if type == STRING:
        return text
    if text.strip().lower() == "nan" and type in (DOUBLE, FLOAT):
        return np.nan
    return typed_constant(text, type, where.describe())


@dataclass
class MiningField:
    name: str
    usage: str
    missing_replacement: Any = None
    missing_treatment: str = "asIs"
    invalid_treatment: str = "returnInvalid"
    invalid_replacement: Any = None
    outliers: str = "asIs"
    low: float | None = None
    high: float | None = None

    @property
    def has_treatments(self) -> bool:
        return (self.missing_replacement is not None or self.outliers != "asIs"
                or self.invalid_treatment not in ("returnInvalid", "asIs"))


def read_mining_schema(model: Element, scope: Scope) -> list[MiningField]:
    schema = model.find("MiningSchema")
    if schema is None:
        raise PmmlInvalid(f"{model.describe()} has no <MiningSchema>")
    result = []
    for item in schema.findall("MiningField"):
        name = item.require("name")
        info = scope.lookup(name, item.describe())
        usage = item.choice("usageType", "active", INPUT_USAGES + TARGET_USAGES + IGNORED_USAGES)
        item.get("optype")
        spec = MiningField(name, usage)
        replacement = item.get("missingValueReplacement")
        if replacement is not None:
            spec.missing_replacement = typed_constant(replacement, info.type, item.describe())
        spec.missing_treatment = item.choice("missingValueTreatment", "asIs",
                                             ("asIs", "asMean", "asMode", "asMedian", "asValue", "returnInvalid"))
        spec.invalid_treatment = item.choice("invalidValueTreatment", "returnInvalid",
                                             ("returnInvalid", "asIs", "asMissing", "asValue"))
        invalid_replacement = item.get("invalidValueReplacement")
        if invalid_replacement is not None:
            spec.invalid_replacement = typed_constant(invalid_replacement, info.type, item.describe())
        spec.outliers = item.choice("outliers", "asIs", ("asIs", "asMissingValues", "asExtremeValues"))
        if spec.outliers != "asIs":
            spec.low = item.number("lowValue") if item.get("lowValue") is not None else None
            spec.high = item.number("highValue") if item.get("highValue") is not None else None
            if spec.low is None and spec.high is None:
                raise PmmlInvalid(f"{item.describe()} treats outliers but gives neither lowValue nor highValue")
        else:
            item.get("lowValue")
            item.get("highValue")
        result.append(spec)
    return result


# -- turning a request's column into a typed, validated column ------------------------------------
def convert(series: pd.Series, info: FieldInfo) -> tuple[Column, np.ndarray]:
    """A request column as ``info``'s type: the typed column and a mask of values that do not convert."""
    size = len(series)
    raw = series.to_numpy()
    if raw.dtype.kind in "fiub":
        numbers = raw.astype(np.float64)
        missing = np.isnan(numbers)
        column = Column(DOUBLE, numbers, missing)
        if info.type in (DOUBLE, FLOAT):
            return cast(column, info.type), np.zeros(size, dtype=bool)
        if info.type == STRING:
            kind = INTEGER if raw.dtype.kind in "iub" else DOUBLE
            return cast(Column(kind, numbers, missing), STRING), np.zeros(size, dtype=bool)
        whole = (numbers == np.floor(numbers)) | missing
        if info.type == BOOLEAN:
            whole &= np.isin(numbers, (0.0, 1.0)) | missing
        cleaned = np.where(whole, numbers, np.nan)
        return Column(info.type, cleaned, missing | ~whole), ~whole
    values = np.empty(size, dtype=STORAGE[info.type])
    missing = np.zeros(size, dtype=bool)
    bad = np.zeros(size, dtype=bool)
    for row, value in enumerate(raw):
        converted = _convert_one(value, info.type)
        if converted is _MISSING:
            missing[row] = True
            values[row] = None if info.type == STRING else np.nan
        elif converted is _BAD:
            bad[row] = missing[row] = True
            values[row] = None if info.type == STRING else np.nan
        else:
            values[row] = converted
    return Column(info.type, values, missing), bad


_MISSING, _BAD = object(), object()


def _convert_one(value: Any, type: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING
    if isinstance(value, float | np.floating) and np.isnan(value):
        return _MISSING
    try:
        if isinstance(value, str):
            return parse_value(value, type)
        if isinstance(value, bool | np.bool_):
            return java_string(float(value), BOOLEAN) if type == STRING else float(value)
        if isinstance(value, int | np.integer):
            return str(int(value)) if type == STRING else parse_value(str(int(value)), type)
        if isinstance(value, float | np.floating):
            if type == STRING:
                return java_string(float(value), DOUBLE)
            if type in (INTEGER, BOOLEAN):
                return parse_value(repr(float(value)), type)
            return STORAGE[type](value)
    except ValueError:
        return _BAD
    return _BAD


def prepare_input(series: pd.Series, entry: DataField, spec: MiningField | None) -> Column:
    """A validated input column with the mining field's treatments applied."""
    info = entry.info
    column, bad = convert(series, info)
    values, missing = column.values, column.missing.copy()
    present = ~missing
    declared_missing = np.zeros(len(values), dtype=bool)
    for value in entry.missing:
        if isinstance(value, float) and np.isnan(value):
            continue  # NaN is missing already
        declared_missing |= present & (values == value)
    invalid = bad.copy()
    for value in entry.invalid:
        invalid |= present & (values == value)
    if entry.valid:
        invalid |= present & ~declared_missing & ~np.isin(values, np.array(entry.valid, dtype=values.dtype))
    elif entry.intervals:
        numbers = values.astype(np.float64)
        inside = np.zeros(len(values), dtype=bool)
        for interval in entry.intervals:
            inside |= interval.contains(numbers)
        invalid |= present & ~declared_missing & ~inside
    missing |= declared_missing
    spec = spec or MiningField(info.name, "active")
    if invalid.any():
        column, missing = _treat_invalid(column, invalid, missing, spec, series)
    column = Column(column.type, column.values, missing)
    column = treat_outliers(column, spec)
    return treat_missing(column, spec)


def _treat_invalid(column: Column, invalid: np.ndarray, missing: np.ndarray, spec: MiningField,
                   series: pd.Series) -> tuple[Column, np.ndarray]:
    if spec.invalid_treatment == "returnInvalid":
        rows = np.flatnonzero(invalid)
        shown = ", ".join(f"row {row}: {series.iloc[row]!r}" for row in rows[:5])
        raise DataError(f"column '{spec.name}' has value(s) the PMML model does not accept ({shown}"
                        f"{' ...' if len(rows) > 5 else ''}); its MiningField says invalidValueTreatment=returnInvalid")
    if spec.invalid_treatment == "asMissing" or (spec.invalid_treatment == "asIs" and spec.invalid_replacement is None):
        # asIs keeps a value that converted but is outside the valid set; one that did not convert is missing
        missing = missing | invalid if spec.invalid_treatment == "asMissing" else missing
        if spec.invalid_treatment == "asIs":
            return column, missing
        values = column.values.copy()
        values[invalid] = None if column.type == STRING else np.nan
        return Column(column.type, values, missing), missing
    values = column.values.copy()
    values[invalid] = spec.invalid_replacement
    missing = missing & ~invalid
    return Column(column.type, values, missing), missing


def treat_outliers(column: Column, spec: MiningField) -> Column:
    if spec.outliers == "asIs" or column.type == STRING:
        return column
    numbers = column.values.astype(np.float64)
    below = ~column.missing & (numbers < spec.low) if spec.low is not None else np.zeros(len(numbers), dtype=bool)
    above = ~column.missing & (numbers > spec.high) if spec.high is not None else np.zeros(len(numbers), dtype=bool)
    if not (below.any() or above.any()):
        return column
    if spec.outliers == "asMissingValues":
        return treat_missing(column.with_missing(below | above), spec)
    values = column.values.copy()
    if below.any():
        values[below] = spec.low
    if above.any():
        values[above] = spec.high
    return Column(column.type, values, column.missing)


def treat_missing(column: Column, spec: MiningField) -> Column:
    if not column.missing.any():
        return column
    if spec.missing_treatment == "returnInvalid":
        rows = np.flatnonzero(column.missing)
        raise DataError(f"column '{spec.name}' is missing in row(s) {', '.join(map(str, rows[:5]))}"
                        f"{' ...' if len(rows) > 5 else ''}, and the PMML model requires it "
                        "(missingValueTreatment=returnInvalid)")
    if spec.missing_replacement is None:
        return column
    values = column.values.copy()
    values[column.missing] = spec.missing_replacement
    return Column(column.type, values, np.zeros(len(values), dtype=bool))
