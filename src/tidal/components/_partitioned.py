"""Data steps per partition: the same DuckDB SQL on each piece of a split table, merged in order.

When the runtime provides a partition runner (:mod:`tidal.core._partitions`; the Ray executor
does) and a step's input has more than one partition, the step runs where the runner sends it:

- a *partition* is one Parquet row group: each file of a folder table gives its row groups, and
  a table stored by a pipeline keeps one row group per source file (see ``io.read_parquet``);
- row-local steps (filter, select, rename, cast, computed columns, row-local SQL) run their query
  on every partition, and the results are written in partition order, rows in their order within
  each partition: exactly the order of the one-query path;
- aggregates that decompose (count, sum, mean as sum and count, min, max) are computed per
  partition, then merged by one final query as they stream in; the others (median, std, nunique, first, ...)
  run as one local query, with a note in the node's log;
- a join sends the right table whole to every partition of the left when it is small enough
  (``TIDAL_BROADCAST_BYTES``, 64 MiB by default), for inner and left joins; else it runs locally.

Each partition's result comes back as Arrow and is streamed by DuckDB into one Parquet file,
the same writer as the one-query path, so types and values are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tidal.components._sql import ROW, connect, explain, literal, quote, scan, to_lazy
from tidal.core import DataError, LazyTable
from tidal.core._partitions import PartitionRunner, active_runner

#: environment variable: the largest right-hand table (bytes on disk) a join sends to every partition
BROADCAST_ENV = "TIDAL_BROADCAST_BYTES"
DEFAULT_BROADCAST_BYTES = 64 * 1024 * 1024
#: aggregates that decompose into per-partition parts and a final merge
DECOMPOSABLE = ("count", "sum", "mean", "min", "max")


@dataclass(frozen=True)
class Partition:
    """Rows ``start`` to ``stop`` (one row group) of ``file``; ``offset`` is the table position of its first row."""

    file: str
    start: int
    stop: int
    offset: int
    whole_file: bool
    #: the rows themselves, when the runner cannot open ``file`` (a cluster without a shared disk)
    rows: pa.Table | None = None

    def source(self, *, row_numbers: bool) -> str:
        """SQL for this partition's rows, with ``__tidal_row`` (table positions) when asked."""
        if self.rows is not None:
            return "__tidal_partition"
        numbered = row_numbers or not self.whole_file
        options = ", file_row_number = true" if numbered else ""
        where = (
            ""
            if self.whole_file
            else f" WHERE file_row_number >= {self.start} AND file_row_number < {self.stop}"
        )
        if not numbered:
            return f"read_parquet({literal(self.file)})"
        extra = f", file_row_number + {self.offset} AS {ROW}" if row_numbers else ""
        return f"(SELECT * EXCLUDE (file_row_number){extra} FROM read_parquet({literal(self.file)}{options}){where})"


@dataclass(frozen=True)
class PartitionQuery:
    """What every partition runs: ``query`` over the partition (as view ``view``) and the broadcast tables."""

    query: str
    view: str = "data"
    row_numbers: bool = False
    nan_checks: bool = False
    #: view name -> SQL reading a broadcast table (used when the runner shares this disk)
    broadcast: dict[str, str] = field(default_factory=dict)
    broadcast_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartitionFailure:
    """A partition's query failed: DuckDB's words, brought back as a value (not an exception through the runner)."""

    message: str


def plan(table: LazyTable) -> list[Partition]:
    """The table's partitions in row order: one per row group of each file (the files' schemas checked first)."""
    table.schema  # noqa: B018 -- a folder whose files disagree stops here, naming the file and column
    partitions, offset = [], 0
    for name in table.files:
        file = str(Path(name).resolve())
        metadata = pq.ParquetFile(file).metadata
        groups = [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
        start = 0
        for rows in groups:
            partitions.append(
                Partition(file, start, start + rows, offset + start, whole_file=len(groups) == 1)
            )
            start += rows
        offset += start
    return partitions


def run_partition(
    item: tuple[PartitionQuery, Partition], shared: dict[str, pa.Table] | None
) -> pa.Table | PartitionFailure:
    """One partition's result as Arrow; runs wherever the runner sends it (one core, the same sandbox)."""
    step, partition = item
    reads = [] if partition.rows is not None else [partition.file]
    con = connect(read=[*reads, *step.broadcast_files], nan_checks=step.nan_checks, threads=1)
    try:
        if partition.rows is not None:
            con.register("__tidal_partition", partition.rows)
        con.execute(
            f"CREATE TEMP VIEW {quote(step.view)} AS SELECT * FROM {partition.source(row_numbers=step.row_numbers)}"
        )
        for name, source in step.broadcast.items():
            if shared is not None and name in shared:
                con.register(name, shared[name])
            else:
                con.execute(f"CREATE TEMP VIEW {quote(name)} AS SELECT * FROM {source}")
        return con.sql(step.query).to_arrow_table()
    except duckdb.Error as error:
        return PartitionFailure(explain(error))
    finally:
        con.close()


def _items(
    runner: PartitionRunner, step: PartitionQuery, partitions: list[Partition]
) -> Iterator[tuple[PartitionQuery, Partition]]:
    """Pair the query with each partition; without a shared disk, read each partition here and send its rows.

    Lazily: the runner asks for the next partition as one finishes, so only its window is in memory.
    """
    for partition in partitions:
        if runner.shares_disk:
            yield step, partition
            continue
        con = connect(read=[partition.file])
        rows = con.sql(
            f"SELECT * FROM {partition.source(row_numbers=step.row_numbers)}"
        ).to_arrow_table()
        con.close()
        yield step, replace(partition, rows=rows)


def _shared(runner: PartitionRunner, tables: dict[str, LazyTable]) -> dict[str, pa.Table] | None:
    """Broadcast tables as Arrow, sent once, for a runner that cannot open this disk's files."""
    if runner.shares_disk or not tables:
        return None
    shared = {}
    for name, table in tables.items():
        shared[name] = (
            connect(table).sql(f"SELECT * FROM {scan(table, row_numbers=True)}").to_arrow_table()
        )
    return shared


def _checked(
    results: Iterator[pa.Table | PartitionFailure], partitions: list[Partition], what: str
) -> Iterator[pa.Table]:
    for partition, result in zip(partitions, results, strict=True):
        if isinstance(result, PartitionFailure):
            rows = (
                f"rows {partition.offset}-{partition.offset + partition.stop - partition.start - 1}"
            )
            raise DataError(
                f"{what}: {result.message} (in the partition of {os.path.basename(partition.file)}, table {rows})"
            )
        yield result


def _write(
    results: Iterator[pa.Table], what: str, query: str = "SELECT * FROM __tidal_result"
) -> LazyTable:
    """Stream the partitions' results, in order, as view ``__tidal_result`` of ``query``, into a new table.

    DuckDB's Parquet writer writes it, as on the one-query path; ``query`` may merge the results
    (a group-by's final aggregation) as they stream in. A partition that failed ends the stream;
    its error is raised once DuckDB has let go of the file.
    """
    failed: list[DataError] = []
    first = next(results)
    schema = first.schema

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for table in chain([first], results):
                yield from (table if table.schema == schema else table.cast(schema)).to_batches()
        except DataError as error:
            failed.append(error)

    con = connect()
    try:
        con.register("__tidal_result", pa.RecordBatchReader.from_batches(schema, batches()))
        table = to_lazy(con, query, what=what)
    finally:
        con.close()
    if failed:
        os.unlink(table.path)
        raise failed[0]
    return table


def _runner_for(data: LazyTable, what: str) -> tuple[PartitionRunner, list[Partition]] | None:
    """The runner and the partitions, when this step should run per partition; None to run as one query."""
    runner = active_runner()
    if runner is None:
        return None
    partitions = plan(data)
    if len(partitions) < 2:
        return None
    if "file_row_number" in data.columns:
        runner.note(
            "ran as one local query: the input has a column named 'file_row_number', which partitions use"
        )
        return None
    return runner, partitions


def rowwise(
    con: duckdb.DuckDBPyConnection,
    query: str,
    data: LazyTable,
    *,
    what: str,
    view: str = "data",
    row_numbers: bool = False,
    nan_checks: bool = False,
    unless: Callable[[], str | None] | None = None,
) -> LazyTable:
    """``query`` (row-local, over view ``view`` = ``data``) into a new table: per partition when a runner is active.

    ``unless``, asked only when a runner is active, gives a reason to run as one local query instead.
    """
    reason = unless() if unless is not None and active_runner() is not None else None
    if reason is not None:
        return local(con, query, what=what, reason=reason)
    chosen = _runner_for(data, what)
    if chosen is None:
        return to_lazy(con, query, what=what)
    runner, partitions = chosen
    step = PartitionQuery(query, view=view, row_numbers=row_numbers, nan_checks=nan_checks)
    results = runner.map(run_partition, _items(runner, step, partitions))
    table = _write(_checked(results, partitions, what), what)
    runner.note(f"ran on {len(partitions)} partitions")
    return table


def local(con: duckdb.DuckDBPyConnection, query: str, *, what: str, reason: str) -> LazyTable:
    """Run as one local query; when a runner is active, its log says why the step did not run per partition."""
    runner = active_runner()
    if runner is not None:
        runner.note(f"ran as one local query: {reason}")
    return to_lazy(con, query, what=what)


@dataclass(frozen=True)
class Aggregate:
    """One output column of a group-by: ``function`` over the SQL expression ``column``."""

    output: str
    function: str
    column: str


def aggregate(
    con: duckdb.DuckDBPyConnection,
    query: str,
    data: LazyTable,
    *,
    keys: Sequence[str],
    aggregates: Sequence[Aggregate],
    count_column: str | None,
    what: str,
) -> LazyTable:
    """A group-by: per partition then merged, when every function decomposes; else ``query`` locally."""
    undecomposable = sorted(
        {item.function for item in aggregates if item.function not in DECOMPOSABLE}
    )
    if active_runner() is not None and undecomposable:
        return local(
            con,
            query,
            what=what,
            reason=f"{', '.join(undecomposable)} does not decompose into per-partition parts",
        )
    chosen = _runner_for(data, what)
    if chosen is None:
        return to_lazy(con, query, what=what)
    runner, partitions = chosen
    try:
        types = {row[0]: str(row[1]) for row in con.execute(f"DESCRIBE {query}").fetchall()}
    except duckdb.Error as error:
        raise DataError(f"{what}: {explain(error)}") from None
    key_list = ", ".join(quote(key) for key in keys)
    partial, final = [quote(key) for key in keys], [quote(key) for key in keys]
    for index, item in enumerate(aggregates):
        part = quote(f"__tidal_p{index}")
        if item.function == "mean":
            count = quote(f"__tidal_c{index}")
            partial += [f"sum({item.column}) AS {part}", f"count({item.column}) AS {count}"]
            merged = f"sum({part}) / nullif(sum({count}), 0)"
        else:
            partial.append(f"{item.function}({item.column}) AS {part}")
            merged = {"count": f"sum({part})", "sum": f"coalesce(sum({part}), 0)"}.get(
                item.function, f"{item.function}({part})"
            )
        final.append(f"CAST({merged} AS {types[item.output]}) AS {quote(item.output)}")
    if count_column:
        partial.append("count(*) AS __tidal_rows")
        final.append(f"CAST(sum(__tidal_rows) AS {types[count_column]}) AS {quote(count_column)}")
    grouping = f" GROUP BY {key_list}" if keys else ""
    step = PartitionQuery(f"SELECT {', '.join(partial)} FROM data{grouping}")
    order = f" ORDER BY {', '.join(quote(key) + ' NULLS LAST' for key in keys)}" if keys else ""
    merge = f"SELECT {', '.join(final)} FROM __tidal_result{grouping}{order}"
    # the final query merges the partial aggregates as they stream in
    results = runner.map(run_partition, _items(runner, step, partitions))
    table = _write(_checked(results, partitions, what), what, merge)
    runner.note(f"aggregated {len(partitions)} partitions, then merged their partial aggregates")
    return table


def broadcast_join(
    con: duckdb.DuckDBPyConnection,
    query: str,
    left: LazyTable,
    right: LazyTable,
    *,
    how: str,
    what: str,
    left_view: str,
    right_view: str,
) -> LazyTable:
    """A join with the right table sent whole to each partition of the left (inner and left joins, small right)."""
    runner = active_runner()
    if runner is None:
        return to_lazy(con, query, what=what)
    if how not in ("inner", "left"):
        return local(
            con, query, what=what, reason=f"a {how} join needs every row of 'right' in one place"
        )
    limit = int(os.environ.get(BROADCAST_ENV) or DEFAULT_BROADCAST_BYTES)
    size = sum(os.path.getsize(file) for file in right.files)
    if size > limit:
        return local(
            con,
            query,
            what=what,
            reason=f"'right' is {size} bytes, more than the {limit} sent to every partition "
            f"(set {BROADCAST_ENV} higher to send it)",
        )
    chosen = _runner_for(left, what)
    if chosen is None:
        return to_lazy(con, query, what=what)
    runner, partitions = chosen
    files = tuple(str(Path(file).resolve()) for file in right.files)
    step = PartitionQuery(
        query,
        view=left_view,
        row_numbers=True,
        broadcast={right_view: scan(right, row_numbers=True)},
        broadcast_files=files,
    )
    results = runner.map(
        run_partition, _items(runner, step, partitions), shared=_shared(runner, {right_view: right})
    )
    table = _write(_checked(results, partitions, what), what)
    runner.note(
        f"joined {len(partitions)} partitions of 'left' with 'right' sent to each ({size} bytes)"
    )
    return table
