"""Sandboxed DuckDB for the SQL operators of stream jobs (select, filter, map).

The same lock-down as the component library's SQL sandbox (``tidal.components._sql.connect``),
which this layer cannot import: no file is allowed, external access and extension loading are
off and the configuration is locked, so an expression can read only the micro-batch registered
as the view ``batch``. On top of that, a query must be exactly one ``SELECT`` statement.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from tidal.core._errors import DataError

HINT = ("refused by the SQL sandbox: a stream step's SQL reads only the micro-batch (the view 'batch'); "
        "it cannot open files, ATTACH databases, INSTALL or LOAD extensions, or change settings")


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET allowed_paths = []")
    con.execute("SET allowed_directories = []")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET threads = 1")
    con.execute("SET lock_configuration = true")
    return con


def check_select(query: str, *, where: str) -> None:
    """Refuse anything but one SELECT statement, naming the step."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as error:
        raise DataError(f"{where}: not valid SQL: {str(error).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise DataError(f"{where}: the SQL must be one SELECT over the micro-batch; it holds "
                        f"{', '.join(s.type.name for s in statements) or 'nothing'} ({HINT})")


def run(con: duckdb.DuckDBPyConnection, query: str, batch: pd.DataFrame, *, where: str) -> pd.DataFrame:
    check_select(query, where=where)
    con.register("batch", batch)
    try:
        return con.sql(query).to_arrow_table().to_pandas()
    except duckdb.PermissionException as error:
        raise DataError(f"{where}: {str(error).splitlines()[0]} ({HINT})") from None
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        if "configuration has been locked" in message:
            message += f" ({HINT})"
        raise DataError(f"{where}: {message}") from None
    finally:
        con.unregister("batch")
