"""Tables split across Parquet files: read in file-name order as one table, stored keeping the split.

No Ray here: the in-process reference runner runs the per-partition path (the Ray parity tests
are in tests/runtime/test_ray_data_steps.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tidal.components._partitioned import plan
from tidal.components.data_reshape import group_by
from tidal.components.data_rows import append_id, filter_rows
from tidal.components.io import read_parquet, write_csv, write_jsonl, write_parquet
from tidal.core import LazyTable
from tidal.core._partitions import InlinePartitionRunner, use_runner
from tidal.runtime._values import write_value


@pytest.fixture
def whole() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {"id": np.arange(250), "g": rng.choice(["p", "q"], 250), "v": rng.normal(size=250)}
    )


@pytest.fixture
def folder(tmp_path, whole):
    """Four files named so that name order is not creation order; one is empty."""
    folder = tmp_path / "parts"
    folder.mkdir()
    for name, rows in (
        ("c", slice(150, 250)),
        ("a", slice(0, 100)),
        ("b0", slice(100, 100)),
        ("b1", slice(100, 150)),
    ):
        whole.iloc[rows].to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "notes.txt").write_text("not a part")
    return folder


def test_a_folder_reads_as_one_table_in_file_name_order(folder, whole):
    table = LazyTable(str(folder))
    assert [name.rsplit("/", 1)[1] for name in table.files] == [
        "a.parquet",
        "b0.parquet",
        "b1.parquet",
        "c.parquet",
    ]
    assert table.num_rows == 250 and table.columns == ["id", "g", "v"]
    pd.testing.assert_frame_equal(table.to_pandas(), whole)
    pd.testing.assert_frame_equal(
        filter_rows(table, where="v > 0").to_pandas(), whole[whole.v > 0].reset_index(drop=True)
    )
    numbered = append_id(table, start=1).to_pandas()  # positions count on across files
    assert numbered["row_id"].tolist() == list(range(1, 251)) and numbered["id"].tolist() == list(
        range(250)
    )


def test_partitions_are_row_groups_in_table_order(folder, tmp_path, whole):
    partitions = plan(LazyTable(str(folder)))
    assert [(part.offset, part.stop - part.start) for part in partitions] == [
        (0, 100),
        (100, 0),
        (100, 50),
        (150, 100),
    ]
    single = tmp_path / "single.parquet"
    pq.write_table(pq.read_table(folder / "a.parquet"), single, row_group_size=30)
    assert [(part.offset, part.whole_file) for part in plan(LazyTable(str(single)))] == [
        (0, False),
        (30, False),
        (60, False),
        (90, False),
    ]


@pytest.mark.parametrize("shares_disk", [True, False])
def test_the_reference_runner_gives_the_one_query_result(folder, shares_disk):
    table = LazyTable(str(folder))
    steps = [
        lambda: filter_rows(table, where="v > 0 AND g = 'p'"),
        lambda: append_id(table),
        lambda: group_by(
            table, keys=["g"], aggregations={"v": ["sum", "mean", "min"], "id": ["max", "count"]}
        ),
    ]
    for step in steps:
        runner = InlinePartitionRunner(shares_disk=shares_disk)
        with use_runner(runner):
            spread = step().to_pandas()
        pd.testing.assert_frame_equal(spread, step().to_pandas())
        assert runner.notes and "4 partitions" in runner.notes[0]


def test_read_parquet_keeps_a_folder_split_and_merges_one_whose_files_differ(
    folder, tmp_path, whole
):
    table = read_parquet(path=str(folder))
    assert table.path == str(folder.resolve()) and not table.owned and len(table.files) == 4
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    whole.iloc[:10].to_parquet(mixed / "a.parquet", index=False)
    whole.iloc[10:20][["v", "id"]].to_parquet(
        mixed / "b.parquet", index=False
    )  # columns by name, one missing
    merged = read_parquet(path=str(mixed))
    assert (
        len(merged.files) == 1
        and merged.num_rows == 20
        and merged.to_pandas()["g"].isna().sum() == 10
    )


def test_a_stored_split_table_keeps_one_row_group_per_file(folder, tmp_path, whole):
    path, _, meta = write_value(LazyTable(str(folder)), "Table", tmp_path)
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)] == [
        100,
        50,
        100,
    ]
    assert meta["rows"] == 250
    pd.testing.assert_frame_equal(pd.read_parquet(path), whole)


def test_writers_take_a_split_table(folder, tmp_path, whole):
    table = LazyTable(str(folder))
    assert write_parquet(table, path=str(tmp_path / "out.parquet"))["rows"] == 250
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), whole)
    assert write_csv(table, path=str(tmp_path / "out.csv"))["rows"] == 250
    assert pd.read_csv(tmp_path / "out.csv")["id"].tolist() == list(range(250))
    write_jsonl(table, path=str(tmp_path / "out.jsonl"))
    assert pd.read_json(tmp_path / "out.jsonl", lines=True)["id"].tolist() == list(range(250))


def test_integer_sums_merge_exactly_beyond_float_precision(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for index in range(3):
        pd.DataFrame({"g": ["a", "b"], "n": [2**55 + index, -(2**54) - 1]}).to_parquet(
            folder / f"{index}.parquet", index=False
        )
    table = LazyTable(str(folder))
    step = lambda: group_by(table, keys=["g"], aggregations={"n": ["sum", "mean", "min"]})  # noqa: E731
    runner = InlinePartitionRunner()
    with use_runner(runner):
        spread = step().to_pandas()
    pd.testing.assert_frame_equal(spread, step().to_pandas(), check_exact=True)
    assert spread["n_sum"].tolist() == [3 * 2**55 + 3, -3 * 2**54 - 3]


def test_data_steps_on_a_split_table_do_not_import_ray_without_a_runner(folder):
    import subprocess
    import sys

    code = (
        "import sys\nfrom tidal.core import LazyTable\nfrom tidal.components.data_rows import filter_rows\n"
        "from tidal.components.data_reshape import group_by\n"
        f"table = LazyTable({str(folder)!r})\nfilter_rows(table, where='v > 0')\n"
        "group_by(table, keys=['g'], aggregations={'v': ['sum']})\nprint('ray' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
