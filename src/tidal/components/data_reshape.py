"""Reshaping: group-by aggregation (DuckDB, out of core), pivot, unpivot, lag and rolling windows."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd

from tidal.components._partitioned import Aggregate as PartialAggregate
from tidal.components._partitioned import aggregate
from tidal.components._sql import (
    ROW,
    check_columns,
    column_list,
    column_types,
    connect,
    is_numeric,
    quote,
    register,
)
from tidal.core import Column, Columns, DataError, LazyTable, Param, ParameterError, component

Aggregate = Literal["count", "sum", "mean", "median", "min", "max", "std", "var", "nunique", "first", "last"]
_NUMERIC_ONLY = ("sum", "mean", "median", "std", "var")
_SQL_AGGREGATES = {
    "count": "count({c})",
    "sum": "coalesce(sum({c}), 0)",
    "mean": "avg({c})",
    "median": "median({c})",
    "min": "min({c})",
    "max": "max({c})",
    "std": "stddev_samp({c})",
    "var": "var_samp({c})",
    "nunique": "count(DISTINCT {c})",
    "first": f"first({{c}} ORDER BY {ROW}) FILTER (WHERE {{c}} IS NOT NULL)",
    "last": f"last({{c}} ORDER BY {ROW}) FILTER (WHERE {{c}} IS NOT NULL)",
}


@component(
    "data.group_by",
    title="Group By and Aggregate",
    tags={"sample_params": {"keys": ["cat"], "aggregations": {"x1": ["mean", "sum"], "x2": ["max", "count"], "text": ["nunique", "first"]}}},
)
def group_by(
    data: LazyTable,
    *,
    keys: Annotated[list[str], Param(column_of="*", help="group rows by these columns; empty aggregates the whole table")],
    aggregations: Annotated[dict[str, list[Aggregate]], Param(help="column -> functions, e.g. {\"amount\": [\"sum\", \"mean\"]}; output columns are named amount_sum, amount_mean")],
    count_column: Annotated[str | None, Param(help="add the number of rows in each group under this name; empty for none")] = "count",
) -> LazyTable:
    """Aggregate rows per group (DuckDB, out of core), one output row per group, sorted by the keys.

    Functions: count (non-missing values), sum, mean, median, min, max, std and var (sample,
    like pandas), nunique, first and last (first/last non-missing value in row order). Missing
    keys form their own group, last.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"shop": ["b", "a", "b"], "amount": [5.0, 7.0, 2.0]})
    >>> group_by(sales, keys=["shop"], aggregations={"amount": ["sum", "max"]}).to_pandas().to_dict("list")
    {'shop': ['a', 'b'], 'amount_sum': [7.0, 7.0], 'amount_max': [7.0, 5.0], 'count': [1, 2]}
    """
    if not aggregations and not count_column:
        raise ParameterError("nothing to compute: give 'aggregations' or a 'count_column'")
    types = column_types(data)
    check_columns(aggregations, types, param="aggregations")
    select = [quote(name) for name in keys]
    parts: list[PartialAggregate] = []
    taken = set(keys)
    for name, functions in aggregations.items():
        for function in functions:
            column = quote(name)
            if function in _NUMERIC_ONLY:
                if types[name].upper() == "BOOLEAN":
                    column = f"CAST({column} AS INTEGER)"
                elif not is_numeric(types[name]):
                    raise DataError(f"parameter 'aggregations': column '{name}' is {types[name]}, so '{function}' does not apply (it needs numbers)")
            expression = _SQL_AGGREGATES[function].format(c=column)
            if function == "sum" and types[name].upper() in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "BOOLEAN"):
                expression = f"CAST({expression} AS BIGINT)"
            output = f"{name}_{function}"
            if output in taken:
                raise DataError(f"parameter 'aggregations': output column '{output}' would appear twice")
            taken.add(output)
            select.append(f"{expression} AS {quote(output)}")
            parts.append(PartialAggregate(output, function, column))
    if count_column:
        if count_column in taken:
            raise DataError(f"parameter 'count_column': '{count_column}' is already an output column; choose another name")
        select.append(f"count(*) AS {quote(count_column)}")
    needs_rows = any(function in ("first", "last") for functions in aggregations.values() for function in functions)
    con = connect(data)
    register(con, "data", data, row_numbers=needs_rows)
    query = f"SELECT {', '.join(select)} FROM data"
    if keys:
        query += f" GROUP BY {column_list(keys)} ORDER BY {', '.join(quote(key) + ' NULLS LAST' for key in keys)}"
    return aggregate(con, query, data, keys=keys, aggregates=parts, count_column=count_column, what="group_by")


@component("data.pivot", title="Pivot", tags={"sample_params": {"index": ["label"], "pivot_column": "cat", "value_column": "x1"}})
def pivot(
    data: pd.DataFrame,
    *,
    index: Annotated[list[str], Param(column_of="*", help="columns that identify an output row")],
    pivot_column: Annotated[Column, Param(help="its values become the new column names")],
    value_column: Annotated[Column, Param(help="the values to fill the new columns with")],
    agg: Annotated[Literal["mean", "sum", "count", "min", "max", "median", "first", "last"], Param(help="how several values in one cell combine")] = "mean",
    fill_value: Annotated[float | None, Param(help="value for cells with no data; empty leaves them missing")] = None,
    max_columns: Annotated[int, Param(ge=1, help="stop with an error when the pivot column has more distinct values")] = 1000,
) -> pd.DataFrame:
    """Turn the values of one column into columns (long to wide), as pandas ``pivot_table`` does.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"day": [1, 1, 2], "city": ["Oslo", "Lima", "Oslo"], "temp": [3.0, 20.0, 5.0]})
    >>> pivot(long, index=["day"], pivot_column="city", value_column="temp").to_dict("list")
    {'day': [1, 2], 'Lima': [20.0, nan], 'Oslo': [3.0, 5.0]}
    """
    if not index:
        raise ParameterError("parameter 'index' is empty: name the columns that identify an output row")
    distinct = data[pivot_column].nunique()
    if distinct > max_columns:
        raise DataError(f"column '{pivot_column}' has {distinct} distinct values, more than max_columns={max_columns}; pick another column or raise the limit")
    if agg in ("mean", "sum", "median") and not pd.api.types.is_numeric_dtype(data[value_column]):
        raise DataError(f"parameter 'value_column': column '{value_column}' is {data[value_column].dtype}; agg={agg} needs numbers (use first, last or count)")
    wide = pd.pivot_table(data, index=index, columns=pivot_column, values=value_column, aggfunc=agg, fill_value=fill_value, observed=True)
    wide.columns = [str(name) for name in wide.columns]
    clashes = sorted(set(wide.columns) & set(index))
    if clashes:
        raise DataError(f"pivoted value {clashes[0]!r} of '{pivot_column}' would clash with an index column; rename first")
    return wide.reset_index()


@component("data.unpivot", title="Unpivot", tags={"sample_params": {"id_columns": ["id"], "value_columns": ["x1", "x2"]}})
def unpivot(
    data: pd.DataFrame,
    *,
    id_columns: Annotated[list[str], Param(column_of="*", help="columns kept on every output row")],
    value_columns: Annotated[Columns, Param(help="columns turned into rows; empty means all the others")] = None,
    name_column: Annotated[str, Param(help="new column holding the former column names")] = "variable",
    value_name: Annotated[str, Param(help="new column holding the values")] = "value",
) -> pd.DataFrame:
    """Turn columns into rows (wide to long), as pandas ``melt`` does: one row per id and column.

    Examples
    --------
    >>> import pandas as pd
    >>> wide = pd.DataFrame({"day": [1, 2], "Oslo": [3.0, 5.0], "Lima": [20.0, 21.0]})
    >>> unpivot(wide, id_columns=["day"], name_column="city", value_name="temp")["city"].tolist()
    ['Oslo', 'Oslo', 'Lima', 'Lima']
    """
    for name in (name_column, value_name):
        if name in id_columns:
            raise DataError(f"'{name}' is an id column; choose other names for 'name_column' and 'value_name'")
    if name_column == value_name:
        raise ParameterError("'name_column' and 'value_name' must differ")
    return pd.melt(data, id_vars=id_columns, value_vars=value_columns, var_name=name_column, value_name=value_name)


def _ordered_groups(data: pd.DataFrame, order_by: str | None, group_by: list[str] | None) -> tuple[pd.DataFrame, object]:
    """Rows in time order (stable), and the grouping to shift or roll within."""
    frame = data.reset_index(drop=True)
    ordered = frame.sort_values(order_by, kind="stable") if order_by else frame
    grouped = ordered.groupby(group_by, sort=False, dropna=False) if group_by else ordered
    return frame, grouped


def _numeric(data: pd.DataFrame, columns: list[str]) -> None:
    if not columns:
        raise ParameterError("parameter 'columns' is empty: name at least one column")
    for name in columns:
        if not pd.api.types.is_numeric_dtype(data[name]) or pd.api.types.is_bool_dtype(data[name]):
            raise DataError(f"parameter 'columns': column '{name}' is {data[name].dtype}, not numeric")


@component("data.lag", title="Lag Columns", tags={"sample": "timeseries", "sample_params": {"columns": ["value"], "order_by": "time", "group_by": ["group"], "lags": [1, 2, -1]}})
def lag(
    data: pd.DataFrame,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="columns to lag")],
    lags: Annotated[list[int] | None, Param(help="steps back (negative: ahead, a lead); default [1]")] = None,
    order_by: Annotated[Column | None, Param(help="the time column; empty uses the current row order")] = None,
    group_by: Annotated[Columns, Param(help="lag within each group (e.g. each store) separately")] = None,
) -> pd.DataFrame:
    """Add lagged (or lead) copies of columns: ``sales_lag1`` holds the previous row's sales.

    Rows are ordered by ``order_by`` within each group; the output keeps the input row order.
    The first rows of each group have nothing to look back on and get missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": [3, 1, 2], "sales": [30.0, 10.0, 20.0]})
    >>> lag(frame, columns=["sales"], order_by="t")["sales_lag1"].tolist()
    [20.0, nan, 10.0]
    """
    steps = lags if lags is not None else [1]
    if not steps or 0 in steps:
        raise ParameterError("parameter 'lags' needs non-zero steps, e.g. [1, 7] (negative for leads)")
    _numeric(data, columns)
    frame, grouped = _ordered_groups(data, order_by, group_by)
    result = frame.copy()
    for name in columns:
        for step in steps:
            label = f"{name}_lag{step}" if step > 0 else f"{name}_lead{-step}"
            if label in result.columns:
                raise DataError(f"output column '{label}' already exists in the input; rename it first")
            result[label] = grouped[name].shift(step)  # aligned back on the original row index
    return result


@component("data.rolling", title="Rolling Window", tags={"sample": "timeseries", "sample_params": {"columns": ["value"], "order_by": "time", "group_by": ["group"], "functions": ["mean", "max"]}})
def rolling(
    data: pd.DataFrame,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="columns to summarize")],
    window: Annotated[int, Param(ge=1, help="rows in the window, the current one included")] = 3,
    functions: Annotated[list[Literal["mean", "sum", "min", "max", "std", "median"]] | None, Param(help="statistics over the window; default [mean]")] = None,
    min_periods: Annotated[int | None, Param(ge=1, help="fewest rows that give a value; default: the whole window")] = None,
    order_by: Annotated[Column | None, Param(help="the time column; empty uses the current row order")] = None,
    group_by: Annotated[Columns, Param(help="roll within each group separately")] = None,
) -> pd.DataFrame:
    """Add rolling-window statistics over the last ``window`` rows: ``sales_rolling3_mean`` ...

    Windows look back only (the current row and those before it, in ``order_by`` order within
    each group); the output keeps the input row order.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"sales": [1.0, 2.0, 3.0, 4.0]})
    >>> rolling(frame, columns=["sales"], window=2)["sales_rolling2_mean"].tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    chosen = functions or ["mean"]
    if min_periods is not None and min_periods > window:
        raise ParameterError(f"'min_periods' ({min_periods}) cannot exceed 'window' ({window})")
    _numeric(data, columns)
    frame, grouped = _ordered_groups(data, order_by, group_by)
    result = frame.copy()
    for name in columns:
        windows = grouped[name].rolling(window, min_periods=min_periods)
        for function in chosen:
            label = f"{name}_rolling{window}_{function}"
            if label in result.columns:
                raise DataError(f"output column '{label}' already exists in the input; rename it first")
            values = getattr(windows, function)()
            if group_by:
                values = values.reset_index(level=list(range(len(group_by))), drop=True)
            result[label] = values
    return result
