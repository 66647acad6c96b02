"""DuckDB plumbing for the out-of-core components: quoting, connections and streamed results.

Components that take a :class:`LazyTable` build SQL over the table's Parquet file and stream the
result into a new scratch Parquet file, so a table larger than memory never has to fit in pandas.
Every identifier that goes into generated SQL passes through :func:`quote`, every string through
:func:`literal`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from tidal.core import DataError, LazyTable

#: the hidden column holding each row's position in its file (for stable, deterministic order)
ROW = "__tidal_row"
#: environment variable that sets DuckDB's working memory per step, e.g. "2GB"
MEMORY_LIMIT_ENV = "TIDAL_DUCKDB_MEMORY_LIMIT"
#: default working memory: 128 MiB per core, at least 256 MiB. DuckDB spills sorts, joins and
#: aggregates to disk beyond it; a query that cannot spill fails with a message naming this setting.
DEFAULT_MEMORY_MIB = max(256, 128 * (os.cpu_count() or 1))
#: where DuckDB spills, and where streamed results are written
SPILL = Path(tempfile.gettempdir()) / "tidal-duckdb-spill"
SCRATCH = Path(tempfile.gettempdir()) / "tidal-scratch"


def quote(name: str) -> str:
    """A SQL identifier in double quotes, inner double quotes doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal in single quotes, inner single quotes doubled."""
    return "'" + str(text).replace("'", "''") + "'"


def column_list(names: Iterable[str], prefix: str = "") -> str:
    return ", ".join(prefix + quote(name) for name in names)


#: what a sandboxed connection tells the user when SQL reaches for something it may not touch
SANDBOX_HINT = (
    "refused by the SQL sandbox: SQL here reads only this step's inputs and writes only its own result; "
    "it cannot open other files, ATTACH databases, INSTALL or LOAD extensions, or change settings"
)


def _paths(items: Iterable[LazyTable | str | os.PathLike[str]]) -> list[str]:
    paths: list[str] = []
    for item in items:
        paths.extend(str(Path(file).resolve()) for file in (item.files if isinstance(item, LazyTable) else [item]))
    return paths


def connect(
    *tables: LazyTable,
    nan_checks: bool = False,
    read: Iterable[str | os.PathLike[str]] = (),
    write: Iterable[str | os.PathLike[str]] = (),
    folders: Iterable[str | os.PathLike[str]] = (),
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB, sandboxed, that spills to the system temp folder when memory runs short.

    ``nan_checks`` turns off DuckDB's statistics propagation: Parquet statistics leave NaN out,
    so with it on, ``isnan(x)`` on a file column holding NaN is folded to false.

    Every connection is sandboxed, whatever it is given: SQL run on it (including conditions and
    queries a pipeline supplies) can read the ``tables`` and the ``read`` files, write the
    ``write`` files, read and write inside ``folders`` and the scratch and spill folders, and
    touch no other file, no URL and no extension (external access is off). Its configuration is
    then locked, so no statement can turn access back on, move the spill folder or lift the
    memory limit. ``threads`` caps DuckDB's threads (a partition task runs on one core).
    """
    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    SPILL.mkdir(parents=True, exist_ok=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {literal(str(SPILL))}")
    limit = os.environ.get(MEMORY_LIMIT_ENV) or f"{DEFAULT_MEMORY_MIB}MB"
    con.execute(f"SET memory_limit = {literal(limit)}")
    # in_clause turns a long IN (...) list into a hash join, which loses row order (duckdb#24398)
    disabled = "in_clause,statistics_propagation" if nan_checks else "in_clause"
    con.execute(f"SET disabled_optimizers = {literal(disabled)}")
    files = ", ".join(literal(path) for path in dict.fromkeys(_paths([*tables, *read, *write])))
    directories = ", ".join(literal(path.rstrip(os.sep) + os.sep) for path in dict.fromkeys(_paths([SCRATCH, SPILL, *folders])))
    con.execute(f"SET allowed_paths = [{files}]")
    con.execute(f"SET allowed_directories = [{directories}]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def scan(table: LazyTable, *, row_numbers: bool = False) -> str:
    """SQL for a table's rows; with ``row_numbers`` a column ``__tidal_row`` holds each row's position.

    A table split across files reads its files in order; a row's position then counts on from the
    rows of the files before it.
    """
    files = [str(Path(file).resolve()) for file in table.files]
    if len(files) > 1:
        return _scan_files(table, files, row_numbers=row_numbers)
    source = literal(files[0])
    if not row_numbers:
        return f"read_parquet({source})"
    if "file_row_number" in table.columns:  # the file's own column would clash with DuckDB's
        return f"(SELECT *, row_number() OVER () - 1 AS {ROW} FROM read_parquet({source}))"
    return f"(SELECT * EXCLUDE (file_row_number), file_row_number AS {ROW} FROM read_parquet({source}, file_row_number = true))"


def _scan_files(table: LazyTable, files: list[str], *, row_numbers: bool) -> str:
    import pyarrow.parquet as pq

    table.schema  # noqa: B018 -- checks that the files agree, naming the one that does not
    source = "[" + ", ".join(literal(file) for file in files) + "]"
    if not row_numbers:
        return f"read_parquet({source})"
    if "file_row_number" in table.columns or "filename" in table.columns:
        return f"(SELECT *, row_number() OVER () - 1 AS {ROW} FROM read_parquet({source}))"
    offsets, start = [], 0
    for file in files:
        offsets.append(f"WHEN {literal(file)} THEN {start}")
        start += int(pq.ParquetFile(file).metadata.num_rows)
    offset = f"CASE filename {' '.join(offsets)} END"
    return (f"(SELECT * EXCLUDE (file_row_number, filename), file_row_number + {offset} AS {ROW} "
            f"FROM read_parquet({source}, file_row_number = true, filename = true))")


def register(con: duckdb.DuckDBPyConnection, name: str, table: LazyTable, *, row_numbers: bool = False) -> None:
    """Make ``table`` queryable as view ``name``."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT * FROM {scan(table, row_numbers=row_numbers)}")
    except duckdb.Error as error:
        raise DataError(f"cannot read input '{name}': {explain(error)}") from None


def explain(error: duckdb.Error) -> str:
    """The first lines of a DuckDB error, with what to do when the sandbox or the memory limit stopped it."""
    text = first_line(error)
    if isinstance(error, duckdb.PermissionException) or "configuration has been locked" in text:
        return f"{text} ({SANDBOX_HINT})"
    if isinstance(error, duckdb.OutOfMemoryException):
        limit = os.environ.get(MEMORY_LIMIT_ENV) or f"{DEFAULT_MEMORY_MIB}MB"
        return f"{text} (DuckDB's working memory is {limit} per step; set {MEMORY_LIMIT_ENV} higher, e.g. 4GB)"
    return text


def _run(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` to the end (its working memory is capped by :data:`MEMORY_LIMIT_ENV`; the cap is locked)."""
    return con.execute(query).fetchall()


def to_lazy(con: duckdb.DuckDBPyConnection, query: str, *, what: str) -> LazyTable:
    """Stream the result of ``query`` into a scratch Parquet file; SQL errors become :class:`DataError`."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(prefix="tidal-", suffix=".parquet", dir=SCRATCH, delete=False)
    handle.close()
    try:
        _run(con, f"COPY ({query}) TO {literal(handle.name)} (FORMAT parquet, COMPRESSION snappy)")
    except duckdb.Error as error:
        os.unlink(handle.name)
        raise DataError(f"{what}: {explain(error)}") from None
    except BaseException:
        os.unlink(handle.name)
        raise
    return LazyTable(handle.name, owned=True)


def fetch(con: duckdb.DuckDBPyConnection, query: str, *, what: str) -> list[tuple[Any, ...]]:
    """All rows of a (small) query result; SQL errors become :class:`DataError`."""
    try:
        return _run(con, query)
    except duckdb.Error as error:
        raise DataError(f"{what}: {explain(error)}") from None


def fetch_frame(con: duckdb.DuckDBPyConnection, query: str, *, what: str) -> Any:
    """A (small) query result as a pandas DataFrame; SQL errors become :class:`DataError`."""
    try:
        return con.sql(query).to_arrow_table().to_pandas()
    except duckdb.Error as error:
        raise DataError(f"{what}: {explain(error)}") from None


def first_line(error: Exception) -> str:
    """DuckDB messages carry a long context block after the first lines; keep what a person reads."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("LINE ") and set(line.strip()) != {"^"}]
    return " ".join(lines[:2]) if lines else type(error).__name__


def column_types(table: LazyTable) -> dict[str, str]:
    """Column name -> DuckDB type name, read from the file's schema."""
    try:
        rows = connect(table).execute(f"DESCRIBE SELECT * FROM {scan(table)}").fetchall()
    except duckdb.Error as error:
        raise DataError(f"cannot read the input table: {first_line(error)}") from None
    return {row[0]: str(row[1]) for row in rows}


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.upper().startswith(NUMERIC_TYPES)


def is_floating(duckdb_type: str) -> bool:
    return duckdb_type.upper() in ("FLOAT", "DOUBLE", "REAL")


def missing(name: str, duckdb_type: str) -> str:
    """A SQL test for a missing value: NULL, and NaN for floating-point columns (as pandas sees it)."""
    test = f"{quote(name)} IS NULL"
    if is_floating(duckdb_type):
        test = f"({test} OR isnan({quote(name)}))"
    return test


def check_columns(wanted: Iterable[str], available: Iterable[str], *, param: str, port: str = "data") -> None:
    """Raise a :class:`DataError` naming the parameter when a column is not in the table."""
    columns = list(available)
    absent = [name for name in wanted if name not in columns]
    if absent:
        shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
        raise DataError(
            f"parameter '{param}': column {', '.join(map(repr, absent))} not found in input '{port}' (columns: {shown})"
        )
