"""Descriptive statistics: per-column summaries, percentiles, value counts and cross tables.

Also the checks every ``stats`` component shares (:func:`numeric_values`, :func:`groups_of`), so
each statistic gets clean numbers or a DataError naming the column.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from tidal.components._training import require_rows
from tidal.core import Column, Columns, DataError, Param, ParameterError, component

# -- shared checks ------------------------------------------------------------------------------------


def numeric_values(data: pd.DataFrame, column: str, *, minimum: int = 1, what: str = "this statistic") -> np.ndarray:
    """A column's non-missing values as floats; a DataError if it is not numeric or too short."""
    require_rows(data, "input 'data'")
    series = data[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise DataError(f"column '{column}' ({series.dtype}) is not numeric; {what} needs numbers")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    values = values[~np.isnan(values)]
    if len(values) < minimum:
        raise DataError(
            f"column '{column}' has {len(values)} non-missing value(s); {what} needs at least {minimum}"
        )
    return values


def numeric_table(data: pd.DataFrame, columns: list[str] | None, *, minimum_columns: int = 1, what: str = "this statistic") -> pd.DataFrame:
    """The named numeric columns as floats, or every numeric column; names any non-numeric one."""
    require_rows(data, "input 'data'")
    if columns:
        bad = [name for name in columns if not pd.api.types.is_numeric_dtype(data[name])]
        if bad:
            kinds = ", ".join(f"'{name}' ({data[name].dtype})" for name in bad[:10])
            raise DataError(f"parameter 'columns': column(s) {kinds} are not numeric; {what} needs numbers")
        chosen = list(columns)
    else:
        chosen = [str(name) for name in data.columns if pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])]
    if len(chosen) < minimum_columns:
        raise DataError(f"{what} needs at least {minimum_columns} numeric column(s), found {len(chosen)}; name them in 'columns'")
    return data[chosen].astype(float)


def groups_of(data: pd.DataFrame, column: str, group: str, *, what: str, minimum: int = 1) -> dict[str, np.ndarray]:
    """The numeric values of ``column`` split by the values of ``group`` (missing values dropped)."""
    numeric_values(data, column, what=what)  # checks the column is numeric and not empty
    frame = data[[column, group]].dropna()
    groups: dict[str, np.ndarray] = {}
    for key, part in frame.groupby(group, sort=True, observed=True)[column]:
        groups[str(key)] = part.to_numpy(dtype=float)
    small = [key for key, part in groups.items() if len(part) < minimum]
    if small:
        raise DataError(f"group {small[0]!r} of column '{group}' has fewer than {minimum} value(s) of '{column}'; {what} needs more")
    return groups


def plain(value: Any) -> Any:
    """A JSON-friendly scalar: numpy numbers become Python numbers, NaN becomes None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def label_of(value: Any) -> str:
    return "<missing>" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


# -- components -----------------------------------------------------------------------------------------


def _top_values(series: pd.Series, top: int) -> str:
    counts = series.value_counts(dropna=True).head(top)
    return ", ".join(f"{label_of(value)} ({count})" for value, count in counts.items())


@component("stats.summary", title="Summary Statistics", tags={"sample": "mixed"})
def summary(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="columns to describe; empty means all")] = None,
    top: Annotated[int, Param(ge=1, help="how many of the most frequent values to list")] = 3,
) -> pd.DataFrame:
    """One row per column: type, count, missing, distinct values, mean, standard deviation, quartiles and most frequent values.

    Numeric statistics are left empty for text and date columns; booleans count as 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 5.0], "city": ["Oslo", "Lima", "Oslo", None]})
    >>> summary(frame)[["column", "count", "missing", "distinct", "mean", "top_values"]].to_dict("records")
    [{'column': 'x', 'count': 3, 'missing': 1, 'distinct': 3, 'mean': 2.666..., 'top_values': '1.0 (1), 2.0 (1), 5.0 (1)'}, {'column': 'city', 'count': 3, 'missing': 1, 'distinct': 2, 'mean': nan, 'top_values': 'Oslo (2), Lima (1)'}]
    """
    require_rows(data, "input 'data'")
    rows = []
    for name in columns or [str(name) for name in data.columns]:
        series = data[name]
        numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        values = series.astype(float) if numeric else None
        counts = series.value_counts(dropna=True)
        row: dict[str, Any] = {
            "column": str(name),
            "dtype": str(series.dtype),
            "count": int(series.count()),
            "missing": int(series.isna().sum()),
            "distinct": int(series.nunique(dropna=True)),
        }
        for key, compute in (
            ("mean", lambda v: v.mean()),
            ("std", lambda v: v.std()),
            ("min", lambda v: v.min()),
            ("q25", lambda v: v.quantile(0.25)),
            ("median", lambda v: v.median()),
            ("q75", lambda v: v.quantile(0.75)),
            ("max", lambda v: v.max()),
        ):
            row[key] = float(compute(values)) if values is not None else np.nan
        row["top"] = label_of(counts.index[0]) if len(counts) else None
        row["top_count"] = int(counts.iloc[0]) if len(counts) else 0
        row["top_values"] = _top_values(series, top)
        rows.append(row)
    return pd.DataFrame(rows)


@component("stats.percentiles", title="Percentiles", tags={"sample": "numeric"})
def percentiles(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="numeric columns; empty means every numeric column")] = None,
    points: Annotated[list[float], Param(help="percentiles to compute, each between 0 and 100")] = [1, 5, 10, 25, 50, 75, 90, 95, 99],  # noqa: B006
    method: Annotated[
        Literal["linear", "lower", "higher", "nearest", "midpoint"], Param(help="how to pick between two data points")
    ] = "linear",
) -> pd.DataFrame:
    """Percentiles of numeric columns: one row per column, one column per percentile (``p50`` ...).

    Missing values are ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> percentiles(pd.DataFrame({"x": range(1, 101)}), points=[10, 50, 99.5]).to_dict("records")
    [{'column': 'x', 'p10': 10.9, 'p50': 50.5, 'p99.5': 99.505}]
    """
    if not points:
        raise ParameterError("parameter 'points' is empty; give at least one percentile")
    outside = [point for point in points if not 0 <= point <= 100]
    if outside:
        raise ParameterError(f"parameter 'points': {outside[0]:g} is not between 0 and 100")
    frame = numeric_table(data, columns, what="percentiles")
    names = [f"p{point:g}" for point in points]
    rows = []
    for name in frame.columns:
        values = frame[name].dropna().to_numpy()
        found = np.percentile(values, points, method=method) if len(values) else [np.nan] * len(points)
        rows.append({"column": name, **{label: float(value) for label, value in zip(names, found, strict=True)}})
    return pd.DataFrame(rows)


@component("stats.value_counts", title="Value Counts", tags={"sample": "mixed", "sample_params": {"column": "cat"}})
def value_counts(
    data: pd.DataFrame,
    *,
    column: Annotated[Column, Param(help="the column whose values are counted")],
    top: Annotated[int | None, Param(ge=1, help="keep only the most frequent values")] = None,
    dropna: Annotated[bool, Param(help="leave missing values out instead of counting them")] = False,
) -> pd.DataFrame:
    """How often each value of a column occurs: ``value``, ``count`` and ``share``, most frequent first.

    Examples
    --------
    >>> import pandas as pd
    >>> value_counts(pd.DataFrame({"city": ["Oslo", "Lima", "Oslo", None]}), column="city").to_dict("records")
    [{'value': 'Oslo', 'count': 2, 'share': 0.5}, {'value': 'Lima', 'count': 1, 'share': 0.25}, {'value': nan, 'count': 1, 'share': 0.25}]
    """
    require_rows(data, "input 'data'")
    counts = data[column].value_counts(dropna=dropna)
    total = int(counts.sum())
    result = pd.DataFrame({"value": counts.index, "count": counts.to_numpy(dtype="int64")})
    result["share"] = result["count"] / total if total else 0.0
    return result.head(top) if top else result


@component("stats.crosstab", title="Cross Tabulation", tags={"sample": "mixed", "sample_params": {"row": "cat", "column": "label"}})
def crosstab(
    data: pd.DataFrame,
    *,
    row: Annotated[Column, Param(help="its values become the rows")],
    column: Annotated[Column, Param(help="its values become the columns")],
    normalize: Annotated[
        Literal["none", "all", "row", "column"], Param(help="counts, or shares of the total, of each row or of each column")
    ] = "none",
    margins: Annotated[bool, Param(help="add 'All' totals as a last row and column")] = False,
) -> pd.DataFrame:
    """Count rows by the values of two columns: one table row per ``row`` value, one column per ``column`` value.

    Rows with a missing value in either column are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"sex": ["f", "m", "f", "f"], "smoker": ["no", "no", "yes", "no"]})
    >>> crosstab(frame, row="sex", column="smoker").to_dict("records")
    [{'sex': 'f', 'no': 2, 'yes': 1}, {'sex': 'm', 'no': 1, 'yes': 0}]
    """
    require_rows(data, "input 'data'")
    if row == column:
        raise ParameterError(f"parameters 'row' and 'column' are both '{row}'; choose two different columns")
    how = {"none": False, "all": "all", "row": "index", "column": "columns"}[normalize]
    table = pd.crosstab(data[row], data[column], normalize=how, margins=margins)
    if table.empty:
        raise DataError(f"columns '{row}' and '{column}' have no row where both are present")
    table.columns = [str(name) for name in table.columns]
    table.index = [label_of(value) for value in table.index]
    return table.rename_axis(row).reset_index()
