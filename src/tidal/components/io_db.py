"""Databases: read and write tables through SQLAlchemy, and query files with DuckDB SQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from tidal.components._sql import connect, explain, literal, to_lazy
from tidal.components.io import existing_file
from tidal.core import DataError, InputFile, LazyTable, Metrics, Param, ParameterError, component

_URL_HELP = "SQLAlchemy URL, e.g. sqlite:///shop.db or postgresql://user:${DB_PASSWORD}@host/db; ${NAME} reads an environment variable"


def _engine(url: str) -> Any:
    import sqlalchemy

    expanded = os.path.expandvars(url)
    try:
        return sqlalchemy.create_engine(expanded)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as error:
        raise DataError(f"parameter 'url': {url!r} is not a usable database URL ({error})") from None
    except ImportError as error:
        raise DataError(f"parameter 'url': the database driver is not installed ({error}); install it with pip") from None


def _shown(engine: Any) -> str:
    return str(engine.url.render_as_string(hide_password=True))


@component("io.read_sql", title="Read SQL Database", side_effects=True, tags={"source": True, "sample": "none", "sample_params": {"url": "sqlite://", "query": "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, 'b'"}})
def read_sql(
    *,
    url: Annotated[str, Param(help=_URL_HELP)],
    query: Annotated[str | None, Param(widget="sql", help="a SELECT to run; or set 'table'")] = None,
    table: Annotated[str | None, Param(help="a whole table to read; or set 'query'")] = None,
    db_schema: Annotated[str | None, Param(help="database schema holding 'table'")] = None,
) -> pd.DataFrame:
    """Read a table or the result of a query from any database SQLAlchemy reaches.

    The database may change between runs, so this step always reads afresh (it is never taken
    from the cache). Keep passwords out of pipelines with ``${NAME}`` environment references.

    Examples
    --------
    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "shop.db")
    >>> with sqlite3.connect(path) as db:
    ...     _ = db.execute("CREATE TABLE orders (id INTEGER, total REAL)")
    ...     _ = db.execute("INSERT INTO orders VALUES (1, 9.5), (2, 20.0)")
    >>> read_sql(url=f"sqlite:///{path}", table="orders")["total"].tolist()
    [9.5, 20.0]
    >>> read_sql(url=f"sqlite:///{path}", query="SELECT count(*) AS n FROM orders")["n"].item()
    2
    """
    import sqlalchemy

    if (query is None) == (table is None):
        raise ParameterError("set exactly one of 'query' (a SELECT) or 'table' (a table name)")
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            if table is not None:
                if not sqlalchemy.inspect(connection).has_table(table, schema=db_schema):
                    known = sqlalchemy.inspect(connection).get_table_names(schema=db_schema)
                    raise DataError(f"parameter 'table': no table {table!r} in {_shown(engine)} (tables: {', '.join(known) or 'none'})")
                reflected = sqlalchemy.Table(table, sqlalchemy.MetaData(), schema=db_schema, autoload_with=connection)
                return pd.read_sql(sqlalchemy.select(reflected), connection)
            return pd.read_sql(sqlalchemy.text(str(query)), connection)
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as error:
        raise DataError(f"reading from {_shown(engine)} failed: {str(error).splitlines()[0]}") from None
    finally:
        engine.dispose()


@component("io.write_sql", title="Write SQL Database", side_effects=True, tags={"sink": True, "sample_params": {"url": "sqlite://", "table": "sample"}})
def write_sql(
    data: LazyTable,
    *,
    url: Annotated[str, Param(help=_URL_HELP)],
    table: Annotated[str, Param(help="the table to write")],
    db_schema: Annotated[str | None, Param(help="database schema holding 'table'")] = None,
    if_exists: Annotated[Literal["replace", "append", "fail"], Param(help="what to do when the table exists")] = "replace",
    batch_rows: Annotated[int, Param(ge=1, help="rows sent per batch")] = 50_000,
) -> Metrics:
    """Write a table into a database table through SQLAlchemy, batch by batch, in one transaction.

    Examples
    --------
    >>> import tempfile, os, pandas as pd
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "out.db")
    >>> write_sql(pd.DataFrame({"id": [1, 2, 3]}), url=url, table="ids")["rows"]
    3
    >>> read_sql(url=url, table="ids")["id"].tolist()
    [1, 2, 3]
    """
    import sqlalchemy

    engine = _engine(url)
    schema = data.schema
    rows = 0
    try:
        with engine.begin() as connection:
            exists = sqlalchemy.inspect(connection).has_table(table, schema=db_schema)
            if exists and if_exists == "fail":
                raise DataError(f"parameter 'table': table {table!r} already exists in {_shown(engine)}; set if_exists to replace or append")
            mode = if_exists if exists else "replace"
            batches = (batch for file in data.files for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows))
            first = True
            for batch in batches:
                frame = batch.to_pandas()
                frame.to_sql(table, connection, schema=db_schema, index=False, if_exists=mode if first else "append")
                rows += len(frame)
                first = False
            if first:  # an empty table still creates its columns
                schema.empty_table().to_pandas().to_sql(table, connection, schema=db_schema, index=False, if_exists=mode)
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as error:
        raise DataError(f"writing to {_shown(engine)} failed: {str(error).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return Metrics({"rows": rows, "columns": len(schema), "path": f"{_shown(engine)}#{table}", "table": table})


_FILE_READERS = {
    ".parquet": "read_parquet({})",
    ".csv": "read_csv({})",
    ".tsv": "read_csv({}, delim = '\t')",
    ".json": "read_json({})",
    ".jsonl": "read_json({}, format = 'newline_delimited')",
    ".ndjson": "read_json({}, format = 'newline_delimited')",
}


@component("io.duckdb_query", title="DuckDB Query", side_effects=True, tags={"source": True, "file_format": "parquet", "sample": "mixed"})
def duckdb_query(
    *,
    query: Annotated[str, Param(widget="sql", help="DuckDB SQL; the file in 'path' is the table 'data'; it may also read files in the workspace and in the folder of 'path' itself: SELECT * FROM 'logs/*.csv'")] = "SELECT * FROM data",
    path: Annotated[InputFile | None, Param(help="a Parquet, CSV or JSON (Lines) file to query as the table 'data'")] = None,
) -> LazyTable:
    """Query files with DuckDB SQL: Parquet, CSV and JSON, globs of them, joined and aggregated.

    The result streams into a new table, so inputs larger than memory work. The query may read
    files in the workspace (the current folder) and in the folder of ``path``, and nothing else:
    no other file, URL, extension or attached database. It may read files it names, so this step
    always runs afresh (it is never taken from the cache).

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"shop": ["a", "b", "a"], "sales": [1, 2, 3]}).to_csv(os.path.join(folder, "jan.csv"), index=False)
    >>> pd.DataFrame({"shop": ["b"], "sales": [10]}).to_csv(os.path.join(folder, "feb.csv"), index=False)
    >>> sql = f"SELECT shop, max(sales) AS best FROM '{folder}/*.csv' GROUP BY shop ORDER BY shop"
    >>> duckdb_query(query=sql, path=os.path.join(folder, "jan.csv")).to_pandas()["best"].tolist()
    [3, 10]
    """
    file = existing_file(path) if path is not None else None
    folders = [Path.cwd()] + ([file if file.is_dir() else file.parent] if file is not None else [])
    con = connect(read=[file] if file is not None else [], folders=folders)
    if file is not None:
        reader = _FILE_READERS.get(Path(file).suffix.lower())
        if reader is None:
            raise DataError(f"parameter 'path': cannot tell the format of {path} (use {', '.join(_FILE_READERS)})")
        try:
            con.execute(f"CREATE TEMP VIEW data AS SELECT * FROM {reader.format(literal(str(file)))}")
        except duckdb.Error as error:
            raise DataError(f"parameter 'path': cannot read {path}: {explain(error)}") from None
    text = query.strip().rstrip(";")
    if not text:
        raise ParameterError("parameter 'query' is empty: write a SELECT")
    return to_lazy(con, text, what="parameter 'query'")

