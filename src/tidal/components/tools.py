"""Tools: SQL and Python scripts, a preview with column statistics, charts and data checks."""

from __future__ import annotations

import json
import traceback
from typing import Annotated, Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tidal.components._charts import SCHEMA, bar_chart
from tidal.components._sql import (
    ROW,
    column_list,
    column_types,
    connect,
    fetch,
    fetch_frame,
    first_line,
    is_numeric,
    missing,
    quote,
    register,
    to_lazy,
)
from tidal.core import (
    Column,
    Columns,
    DataError,
    Figure,
    LazyTable,
    Metrics,
    Param,
    ParameterError,
    component,
)


def _tables(t1: Any, t2: Any, t3: Any) -> dict[str, Any]:
    return {name: table for name, table in (("t1", t1), ("t2", t2), ("t3", t3)) if table is not None}


@component("tools.sql_script", title="SQL Script", tags={"sample_params": {"script": "CREATE TEMP TABLE big AS SELECT * FROM t1 WHERE x1 > 0;\nSELECT big.id, big.x1, t2.cat FROM big JOIN t2 USING (id) ORDER BY big.id"}})
def sql_script(
    t1: LazyTable | None = None,
    t2: LazyTable | None = None,
    t3: LazyTable | None = None,
    *,
    script: Annotated[str, Param(widget="sql", help="DuckDB statements separated by ';' over the tables t1, t2, t3; the last one is a SELECT whose result is the output")] = "SELECT * FROM t1",
) -> LazyTable:
    """Run a DuckDB SQL script over the inputs: temporary tables, macros, then a final SELECT.

    Statements run in order in one private database; the result of the last (a SELECT) is the
    output, streamed. The script can read only its input tables: no other files, no network.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"shop": ["a", "b", "a"], "amount": [5, 7, 2]})
    >>> script = '''
    ... CREATE MACRO vat(x) AS x * 5 / 4;
    ... SELECT shop, vat(amount) AS gross FROM t1 ORDER BY gross DESC;
    ... '''
    >>> sql_script(sales, script=script).to_pandas()["gross"].tolist()
    [8.75, 6.25, 2.5]
    """
    tables = _tables(t1, t2, t3)
    con = connect(*tables.values())
    for name, table in tables.items():
        register(con, name, table)
    try:
        statements = con.extract_statements(script)
    except duckdb.Error as error:
        raise DataError(f"parameter 'script': {first_line(error)}") from None
    if not statements:
        raise ParameterError("parameter 'script' is empty: end it with a SELECT")
    if statements[-1].type != duckdb.StatementType.SELECT:
        raise ParameterError("parameter 'script': the last statement must be a SELECT; its result is the output")
    for number, statement in enumerate(statements[:-1], start=1):
        fetch(con, statement.query, what=f"parameter 'script', statement {number}")
    final = statements[-1].query.strip().rstrip(";")
    return to_lazy(con, final, what=f"parameter 'script', statement {len(statements)} (connected tables: {', '.join(tables) or 'none'})")


_DEFAULT_CODE = "def run(t1, t2=None, t3=None):\n    return t1\n"


@component(
    "tools.python_script",
    title="Python Script",
    tags={"runs_user_code": True, "sample_params": {"code": "def run(t1, t2=None, t3=None):\n    out = t1.copy()\n    out['x_sum'] = out['x1'] + out['x2']\n    return out\n"}},
)
def python_script(
    t1: pd.DataFrame,
    t2: pd.DataFrame | None = None,
    t3: pd.DataFrame | None = None,
    *,
    code: Annotated[str, Param(widget="code", help="Python defining run(t1, t2=None, t3=None) that returns a DataFrame; pd and np are imported")] = _DEFAULT_CODE,
) -> pd.DataFrame:
    """Run your own Python code on the inputs: ``run(t1, t2, t3)`` returns the output table.

    THIS RUNS ARBITRARY USER CODE with all the rights of the Tidal process (files, network,
    processes). Only run pipelines whose code you trust. The code must define a function
    ``run`` taking the connected inputs as pandas DataFrames (unconnected ones are None) and
    returning a DataFrame (or a pyarrow Table, a Series or a dict of columns). ``pd`` and ``np``
    are available. Keep it deterministic: seed any randomness.

    Examples
    --------
    >>> import pandas as pd
    >>> code = '''
    ... def run(t1, t2=None, t3=None):
    ...     return t1.assign(total=t1["price"] * t1["qty"])
    ... '''
    >>> python_script(pd.DataFrame({"price": [2.0, 3.0], "qty": [4, 5]}), code=code)["total"].tolist()
    [8.0, 15.0]
    """
    try:
        compiled = compile(code, "<code>", "exec")
    except SyntaxError as error:
        raise DataError(f"parameter 'code': syntax error at line {error.lineno}: {error.msg}") from None
    namespace: dict[str, Any] = {"pd": pd, "np": np, "__name__": "tidal_user_code"}
    try:
        exec(compiled, namespace)  # noqa: S102 - running user code is this component's purpose
        run = namespace.get("run")
        if not callable(run):
            raise DataError("parameter 'code' must define a function run(t1, t2=None, t3=None) that returns a table")
        result = run(t1.copy(), None if t2 is None else t2.copy(), None if t3 is None else t3.copy())
    except DataError:
        raise
    except Exception as error:
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<code>"]
        where = f" at line {lines[-1]}" if lines else ""
        raise DataError(f"parameter 'code': the script raised {type(error).__name__}{where}: {error}") from None
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pa.Table):
        return result.to_pandas()
    if isinstance(result, pd.Series):
        return result.to_frame()
    if isinstance(result, dict):
        try:
            return pd.DataFrame(result)
        except ValueError as error:
            raise DataError(f"parameter 'code': run() returned a dict that is not a table: {error}") from None
    raise DataError(f"parameter 'code': run() must return a DataFrame, got {type(result).__name__}")


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numbers stay numbers, NaN becomes None, anything else text."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return str(value)


@component("tools.preview", title="Preview", tags={})
def preview(
    data: LazyTable,
    *,
    rows: Annotated[int, Param(ge=0, le=1000, help="how many first rows to show")] = 10,
) -> Metrics:
    """Look at a table: its first rows and, per column, type, missing values, distinct values,
    min, max, mean and standard deviation (computed by DuckDB over all rows, out of core).

    Examples
    --------
    >>> import pandas as pd
    >>> result = preview(pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]}), rows=2)
    >>> result["rows"], len(result.tables["head"])
    (3, 2)
    >>> result.tables["columns"][0]
    {'column': 'x', 'type': 'DOUBLE', 'non_missing': 2, 'missing': 1, 'distinct': 2, 'min': 1.0, 'max': 3.0, 'mean': 2.0, 'std': 1.414...}
    """
    types = column_types(data)
    con = connect(data, nan_checks=True)
    register(con, "data", data)
    parts = ["count(*)"]
    for name, kind in types.items():
        column = quote(name)
        parts += [f"count(*) FILTER (WHERE {missing(name, kind)})", f"count(DISTINCT {column})"]
        if is_numeric(kind):
            valid = f"CASE WHEN isfinite({column}::DOUBLE) THEN {column}::DOUBLE END"
            parts += [f"min({valid})", f"max({valid})", f"avg({valid})", f"stddev_samp({valid})"]
        else:
            parts += [f"min({column})::VARCHAR", f"max({column})::VARCHAR", "NULL", "NULL"]
    stats = fetch(con, f"SELECT {', '.join(parts)} FROM data", what="preview")[0]
    total = int(stats[0])
    columns = []
    for index, (name, kind) in enumerate(types.items()):
        gaps, distinct, low, high, mean, std = stats[1 + 6 * index : 7 + 6 * index]
        columns.append(
            {"column": name, "type": kind, "non_missing": total - int(gaps), "missing": int(gaps), "distinct": int(distinct),
             "min": _plain(low), "max": _plain(high), "mean": _plain(mean), "std": _plain(std)}
        )
    head = fetch_frame(con, f"SELECT * FROM data LIMIT {int(rows)}", what="preview")
    head_rows = json.loads(head.to_json(orient="records", date_format="iso", default_handler=str))
    figures = {}
    if columns:
        shares = [item["missing"] / total if total else 0.0 for item in columns]
        figures["missing"] = bar_chart([item["column"] for item in columns], shares, x="column", y="missing_share", title="Share of missing values")
    return Metrics({"rows": total, "columns": len(types)}, figures=figures, tables={"head": head_rows, "columns": columns})


def _vega_field(name: str) -> str:
    """Vega-Lite reads dots and brackets in a field name as nesting; escape them."""
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def _vega_type(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "temporal"
    return "quantitative" if is_numeric(upper) else "nominal"


@component("tools.chart", title="Chart", tags={"sample_params": {"mark": "point", "x": "x1", "y": "x2", "color": "cat"}})
def chart(
    data: LazyTable,
    *,
    x: Annotated[Column, Param(help="column on the x axis")],
    y: Annotated[Column | None, Param(help="column on the y axis (empty with aggregate=count)")] = None,
    color: Annotated[Column | None, Param(help="column that colours the marks")] = None,
    mark: Annotated[Literal["point", "line", "bar", "area", "tick", "rect", "boxplot", "circle"], Param(help="Vega-Lite mark")] = "point",
    aggregate: Annotated[Literal["none", "count", "sum", "mean", "median", "min", "max"], Param(help="aggregate y per x (and colour), computed by DuckDB")] = "none",
    title: Annotated[str | None, Param(help="chart title")] = None,
    max_rows: Annotated[int, Param(ge=1, le=100_000, help="most rows embedded in the chart (the first ones)")] = 5000,
) -> Figure:
    """Draw a chart of your choice (Vega-Lite): mark, x, y and colour, optionally aggregated.

    Aggregation runs in DuckDB over all rows, so a bar chart of sums works on any size of table;
    without it the first ``max_rows`` rows are drawn.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"shop": ["a", "b", "a"], "amount": [5, 7, 2]})
    >>> spec = chart(sales, x="shop", y="amount", mark="bar", aggregate="sum")
    >>> spec["data"]["values"], spec["encoding"]["y"]["title"]
    ([{'shop': 'a', 'amount': 7.0}, {'shop': 'b', 'amount': 7.0}], 'sum of amount')
    """
    types = column_types(data)
    if y is None and aggregate != "count":
        raise ParameterError("parameter 'y' is empty: name a column, or set aggregate=count")
    if aggregate not in ("none", "count") and not is_numeric(types[str(y)]):
        raise DataError(f"parameter 'y': column '{y}' is {types[str(y)]}; aggregate={aggregate} needs numbers")
    con = connect(data)
    register(con, "data", data, row_numbers=True)
    groups = [name for name in (x, color) if name is not None]
    if aggregate == "none":
        picked = list(dict.fromkeys(name for name in (x, y, color) if name is not None))
        query = f"SELECT {column_list(picked)} FROM data ORDER BY {ROW} LIMIT {max_rows}"
        y_name = y
    else:
        y_name = y if y is not None else "count"
        function = {"mean": "avg"}.get(aggregate, aggregate)
        value = "count(*)" if y is None else f"{function}({quote(y)})::DOUBLE"
        query = (
            f"SELECT {column_list(groups)}, {value} AS {quote(str(y_name))} FROM data GROUP BY {column_list(groups)} "
            f"ORDER BY {column_list(groups)} LIMIT {max_rows}"
        )
    frame = fetch_frame(con, query, what="chart")
    values = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    encoding: dict[str, Any] = {"x": {"field": _vega_field(x), "type": _vega_type(types[x]), "title": x}}
    if y_name is not None:
        y_type = "quantitative" if aggregate != "none" else _vega_type(types[y_name])
        y_title = y_name if aggregate in ("none", "count") else f"{aggregate} of {y_name}"
        encoding["y"] = {"field": _vega_field(str(y_name)), "type": y_type, "title": y_title}
    if color is not None:
        encoding["color"] = {"field": _vega_field(color), "type": _vega_type(types[color]), "title": color}
    spec = {
        "$schema": SCHEMA,
        "title": title or f"{encoding.get('y', {}).get('title', '')} by {x}".strip(),
        "width": 400,
        "height": 300,
        "data": {"values": values},
        "mark": {"type": mark, "tooltip": True},
        "encoding": encoding,
    }
    return Figure(spec)


@component("tools.assert_rows", title="Check Data", tags={"sample_params": {"min_rows": 10, "not_null": ["id", "x1"], "unique": ["id"], "where": "n1 >= 0"}})
def assert_rows(
    data: LazyTable,
    *,
    min_rows: Annotated[int | None, Param(ge=0, help="fail with fewer rows")] = 1,
    max_rows: Annotated[int | None, Param(ge=0, help="fail with more rows")] = None,
    not_null: Annotated[Columns, Param(help="these columns must have no missing values")] = None,
    unique: Annotated[Columns, Param(help="no two rows may share these columns' values (together)")] = None,
    where: Annotated[str | None, Param(widget="sql", help="a SQL condition every row must satisfy, e.g. price >= 0")] = None,
) -> LazyTable:
    """Check the data and stop the pipeline with a clear message when a check fails; else pass it on.

    Every check runs (out of core, in DuckDB) and every failure is reported at once, with the
    first offending row number and values, so a bad input never reaches training silently.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": [1, 2, 2], "price": [3.0, -1.0, 4.0]})
    >>> assert_rows(frame, unique=["id"], where="price >= 0")
    Traceback (most recent call last):
    ...
    tidal.core._errors.DataError: 2 data checks failed:
      - unique: 1 repeated value of (id), first at row 2: {'id': 2}
      - where: 1 row breaks 'price >= 0', first at row 1: {'id': 2, 'price': -1.0}
    """
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        raise ParameterError(f"'min_rows' ({min_rows}) is above 'max_rows' ({max_rows})")
    types = column_types(data)
    con = connect(data, nan_checks=True)
    register(con, "data", data, row_numbers=True)
    failures = []
    total = fetch(con, "SELECT count(*) FROM data", what="assert_rows")[0][0]
    if min_rows is not None and total < min_rows:
        failures.append(f"min_rows: the table has {total} rows, fewer than {min_rows}")
    if max_rows is not None and total > max_rows:
        failures.append(f"max_rows: the table has {total} rows, more than {max_rows}")
    for name in not_null or []:
        test = missing(name, types[name])
        found = _offenders(con, test, [name])
        if found:
            failures.append(f"not_null: column '{name}' has {found[0]} missing value{'s' * (found[0] != 1)}, first at row {found[1]}")
    if unique:
        ranked = f"SELECT *, row_number() OVER (PARTITION BY {column_list(unique)} ORDER BY {ROW}) AS __tidal_rank FROM data"
        found = _offenders(con, "__tidal_rank > 1", unique, source=f"({ranked})")
        if found:
            failures.append(f"unique: {found[0]} repeated value{'s' * (found[0] != 1)} of ({', '.join(unique)}), first at row {found[1]}: {found[2]}")
    if where:
        condition = where.strip().rstrip(";")
        found = _offenders(con, f"NOT coalesce(({condition}), false)", list(types), source="data", what="parameter 'where'")
        if found:
            failures.append(f"where: {found[0]} row{'s' * (found[0] != 1)} break{'s' * (found[0] == 1)} {condition!r}, first at row {found[1]}: {found[2]}")
    if failures:
        count = len(failures)
        raise DataError(f"{count} data check{'s' * (count != 1)} failed:\n" + "\n".join(f"  - {item}" for item in failures))
    return data


def _offenders(con: duckdb.DuckDBPyConnection, test: str, shown: list[str], *, source: str = "data", what: str = "assert_rows") -> tuple[int, int, dict[str, Any]] | None:
    """(count, first row number, that row's values) of rows where ``test`` holds, or None."""
    query = (
        f"SELECT count(*) OVER (), {ROW}, {column_list(shown)} FROM {source} WHERE {test} ORDER BY {ROW} LIMIT 1"
    )
    rows = fetch(con, query, what=what)
    if not rows:
        return None
    count, row, *values = rows[0]
    return int(count), int(row), {name: _plain(value) for name, value in zip(shown, values, strict=True)}
