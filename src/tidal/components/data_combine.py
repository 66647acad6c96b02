"""Combining tables: join, union and SQL over several inputs; all stream through DuckDB."""

from __future__ import annotations

from typing import Annotated, Literal

import duckdb

from tidal.components._partitioned import broadcast_join, local, rowwise
from tidal.components._row_local import is_row_local
from tidal.components._sql import (
    ROW,
    column_list,
    connect,
    first_line,
    quote,
    register,
    to_lazy,
)
from tidal.core import DataError, LazyTable, Param, ParameterError, component

_JOINS = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "full": "FULL OUTER"}


@component("data.join", title="Join", tags={"sample_params": {"on": ["id"]}})
def join(
    left: LazyTable,
    right: LazyTable,
    *,
    on: Annotated[list[str], Param(column_of="left", help="key columns of 'left' (and of 'right' unless right_on is set)")],
    right_on: Annotated[list[str] | None, Param(column_of="right", help="key columns of 'right' when they are named differently")] = None,
    how: Annotated[Literal["inner", "left", "right", "full"], Param(help="which unmatched rows to keep")] = "inner",
    suffix: Annotated[str, Param(help="added to a column of 'right' whose name 'left' already uses")] = "_right",
) -> LazyTable:
    """Join two tables on key columns (inner, left, right or full outer), out of core with DuckDB.

    Like pandas ``merge(..., suffixes=("", suffix))``: keys named alike appear once; rows come in
    the order of ``left`` (of ``right`` for a right join), matches in the order of the other
    side. Missing keys never match (SQL semantics).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"shop": [1, 2, 1, 3], "total": [5, 7, 2, 9]})
    >>> shops = pd.DataFrame({"shop": [1, 2], "city": ["Oslo", "Lima"]})
    >>> join(orders, shops, on=["shop"], how="left").to_pandas()["city"].tolist()
    ['Oslo', 'Lima', 'Oslo', nan]
    """
    if not on:
        raise ParameterError("parameter 'on' is empty: name at least one key column")
    right_keys = list(right_on) if right_on else list(on)
    if len(right_keys) != len(on):
        raise ParameterError(f"'on' names {len(on)} key(s) but 'right_on' names {len(right_keys)}; give one right key per left key")
    shared = right_on is None or list(right_on) == list(on)
    select, taken = [], set(left.columns)
    for name in left.columns:
        if shared and name in on:
            expression = {"inner": f"l.{quote(name)}", "left": f"l.{quote(name)}", "right": f"r.{quote(name)}"}.get(how, f"coalesce(l.{quote(name)}, r.{quote(name)})")
            select.append(f"{expression} AS {quote(name)}")
        else:
            select.append(f"l.{quote(name)}")
    for name in right.columns:
        if shared and name in right_keys:
            continue
        output = name + suffix if name in taken else name
        if output in taken:
            raise DataError(f"parameter 'suffix': column '{name}' of 'right' would become '{output}', which 'left' already has; choose another suffix")
        taken.add(output)
        select.append(f"r.{quote(name)} AS {quote(output)}")
    condition = " AND ".join(f"l.{quote(a)} = r.{quote(b)}" for a, b in zip(on, right_keys, strict=True))
    order = f"r.{ROW}, l.{ROW}" if how == "right" else f"l.{ROW}, r.{ROW}"
    query = (
        f"SELECT {', '.join(select)} FROM {quote('left')} AS l "
        f"{_JOINS[how]} JOIN {quote('right')} AS r ON {condition} ORDER BY {order} NULLS LAST"
    )
    con = connect(left, right)
    register(con, "left", left, row_numbers=True)
    register(con, "right", right, row_numbers=True)
    return broadcast_join(con, query, left, right, how=how, left_view="left", right_view="right",
                          what="cannot join on 'on'/'right_on' (do the key types match?)")


@component("data.union", title="Union", tags={})
def union(
    data: LazyTable,
    other: LazyTable,
    *,
    by_name: Annotated[bool, Param(help="match columns by name (missing ones become empty); else by position")] = True,
    distinct: Annotated[bool, Param(help="drop duplicate rows, keeping the first")] = False,
    source_column: Annotated[str | None, Param(help="add a column saying which input each row came from ('data' or 'other')")] = None,
) -> LazyTable:
    """Stack the rows of two tables: ``data`` first, then ``other`` (SQL ``UNION ALL``).

    By name, a column only one input has is filled with missing values on the other's rows; by
    position, both inputs need the same number of columns and the names of ``data`` are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> jan = pd.DataFrame({"shop": ["a", "b"], "sales": [1, 2]})
    >>> feb = pd.DataFrame({"sales": [3], "shop": ["a"]})
    >>> union(jan, feb, source_column="month").to_pandas().to_dict("list")
    {'shop': ['a', 'b', 'a'], 'sales': [1, 2, 3], 'month': ['data', 'data', 'other']}
    """
    names = list(data.columns)
    if by_name:
        names += [name for name in other.columns if name not in names]
        combined = "SELECT *, 1 AS __tidal_part FROM data UNION ALL BY NAME SELECT *, 2 AS __tidal_part FROM other"
    else:
        if len(other.columns) != len(names):
            raise DataError(f"by position needs the same number of columns: 'data' has {len(names)}, 'other' has {len(other.columns)}; or set by_name=true")
        renamed = ", ".join(f"{quote(b)} AS {quote(a)}" for a, b in zip(names, other.columns, strict=True))
        combined = f"SELECT {column_list(names)}, {ROW}, 1 AS __tidal_part FROM data UNION ALL SELECT {renamed}, {ROW}, 2 FROM other"
    if source_column is not None and source_column in names:
        raise DataError(f"parameter 'source_column': an input already has a column '{source_column}'; choose another name")
    con = connect(data, other)
    register(con, "data", data, row_numbers=True)
    register(con, "other", other, row_numbers=True)
    if distinct and names:
        ranked = f"SELECT *, row_number() OVER (PARTITION BY {column_list(names)} ORDER BY __tidal_part, {ROW}) AS __tidal_rank FROM ({combined})"
        combined = f"SELECT * FROM ({ranked}) WHERE __tidal_rank = 1"
    source = f", CASE __tidal_part WHEN 1 THEN 'data' ELSE 'other' END AS {quote(source_column)}" if source_column else ""
    query = f"SELECT {column_list(names)}{source} FROM ({combined}) ORDER BY __tidal_part, {ROW}"
    return to_lazy(con, query, what="cannot stack the tables (do the column types match?)")


@component("data.sql", title="SQL Transform", tags={"sample_params": {"query": "SELECT t1.id, t1.x1, t2.cat FROM t1 JOIN t2 USING (id) ORDER BY t1.id"}})
def sql(
    t1: LazyTable,
    t2: LazyTable | None = None,
    t3: LazyTable | None = None,
    *,
    query: Annotated[str, Param(widget="sql", help="one DuckDB SELECT over the tables t1, t2 and t3")] = "SELECT * FROM t1",
) -> LazyTable:
    """Transform one to three tables with one DuckDB SQL query; the inputs are the tables t1, t2, t3.

    Joins, window functions, aggregates, CTEs: anything DuckDB's SELECT does, streamed. Add an
    ``ORDER BY`` when row order matters: joins and aggregates do not keep one by themselves.
    For several statements, use ``tools.sql_script``.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"shop": ["a", "b", "a"], "amount": [5, 7, 2]})
    >>> sql(sales, query="SELECT shop, count(*) AS n FROM t1 GROUP BY shop ORDER BY shop").to_pandas()["n"].tolist()
    [2, 1]
    """
    text = query.strip().rstrip(";").strip()
    connected = {name: table for name, table in (("t1", t1), ("t2", t2), ("t3", t3)) if table is not None}
    con = connect(*connected.values())
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as error:
        raise DataError(f"parameter 'query': {first_line(error)}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ParameterError("parameter 'query' must be exactly one SELECT (for several statements use tools.sql_script)")
    for name, table in connected.items():
        register(con, name, table)
    hint = "" if len(connected) == 3 else f" (connected tables: {', '.join(connected)})"
    what = f"parameter 'query'{hint}"
    if len(connected) > 1:
        return local(con, text, what=what, reason="a query over several tables")
    return rowwise(con, text, t1, what=what, view="t1", unless=lambda: is_row_local(con, text, "t1"))
