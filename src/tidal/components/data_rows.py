"""Row operations: filter, sort, deduplicate, missing values, outliers, row ids.

Filter, sort, deduplicate, drop-missing and append-id stream through DuckDB; filling and clipping
need column statistics and a pandas frame.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._partitioned import rowwise
from tidal.components._row_local import is_row_local
from tidal.components._sql import (
    ROW,
    column_list,
    column_types,
    connect,
    missing,
    quote,
    register,
    to_lazy,
)
from tidal.core import Columns, DataError, LazyTable, Param, ParameterError, component


@component("data.filter", title="Filter Rows", tags={"sample_params": {"where": "x1 > 0 AND cat <> 'red'"}})
def filter_rows(
    data: LazyTable,
    *,
    where: Annotated[str, Param(widget="sql", help="a SQL condition over the columns, e.g. age >= 18 AND country = 'NO'; quote odd names: \"unit price\" > 5")],
) -> LazyTable:
    """Keep the rows for which a SQL condition holds (DuckDB SQL), streaming; row order is kept.

    Rows where the condition is NULL (a missing value compared) are dropped, as in SQL.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [15, 42, 67], "unit price": [3.0, 9.5, 7.0]})
    >>> filter_rows(frame, where='age >= 18 AND "unit price" > 8').to_pandas()["age"].tolist()
    [42]
    """
    condition = where.strip().rstrip(";")
    if not condition:
        raise ParameterError("parameter 'where' is empty: write a condition such as x > 0")
    con = connect(data)
    register(con, "data", data)
    query = f"SELECT * FROM data WHERE ({condition})"
    return rowwise(con, query, data, what="parameter 'where'", unless=lambda: is_row_local(con, query, "data"))


@component("data.sort", title="Sort Rows", tags={"sample_params": {"columns": ["cat", "x1"]}})
def sort(
    data: LazyTable,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="sort by these columns, the first one first")],
    descending: Annotated[bool, Param(help="largest first")] = False,
    missing_last: Annotated[bool, Param(help="put missing values last (else first)")] = True,
) -> LazyTable:
    """Sort rows by one or more columns (stable: ties keep their input order), out of core.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"team": ["b", "a", "b", "a"], "score": [3, 1, 2, 5]})
    >>> sort(frame, columns=["team", "score"], descending=True).to_pandas()["score"].tolist()
    [3, 2, 5, 1]
    """
    if not columns:
        raise ParameterError("parameter 'columns' is empty: name at least one column to sort by")
    direction = "DESC" if descending else "ASC"
    nulls = "NULLS LAST" if missing_last else "NULLS FIRST"
    keys = ", ".join(f"{quote(name)} {direction} {nulls}" for name in columns)
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    return to_lazy(con, f"SELECT * EXCLUDE ({ROW}) FROM data ORDER BY {keys}, {ROW}", what="sort")


@component("data.deduplicate", title="Remove Duplicates", tags={"sample_params": {"columns": ["cat", "label"]}})
def deduplicate(
    data: LazyTable,
    *,
    columns: Annotated[Columns, Param(help="rows count as duplicates when these columns match; empty means all columns")] = None,
    keep: Annotated[Literal["first", "last"], Param(help="which of the duplicates to keep")] = "first",
) -> LazyTable:
    """Remove duplicate rows, keeping the first (or last) of each; row order is kept.

    Missing values count as equal to each other, as in pandas ``drop_duplicates``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": ["a", "b", "a"], "day": [1, 1, 2]})
    >>> deduplicate(frame, columns=["user"], keep="last").to_pandas()["day"].tolist()
    [1, 2]
    """
    keys = columns or data.columns
    if not keys:
        return data
    order = f"{ROW} DESC" if keep == "last" else ROW
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    ranked = f"SELECT *, row_number() OVER (PARTITION BY {column_list(keys)} ORDER BY {order}) AS __tidal_rank FROM data"
    query = f"SELECT * EXCLUDE ({ROW}, __tidal_rank) FROM ({ranked}) WHERE __tidal_rank = 1 ORDER BY {ROW}"
    return to_lazy(con, query, what="deduplicate")


@component("data.drop_missing", title="Drop Missing", tags={})
def drop_missing(
    data: LazyTable,
    *,
    columns: Annotated[Columns, Param(help="look only at these columns; empty means all")] = None,
    how: Annotated[Literal["any", "all"], Param(help="drop a row when any (or all) of the columns are missing")] = "any",
) -> LazyTable:
    """Drop rows with missing values (NULL, and NaN in float columns), streaming.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", "y", None]})
    >>> drop_missing(frame).to_pandas()["a"].tolist()
    [1.0]
    >>> drop_missing(frame, columns=["a"]).num_rows
    2
    """
    types = column_types(data)
    keys = columns or list(types)
    if not keys:
        return data
    joiner = " OR " if how == "any" else " AND "
    test = joiner.join(missing(name, types[name]) for name in keys)
    con = connect(data, nan_checks=True)
    register(con, "data", data)
    return rowwise(con, f"SELECT * FROM data WHERE NOT ({test})", data, what="drop_missing", nan_checks=True)


def _numeric_columns(data: pd.DataFrame, columns: list[str] | None, param: str, *, only_with_missing: bool = False) -> list[str]:
    """The numeric columns to work on; a named non-numeric column is a :class:`DataError`."""
    if columns:
        for name in columns:
            if not pd.api.types.is_numeric_dtype(data[name]) or pd.api.types.is_bool_dtype(data[name]):
                raise DataError(f"parameter '{param}': column '{name}' is {data[name].dtype}, not numeric")
        return list(columns)
    picked = [
        name for name in data.columns
        if pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name])
    ]
    if only_with_missing:
        picked = [name for name in picked if data[name].isna().any()]
    return picked


@component("data.fill_missing", title="Fill Missing", tags={})
def fill_missing(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="columns to fill; empty means every column with gaps (numeric ones for mean/median)")] = None,
    method: Annotated[Literal["mean", "median", "mode", "constant", "forward", "backward"], Param(help="what to fill with")] = "mean",
    value: Annotated[float | str | None, Param(help="the fill value for method=constant")] = None,
) -> pd.DataFrame:
    """Fill missing values with the column mean, median, mode, a constant, or the previous/next value.

    Forward fill carries the last seen value down (rows in their current order); backward fill
    carries the next one up. Gaps that cannot be filled (a leading gap in forward fill) stay.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": [1.0, None, 3.0], "city": ["Oslo", None, "Oslo"]})
    >>> fill_missing(frame)["t"].tolist()
    [1.0, 2.0, 3.0]
    >>> fill_missing(frame, method="constant", value="unknown", columns=["city"])["city"].tolist()
    ['Oslo', 'unknown', 'Oslo']
    """
    if method == "constant" and value is None:
        raise ParameterError("method=constant needs 'value', the value to fill in")
    if method in ("mean", "median"):
        targets = _numeric_columns(data, columns, "columns", only_with_missing=True)
    else:
        targets = list(columns) if columns else [name for name in data.columns if data[name].isna().any()]
    result = data.copy()
    for name in targets:
        series = result[name]
        if method == "mean":
            result[name] = series.fillna(series.mean())
        elif method == "median":
            result[name] = series.fillna(series.median())
        elif method == "mode":
            modes = series.mode(dropna=True)
            if len(modes):
                result[name] = series.fillna(modes.iloc[0])
        elif method == "constant":
            result[name] = series.fillna(_fill_value(series, value))
        elif method == "forward":
            result[name] = series.ffill()
        else:
            result[name] = series.bfill()
    return result


def _fill_value(series: pd.Series, value: float | str) -> float | str:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise DataError(f"parameter 'value': {value!r} is not a number, but column '{series.name}' is numeric") from None
    return value


@component("data.clip_outliers", title="Clip Outliers", tags={"sample": "numeric"})
def clip_outliers(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="numeric columns to clip; empty means all numeric columns")] = None,
    method: Annotated[Literal["iqr", "zscore", "quantile"], Param(help="how the limits are found")] = "iqr",
    factor: Annotated[float, Param(gt=0, help="iqr: limits at Q1 - factor*IQR and Q3 + factor*IQR; zscore: at mean ± factor*std")] = 1.5,
    lower_quantile: Annotated[float, Param(ge=0, le=1, help="quantile: the lower limit")] = 0.01,
    upper_quantile: Annotated[float, Param(ge=0, le=1, help="quantile: the upper limit")] = 0.99,
) -> pd.DataFrame:
    """Clip extreme values of numeric columns to limits found from the data (winsorizing).

    ``iqr`` uses Tukey's fences, ``zscore`` the mean ± factor standard deviations (sample std),
    ``quantile`` two quantiles. Missing values stay missing.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0, 100.0]})
    >>> clip_outliers(frame, method="iqr")["v"].tolist()
    [1.0, 2.0, 3.0, 4.0, 7.0]
    """
    if lower_quantile >= upper_quantile:
        raise ParameterError(f"'lower_quantile' ({lower_quantile}) must be below 'upper_quantile' ({upper_quantile})")
    result = data.copy()
    for name in _numeric_columns(data, columns, "columns"):
        values = result[name].astype("float64")
        if method == "iqr":
            first, third = values.quantile(0.25), values.quantile(0.75)
            low, high = first - factor * (third - first), third + factor * (third - first)
        elif method == "zscore":
            low, high = values.mean() - factor * values.std(), values.mean() + factor * values.std()
        else:
            low, high = values.quantile(lower_quantile), values.quantile(upper_quantile)
        if np.isnan(low) or np.isnan(high):
            continue
        result[name] = result[name].clip(low, high)
    return result


@component("data.append_id", title="Append Row Id", tags={})
def append_id(
    data: LazyTable,
    *,
    column: Annotated[str, Param(help="name of the new id column (placed first)")] = "row_id",
    start: Annotated[int, Param(ge=0, help="id of the first row")] = 0,
) -> LazyTable:
    """Add a column numbering the rows start, start+1, ... in their current order.

    Examples
    --------
    >>> import pandas as pd
    >>> append_id(pd.DataFrame({"x": ["a", "b"]}), start=1).to_pandas().to_dict("list")
    {'row_id': [1, 2], 'x': ['a', 'b']}
    """
    if column in data.columns:
        raise DataError(f"parameter 'column': the input already has a column '{column}'; choose another name")
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    query = f"SELECT CAST({ROW} + {int(start)} AS BIGINT) AS {quote(column)}, * EXCLUDE ({ROW}) FROM data"
    return rowwise(con, query, data, what="append_id", row_numbers=True)
