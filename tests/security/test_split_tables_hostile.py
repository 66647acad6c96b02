"""Hostile tables split across files, and hostile SQL run per partition.

A folder table whose files disagree stops with the file and the column named, on the local path
and per partition alike; a file that is not Parquet is named without echoing what it holds; SQL
that tries to read other files is refused by the sandbox in partition tasks too (the secret never
appears); SQL that only looks row-local (subqueries, joins, table functions) runs as one query.
The runner here is the in-process reference runner: the partition tasks run the same code on Ray.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tidal.components._sql import SANDBOX_HINT
from tidal.components.data_combine import sql
from tidal.components.data_reshape import group_by
from tidal.components.data_rows import filter_rows
from tidal.core import DataError, LazyTable
from tidal.core._partitions import InlinePartitionRunner, use_runner

SECRET = "tidal-secret-7f3a"


def parts(folder, *frames: pd.DataFrame) -> LazyTable:
    folder.mkdir(exist_ok=True)
    for index, frame in enumerate(frames):
        frame.to_parquet(folder / f"part-{index}.parquet", index=False)
    return LazyTable(str(folder))


GOOD = pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})


@pytest.mark.parametrize(
    ("other", "words"),
    [
        (
            pd.DataFrame({"id": [4], "amount": ["lots"]}),
            "file part-1.parquet: column 'amount' is large_string, but double in part-0.parquet",
        ),
        (
            pd.DataFrame({"id": [4]}),
            "file part-1.parquet: column 'amount' is missing (part-0.parquet has it as double)",
        ),
        (
            pd.DataFrame({"id": [4], "amount": [1.0], "extra": [0]}),
            "file part-1.parquet: column 'extra' is not in part-0.parquet",
        ),
        (
            pd.DataFrame({"amount": [1.0], "id": [4]}),
            "file part-1.parquet: its columns come in another order than in part-0.parquet",
        ),
    ],
    ids=["type", "missing", "extra", "order"],
)
def test_a_file_whose_schema_differs_is_named_with_its_column(tmp_path, other, words):
    table = parts(tmp_path / "parts", GOOD, other)
    for runner in (None, InlinePartitionRunner()):
        with use_runner(runner), pytest.raises(DataError) as failed:
            filter_rows(table, where="id > 0")
        assert words in str(failed.value) and "needs the same columns" in str(failed.value)
    with pytest.raises(DataError, match="part-1.parquet"):
        group_by(table, keys=["id"], aggregations={}, count_column="n")


def test_a_file_that_is_not_parquet_is_named_and_not_echoed(tmp_path):
    table = parts(tmp_path / "parts", GOOD, GOOD)
    (tmp_path / "parts" / "part-2.parquet").write_text(f"password={SECRET}\n")
    with use_runner(InlinePartitionRunner()), pytest.raises(DataError) as failed:
        filter_rows(table, where="id > 0")
    assert "file " in str(failed.value) and "part-2.parquet is not a readable Parquet file" in str(
        failed.value
    )
    assert SECRET not in str(failed.value)


def test_a_folder_without_parquet_files_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .parquet files"):
        _ = LazyTable(str(tmp_path / "empty")).num_rows


@pytest.mark.parametrize("shares_disk", [True, False])
def test_sql_in_a_partition_cannot_read_other_files(tmp_path, shares_disk):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    table = parts(tmp_path / "parts", GOOD, GOOD, GOOD)
    runner = InlinePartitionRunner(shares_disk=shares_disk)
    attempts = [
        lambda: filter_rows(
            table, where=f"length(read_text_file('{secret}')) > 0"
        ),  # not a function DuckDB has
        lambda: filter_rows(table, where=f"EXISTS (SELECT * FROM read_text('{secret}'))"),
        lambda: sql(
            table, query=f"SELECT *, (SELECT content FROM read_text('{secret}')) AS leak FROM t1"
        ),
        lambda: sql(table, query=f"SELECT * FROM t1, read_csv('{secret}')"),
    ]
    for attempt in attempts:
        with use_runner(runner), pytest.raises(DataError) as failed:
            attempt()
        assert SECRET not in str(failed.value)
    refused = [note for note in runner.notes if "ran as one local query" in note]
    assert (
        len(refused) == 4
    )  # unknown functions, subqueries and table functions never reach a partition


@pytest.mark.parametrize("shares_disk", [True, False])
def test_a_partition_task_is_sandboxed_even_when_handed_a_query_that_reads_a_file(
    tmp_path, shares_disk
):
    """Were the row-local check fooled, the task's own DuckDB still refuses every file but its partition."""
    from tidal.components._partitioned import (
        PartitionFailure,
        PartitionQuery,
        _items,
        plan,
        run_partition,
    )

    secret = tmp_path / "secret.csv"
    secret.write_text(f"a\n{SECRET}\n")
    table = parts(tmp_path / "parts", GOOD, GOOD)
    step = PartitionQuery(f"SELECT *, (SELECT a FROM read_csv('{secret}')) AS leak FROM data")
    for item in _items(InlinePartitionRunner(shares_disk=shares_disk), step, plan(table)):
        result = run_partition(item, None)
        assert isinstance(result, PartitionFailure)
        assert SANDBOX_HINT in result.message and SECRET not in result.message
