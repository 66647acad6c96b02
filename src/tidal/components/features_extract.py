"""Features read straight off a value, learning nothing: date parts, text lengths, character
counts and pattern flags. Each returns the input table with new columns added."""

from __future__ import annotations

import re
import string
from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._training import require_rows
from tidal.components._transforms import categorical_columns
from tidal.core import Column, Columns, DataError, Param, ParameterError, component

DatePart = Literal[
    "year", "quarter", "month", "day", "weekday", "day_of_year", "week", "hour", "minute", "second",
    "is_weekend", "is_month_start", "is_month_end",
]
CharacterKind = Literal["letters", "digits", "upper", "lower", "spaces", "punctuation", "non_ascii"]

_PART_READERS = {
    "year": lambda dates: dates.dt.year,
    "quarter": lambda dates: dates.dt.quarter,
    "month": lambda dates: dates.dt.month,
    "day": lambda dates: dates.dt.day,
    "weekday": lambda dates: dates.dt.day_of_week,
    "day_of_year": lambda dates: dates.dt.dayofyear,
    "week": lambda dates: dates.dt.isocalendar().week,
    "hour": lambda dates: dates.dt.hour,
    "minute": lambda dates: dates.dt.minute,
    "second": lambda dates: dates.dt.second,
    "is_weekend": lambda dates: dates.dt.day_of_week >= 5,
    "is_month_start": lambda dates: dates.dt.is_month_start,
    "is_month_end": lambda dates: dates.dt.is_month_end,
}
_CHARACTER_PATTERNS = {
    "letters": r"[^\W\d_]",
    "digits": r"\d",
    "upper": r"[A-Z]",
    "lower": r"[a-z]",
    "spaces": r"\s",
    "punctuation": "[" + re.escape(string.punctuation) + "]",
    "non_ascii": r"[^\x00-\x7f]",
}


def _as_dates(data: pd.DataFrame, name: str) -> pd.Series:
    values = data[name]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"column '{name}' ({values.dtype}) holds no dates; name a date or date-text column in 'columns'")
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"column '{name}' has a value that is not a date at row {row}: {values.iloc[row]!r}")
    return parsed


def _numbers(values: pd.Series) -> pd.Series:
    """Integer parts as int64, or float64 where some dates are missing."""
    if values.isna().any():
        return values.astype("float64")
    return values.astype("int64")


def _text(data: pd.DataFrame, name: str) -> pd.Series:
    values = data[name]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise DataError(f"column '{name}' ({values.dtype}) is not text; name string columns in 'columns'")
    return values.astype("string")


@component("features.date_parts", title="Date Parts", tags={"sample": "mixed"})
def date_parts(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="date columns (or text holding dates); empty means every date column")] = None,
    parts: Annotated[list[DatePart], Param(help="parts to extract, each as a new column <column>_<part>")] = ["year", "month", "day", "weekday"],  # noqa: B006
    drop: Annotated[bool, Param(help="drop the source date columns")] = False,
) -> pd.DataFrame:
    """Add calendar parts of date columns: year, month, day, weekday (Monday = 0), hour, flags ...

    Text columns are parsed as dates; a value that is not a date is an error naming its row.
    Missing dates give missing parts.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"when": ["2024-03-30", "2024-04-01"]})
    >>> date_parts(frame, columns=["when"], parts=["month", "weekday", "is_weekend"], drop=True).to_dict("records")
    [{'when_month': 3, 'when_weekday': 5, 'when_is_weekend': 1}, {'when_month': 4, 'when_weekday': 0, 'when_is_weekend': 0}]
    """
    require_rows(data, "input 'data'")
    if not parts:
        raise ParameterError("parameter 'parts' is empty; choose at least one date part")
    chosen = list(columns or [str(name) for name in data.columns if pd.api.types.is_datetime64_any_dtype(data[name])])
    if not chosen:
        raise DataError("input 'data' has no date columns; name the columns holding dates in 'columns'")
    result = data.copy()
    for name in chosen:
        dates = _as_dates(data, name)
        for part in dict.fromkeys(parts):
            values = _PART_READERS[part](dates)
            result[f"{name}_{part}"] = _numbers(values.astype("float64") if values.dtype == bool else values.astype("Float64"))
    return result.drop(columns=chosen) if drop else result


@component("features.text_length", title="Text Length", tags={"sample": "mixed"})
def text_length(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="text columns; empty means every string column")] = None,
    words: Annotated[bool, Param(help="also count whitespace-separated words (<column>_words)")] = True,
) -> pd.DataFrame:
    """Add the character count (``<column>_length``) and word count (``<column>_words``) of text columns.

    A missing text counts as empty (length 0).

    Examples
    --------
    >>> import pandas as pd
    >>> text_length(pd.DataFrame({"note": ["hello world", "hi", None]})).drop(columns="note").to_dict("list")
    {'note_length': [11, 2, 0], 'note_words': [2, 1, 0]}
    """
    chosen = categorical_columns(data, columns)
    result = data.copy()
    for name in chosen:
        text = _text(data, name).fillna("")
        result[f"{name}_length"] = text.str.len().astype("int64")
        if words:
            result[f"{name}_words"] = text.str.split().str.len().astype("int64")
    return result


@component("features.character_counts", title="Character Counts", tags={"sample": "mixed"})
def character_counts(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="text columns; empty means every string column")] = None,
    kinds: Annotated[list[CharacterKind], Param(help="character classes to count, each as <column>_<kind>")] = ["digits", "upper", "punctuation", "spaces"],  # noqa: B006
) -> pd.DataFrame:
    """Count characters of given kinds in text columns: digits, capitals, punctuation, spaces ...

    ``upper`` and ``lower`` count ASCII letters; ``letters`` counts letters of any alphabet.

    Examples
    --------
    >>> import pandas as pd
    >>> character_counts(pd.DataFrame({"code": ["AB-12", "x 9"]}), kinds=["digits", "upper"]).to_dict("records")
    [{'code': 'AB-12', 'code_digits': 2, 'code_upper': 2}, {'code': 'x 9', 'code_digits': 1, 'code_upper': 0}]
    """
    if not kinds:
        raise ParameterError("parameter 'kinds' is empty; choose at least one kind of character")
    chosen = categorical_columns(data, columns)
    result = data.copy()
    for name in chosen:
        text = _text(data, name).fillna("")
        for kind in dict.fromkeys(kinds):
            result[f"{name}_{kind}"] = text.str.count(_CHARACTER_PATTERNS[kind]).astype("int64")
    return result


@component("features.string_contains", title="String Contains", tags={"sample": "mixed", "sample_params": {"pattern": "fox"}})
def string_contains(
    data: pd.DataFrame,
    *,
    text_column: Annotated[Column, Param(help="the text column to search")],
    pattern: Annotated[str, Param(help="text (or regular expression) to look for")],
    regex: Annotated[bool, Param(help="treat 'pattern' as a regular expression")] = False,
    case: Annotated[bool, Param(help="match upper and lower case exactly")] = True,
    output: Annotated[str | None, Param(help="name of the new 0/1 column; default <column>_contains")] = None,
) -> pd.DataFrame:
    """Add a 0/1 column saying whether each text contains ``pattern`` (missing text gives 0).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"email": ["ann@example.com", "bob@test.org", None]})
    >>> string_contains(frame, text_column="email", pattern=r"\\.com$", regex=True)["email_contains"].tolist()
    [1, 0, 0]
    """
    require_rows(data, "input 'data'")
    if not pattern:
        raise ParameterError("parameter 'pattern' is empty; give the text to look for")
    if regex:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ParameterError(f"parameter 'pattern' is not a valid regular expression: {error}") from None
    text = _text(data, text_column)
    found = text.str.contains(pattern, regex=regex, case=case).fillna(False).astype("int64")
    result = data.copy()
    result[output or f"{text_column}_contains"] = found.to_numpy()
    return result
