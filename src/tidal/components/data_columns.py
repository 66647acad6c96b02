"""Column operations: select, drop, rename, reorder and cast; all stream through DuckDB."""

from __future__ import annotations

from typing import Annotated, Literal

from tidal.components._partitioned import rowwise
from tidal.components._sql import (
    ROW,
    check_columns,
    column_list,
    column_types,
    connect,
    fetch,
    is_floating,
    quote,
    register,
)
from tidal.core import DataError, LazyTable, Param, ParameterError, component


def _named(columns: list[str], param: str) -> list[str]:
    if not columns:
        raise ParameterError(f"parameter '{param}' is empty: name at least one column")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise ParameterError(f"parameter '{param}' names {', '.join(map(repr, duplicates))} more than once")
    return columns


@component("data.select", title="Select Columns", tags={})
def select(
    data: LazyTable,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="the columns to keep, in this order")],
) -> LazyTable:
    """Keep only the named columns, in the order given.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1], "b c": [2], "d": [3]})
    >>> select(frame, columns=["d", "b c"]).columns
    ['d', 'b c']
    """
    con = connect(data)
    register(con, "data", data)
    return rowwise(con, f"SELECT {column_list(_named(columns, 'columns'))} FROM data", data, what="select")


@component("data.drop", title="Drop Columns", tags={})
def drop(
    data: LazyTable,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="the columns to remove")],
) -> LazyTable:
    """Remove the named columns and keep the rest in their order.

    Examples
    --------
    >>> import pandas as pd
    >>> drop(pd.DataFrame({"a": [1], "b": [2], "c": [3]}), columns=["b"]).columns
    ['a', 'c']
    """
    dropped = set(_named(columns, "columns"))
    kept = [name for name in data.columns if name not in dropped]
    if not kept:
        raise DataError("parameter 'columns' names every column; at least one must stay")
    con = connect(data)
    register(con, "data", data)
    return rowwise(con, f"SELECT {column_list(kept)} FROM data", data, what="drop")


@component("data.rename", title="Rename Columns", tags={"sample_params": {"mapping": {"x1": "first score", "cat": "colour"}}})
def rename(
    data: LazyTable,
    *,
    mapping: Annotated[dict[str, str], Param(help="old name -> new name, e.g. {\"cust_id\": \"customer\"}")],
) -> LazyTable:
    """Rename columns; the others keep their names, all keep their order.

    Examples
    --------
    >>> import pandas as pd
    >>> rename(pd.DataFrame({"a": [1], "b": [2]}), mapping={"a": "alpha"}).columns
    ['alpha', 'b']
    """
    if not mapping:
        raise ParameterError("parameter 'mapping' is empty: give at least one old -> new name")
    check_columns(mapping, data.columns, param="mapping")
    names = [mapping.get(name, name) for name in data.columns]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise DataError(f"parameter 'mapping': after renaming, {', '.join(map(repr, clashes))} would name more than one column")
    if any(not name for name in names):
        raise DataError("parameter 'mapping': a new name is empty")
    select_list = ", ".join(f"{quote(old)} AS {quote(new)}" for old, new in zip(data.columns, names, strict=True))
    con = connect(data)
    register(con, "data", data)
    return rowwise(con, f"SELECT {select_list} FROM data", data, what="rename")


@component("data.reorder", title="Reorder Columns", tags={})
def reorder(
    data: LazyTable,
    *,
    columns: Annotated[list[str], Param(column_of="*", help="these columns come first (or last), in this order; the rest keep theirs")],
    position: Annotated[Literal["first", "last"], Param(help="put the named columns first or last")] = "first",
) -> LazyTable:
    """Move the named columns to the front (or the back); no column is dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> reorder(pd.DataFrame({"a": [1], "b": [2], "c": [3]}), columns=["c", "b"]).columns
    ['c', 'b', 'a']
    """
    named = _named(columns, "columns")
    rest = [name for name in data.columns if name not in named]
    order = named + rest if position == "first" else rest + named
    con = connect(data)
    register(con, "data", data)
    return rowwise(con, f"SELECT {column_list(order)} FROM data", data, what="reorder")


#: the types data.cast offers, as DuckDB spells them
CAST_TYPES = {"int": "BIGINT", "float": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP"}
CastType = Literal["int", "float", "string", "bool", "date", "timestamp"]


@component("data.cast", title="Cast Types", tags={"sample_params": {"types": {"n1": "float", "x1": "string", "flag": "int"}}})
def cast(
    data: LazyTable,
    *,
    types: Annotated[dict[str, CastType], Param(help="column -> new type: int, float, string, bool, date or timestamp")],
    errors: Annotated[Literal["raise", "null"], Param(help="a value that does not convert: stop with an error, or make it missing")] = "raise",
) -> LazyTable:
    """Change column types (DuckDB casts). Floats cast to int are truncated toward zero, like pandas.

    Strings convert as written: ``'12'`` to int, ``'2024-03-01'`` to date, ``'true'``/``'1'`` to
    bool. With ``errors='raise'`` the first value that does not convert is named, with its row.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"n": ["1", "2", "x"], "f": [1.7, -1.7, 0.2]})
    >>> cast(frame, types={"n": "int", "f": "int"}, errors="null").to_pandas().to_dict("list")
    {'n': [1.0, 2.0, nan], 'f': [1, -1, 0]}
    """
    if not types:
        raise ParameterError("parameter 'types' is empty: give at least one column -> type")
    check_columns(types, data.columns, param="types")
    current = column_types(data)
    function = "TRY_CAST" if errors == "null" else "CAST"

    def converted(name: str) -> str:
        if name not in types:
            return quote(name)
        source = quote(name)
        if types[name] == "int" and (is_floating(current[name]) or current[name].upper().startswith("DECIMAL")):
            source = f"trunc({source})"
        return f"{function}({source} AS {CAST_TYPES[types[name]]}) AS {quote(name)}"

    con = connect(data)
    register(con, "data", data, row_numbers=True)
    query = f"SELECT {', '.join(converted(name) for name in data.columns)} FROM data"
    try:
        return rowwise(con, query, data, what="parameter 'types'")
    except DataError:
        for name, kind in types.items():
            target = CAST_TYPES[kind]
            bad = fetch(
                con,
                f"SELECT {ROW}, CAST({quote(name)} AS VARCHAR) FROM data "
                f"WHERE {quote(name)} IS NOT NULL AND TRY_CAST({quote(name)} AS {target}) IS NULL ORDER BY {ROW} LIMIT 1",
                what="parameter 'types'",
            )
            if bad:
                raise DataError(
                    f"parameter 'types': column '{name}' has value {bad[0][1]!r} at row {bad[0][0]} that is not a valid {kind}; "
                    "fix the data or set errors=null to make such values missing"
                ) from None
        raise

