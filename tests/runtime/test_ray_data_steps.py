"""Data steps per partition on Ray give the same tables as the one-query DuckDB path (issue #16).

The test run's Ray cluster (head + worker) serves the module. Each case runs a data component twice on a
table split across five files (one of them empty): once as one local DuckDB query, once inside
``ray_data_steps()``, where its partitions run as Ray tasks; the frames must be equal, dtypes
included. The runner's note (written to the node log in a pipeline, to stderr here) says whether
the step ran per partition or fell back, and why: that is the signal that Ray did the work.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tidal.components.data_columns import cast, drop, rename, reorder, select
from tidal.components.data_combine import join, sql
from tidal.components.data_reshape import group_by
from tidal.components.data_rows import append_id, drop_missing, filter_rows
from tidal.core import DataError, LazyTable
from tidal.runtime import RunResult
from tidal.store import Workspace

ray = pytest.importorskip("ray")

#: rows per file; the second file is empty
SIZES = (900, 0, 700, 800, 600)


@pytest.fixture(scope="module")
def local_ray(ray_address):
    """A connection to the test run's Ray cluster (head + worker, tests/support/ray_session.py)."""
    if ray.is_initialized():  # an earlier module's connection (to another cluster) would be reused silently
        ray.shutdown()
    ray.init(address=ray_address, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Mixed columns: ints, floats with NaN, strings with missing values (group keys), booleans, timestamps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "k": pd.array(rng.choice(["a", "b", "c", None], rows), dtype="string"),
            "x": x,
            "n": rng.integers(0, 9, rows),
            "flag": rng.random(rows) < 0.3,
            "t": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10_000, rows), unit="min"),
        }
    )


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> LazyTable:
    """A table split across five Parquet files (3,000 rows, one file empty)."""
    folder = tmp_path_factory.mktemp("split")
    whole, start = frame(sum(SIZES)), 0
    for index, size in enumerate(SIZES):
        whole.iloc[start : start + size].to_parquet(folder / f"part-{index}.parquet", index=False)
        start += size
    return LazyTable(str(folder))


@pytest.fixture(scope="module")
def row_groups(tmp_path_factory) -> LazyTable:
    """One Parquet file of 2,000 rows in four row groups: a single file splits by row group."""
    path = tmp_path_factory.mktemp("groups") / "one.parquet"
    import pyarrow as pa

    pq.write_table(
        pa.Table.from_pandas(frame(2000, seed=1), preserve_index=False), path, row_group_size=500
    )
    return LazyTable(str(path))


@pytest.fixture(scope="module")
def shops() -> pd.DataFrame:
    """The small side of a join: a key twice, a missing key, and keys the big side lacks."""
    return pd.DataFrame(
        {
            "n": pd.array([0, 1, 1, 2, 3, None, 11], dtype="Int64"),
            "shop": ["zero", "one", "uno", "two", "three", "nobody", "eleven"],
        }
    )


def both_ways(step, table, capsys, **options) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(one local query, per partition on Ray, the runner's notes)."""
    from tidal.runtime import ray_data_steps

    local = step(table).to_pandas()
    capsys.readouterr()
    with ray_data_steps(**options):
        spread = step(table).to_pandas()
    return local, spread, capsys.readouterr().err


ROW_LOCAL = {
    "filter": lambda t: filter_rows(t, where="x > 0 AND k <> 'b'"),
    "filter_to_nothing": lambda t: filter_rows(t, where="x > 100"),
    "select": lambda t: select(t, columns=["t", "k", "x"]),
    "drop": lambda t: drop(t, columns=["flag"]),
    "rename": lambda t: rename(t, mapping={"x": "value", "k": "key"}),
    "reorder": lambda t: reorder(t, columns=["x", "id"], position="last"),
    "cast": lambda t: cast(t, types={"n": "float", "id": "string", "flag": "int"}),
    "drop_missing": lambda t: drop_missing(t, columns=["k", "x"]),
    "append_id": lambda t: append_id(t, column="row", start=10),
    "sql_expressions": lambda t: sql(
        t,
        query="SELECT id, CAST(n AS DOUBLE) / 2 AS half, CASE WHEN x > 0 THEN 'up' ELSE 'down' END AS way, "
        "coalesce(k, '?') AS key, t + INTERVAL 1 DAY AS next_day, n IN (1, 2, 3) AS low, x BETWEEN -1 AND 1 AS near "
        "FROM t1 WHERE k IS NOT NULL AND TRY_CAST(n AS VARCHAR) LIKE '%1%'",
    ),
    "sql_row_local": lambda t: sql(
        t,
        query="SELECT id, x * 2 AS twice, upper(k) AS big, n % 3 = 0 AS third FROM t1 WHERE n > 2",
    ),
}


@pytest.mark.parametrize("name", sorted(ROW_LOCAL))
def test_row_local_steps_on_ray_equal_the_local_query(local_ray, split, capsys, name):
    local, spread, notes = both_ways(ROW_LOCAL[name], split, capsys)
    pd.testing.assert_frame_equal(spread, local)
    assert "ran on 5 partitions" in notes  # five files, the empty one included


AGGREGATIONS = {
    "x": ["sum", "count", "mean", "min", "max"],
    "n": ["sum", "mean", "min", "max"],
    "flag": ["sum"],
    "t": ["min", "max"],
    "k": ["count"],
}


@pytest.mark.parametrize(
    "keys", [["k"], ["k", "n"], []], ids=["nullable_key", "two_keys", "whole_table"]
)
def test_group_by_on_ray_merges_partial_aggregates_to_the_local_result(
    local_ray, split, capsys, keys
):
    local, spread, notes = both_ways(
        lambda t: group_by(t, keys=keys, aggregations=AGGREGATIONS), split, capsys
    )
    pd.testing.assert_frame_equal(
        spread, local
    )  # exact for integers and keys; floats summed in another order
    assert "aggregated 5 partitions, then merged" in notes
    if keys == ["k"]:
        assert (
            local["k"].isna().iloc[-1] and len(local) == 4
        )  # the missing key is its own group, last


@pytest.mark.parametrize("how", ["inner", "left"])
def test_join_sends_the_small_table_to_every_partition(local_ray, split, shops, capsys, how):
    local, spread, notes = both_ways(lambda t: join(t, shops, on=["n"], how=how), split, capsys)
    pd.testing.assert_frame_equal(spread, local)
    assert "joined 5 partitions of 'left' with 'right' sent to each" in notes


def test_without_a_shared_disk_partitions_travel_through_ray(local_ray, split, shops, capsys):
    for step in (
        ROW_LOCAL["filter"],
        lambda t: join(t, shops, on=["n"], how="left"),
        lambda t: group_by(t, keys=["k"], aggregations=AGGREGATIONS),
    ):
        local, spread, _ = both_ways(step, split, capsys, shares_disk=False)
        pd.testing.assert_frame_equal(spread, local)


def test_a_single_file_splits_by_row_group(local_ray, row_groups, capsys):
    local, spread, notes = both_ways(ROW_LOCAL["filter"], row_groups, capsys)
    pd.testing.assert_frame_equal(spread, local)
    assert "ran on 4 partitions" in notes
    local, spread, _ = both_ways(
        lambda t: group_by(t, keys=["k"], aggregations=AGGREGATIONS), row_groups, capsys
    )
    pd.testing.assert_frame_equal(spread, local)


FALLBACKS = {
    "median does not decompose": lambda t: group_by(
        t, keys=["k"], aggregations={"x": ["median", "sum"]}
    ),
    "nunique does not decompose": lambda t: group_by(
        t, keys=["k"], aggregations={"n": ["nunique"]}
    ),
    "a right join needs every row of 'right' in one place": lambda t: join(
        t, pd.DataFrame({"n": [1, 2], "s": ["p", "q"]}), on=["n"], how="right"
    ),
    "it orders, limits or deduplicates rows": lambda t: sql(
        t, query="SELECT k, x FROM t1 ORDER BY x LIMIT 5"
    ),
    "it groups rows": lambda t: sql(t, query="SELECT k, sum(n) AS total FROM t1 GROUP BY k"),
    "sum() is not a scalar function": lambda t: sql(t, query="SELECT sum(n) AS total FROM t1"),
    "it uses a window function": lambda t: sql(
        t, query="SELECT id, x - avg(x) OVER () AS centred FROM t1"
    ),
    "it uses a subquery": lambda t: sql(
        t, query="SELECT id FROM t1 WHERE n > (SELECT avg(n) FROM t1)"
    ),
    "it uses a subquery (where)": lambda t: filter_rows(t, where="x > (SELECT avg(x) FROM data)"),
    "random() gives a different value": lambda t: sql(
        t, query="SELECT id, random() < 2 AS r FROM t1"
    ),
}


@pytest.mark.parametrize("reason", sorted(FALLBACKS))
def test_steps_that_do_not_decompose_run_locally_and_say_why(local_ray, split, capsys, reason):
    local, spread, notes = both_ways(FALLBACKS[reason], split, capsys)
    if reason == "it groups rows":  # GROUP BY without ORDER BY has no order, even as one query
        local, spread = (part.sort_values("k").reset_index(drop=True) for part in (local, spread))
    pd.testing.assert_frame_equal(spread, local)
    assert "ran as one local query: " in notes and reason.removesuffix(" (where)") in notes


def test_a_right_table_above_the_broadcast_limit_joins_locally(
    local_ray, split, shops, capsys, monkeypatch
):
    monkeypatch.setenv("TIDAL_BROADCAST_BYTES", "100")
    local, spread, notes = both_ways(lambda t: join(t, shops, on=["n"]), split, capsys)
    pd.testing.assert_frame_equal(spread, local)
    assert "more than the 100 sent to every partition (set TIDAL_BROADCAST_BYTES higher" in notes


def test_a_value_that_fails_in_a_partition_names_the_partition(local_ray, split):
    from tidal.runtime import ray_data_steps

    with ray_data_steps(), pytest.raises(DataError) as failed:
        filter_rows(split, where="CAST(k AS INTEGER) > 0")
    message = str(failed.value)
    assert (
        message.startswith("parameter 'where': Conversion Error")
        and "(in the partition of part-0.parquet, table rows 0-899)" in message
    )
    with (
        ray_data_steps(),
        pytest.raises(
            DataError, match=r"column 'k' has value '\w' at row \d+ that is not a valid int"
        ),
    ):
        cast(split, types={"k": "int"})  # the same words, row included, as the local path


def test_a_pipeline_run_with_executor_ray_runs_its_data_steps_per_partition(
    local_ray, split, tmp_path, monkeypatch, capsys
):
    from tidal.cli import main

    (tmp_path / "split.yaml").write_text(f"""tidal: 1
name: split-data
nodes:
  - {{id: parts, component: io.read_parquet, params: {{path: "{split.path}"}}}}
  - {{id: positive, component: data.filter, inputs: {{data: parts}}, params: {{where: "x > 0"}}}}
  - {{id: totals, component: data.group_by, inputs: {{data: positive}}, params: {{keys: [k], aggregations: {{n: [sum, max]}}}}}}
  - {{id: medians, component: data.group_by, inputs: {{data: parts}}, params: {{keys: [k], aggregations: {{x: [median]}}}}}}
  - {{id: whole, component: data.filter, inputs: {{data: parts}}, params: {{where: "x > 0"}}, partitions: "off"}}
""")
    (tmp_path / ".tidal").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tidal", "run", "split.yaml", "--executor", "ray", "--quiet"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None), capsys.readouterr()
    workspace = Workspace.open(tmp_path)
    run = workspace.metadata.list_runs()[0]
    records = {record.node_id: record for record in workspace.metadata.node_runs(run.id)}
    logs = {
        node: workspace.artifacts.read_bytes(record.log_uri).decode()
        for node, record in records.items()
    }
    assert (
        "partitions: ran on 4 partitions" in logs["positive"]
    )  # the stored table keeps one row group per non-empty file
    assert "partitions: ran as one local query: median does not decompose" in logs["medians"]
    assert "partitions:" not in logs["whole"]  # the node said partitions: off
    pd.testing.assert_frame_equal(
        RunResult.load(workspace, run.id).output("whole").to_pandas(),
        RunResult.load(workspace, run.id).output("positive").to_pandas(),
    )
    whole = pd.concat([pd.read_parquet(file) for file in split.files], ignore_index=True)
    expected = (
        whole[whole["x"] > 0].groupby("k", dropna=False)["n"].agg(["sum", "max"]).reset_index()
    )
    totals = RunResult.load(workspace, run.id).output("totals").to_pandas()
    assert (
        totals["n_sum"].tolist() == expected["sum"].tolist()
        and totals["n_max"].tolist() == expected["max"].tolist()
    )


def test_a_callers_connection_is_not_taken_for_tidals_earlier_one_with_the_same_job_id(
    local_ray, monkeypatch
):
    """Tidal connected to a cluster earlier in this process, then the caller started another Ray: both first
    drivers are job 01000000, so only the cluster tells them apart (else this Ray is taken for the remote one)."""
    from tidal.runtime import _ray_executor

    monkeypatch.setattr(_ray_executor._Connection, "job", ray.get_runtime_context().get_job_id())
    monkeypatch.setattr(_ray_executor._Connection, "cluster", "203.0.113.1:6379")
    monkeypatch.setattr(_ray_executor._Connection, "address", "203.0.113.1:6379")
    assert (
        _ray_executor.connect(None) is True
    )  # the caller's Ray on this machine: it shares this disk
    assert ray.is_initialized()


def test_a_file_whose_schema_differs_stops_the_step_on_ray_too(local_ray, split, tmp_path):
    from tidal.runtime import ray_data_steps

    folder = tmp_path / "mixed"
    folder.mkdir()
    for index, file in enumerate(split.files[:3]):
        table = pd.read_parquet(file)
        if index == 2:
            table["n"] = table["n"].astype("float64")
        table.to_parquet(folder / f"part-{index}.parquet", index=False)
    with (
        ray_data_steps(),
        pytest.raises(
            DataError,
            match="file part-2.parquet: column 'n' is double, but int64 in part-0.parquet",
        ),
    ):
        group_by(LazyTable(str(folder)), keys=["k"], aggregations={"n": ["sum"]})
