"""Join, union and SQL over several tables, checked against pandas and DuckDB."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.data_combine import join, sql, union
from tidal.core import DataError, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Iris rows as facts; a dimension keyed on (species, size band), missing some keys, with a repeated key."""
    iris = datasets.load_iris(as_frame=True).frame
    facts = iris.assign(band=(iris["petal length (cm)"] // 2).astype("int64"))
    rng = np.random.default_rng(1)
    keys = facts[["target", "band"]].drop_duplicates().sort_values(["target", "band"]).iloc[1:]
    dimension = keys.assign(**{"label name": rng.choice(["x", "y"], size=len(keys)), "sepal width (cm)": rng.normal(size=len(keys))})
    dimension = pd.concat([dimension, dimension.head(1).assign(**{"label name": "dup"}), pd.DataFrame({"target": [7], "band": [0], "label name": ["orphan"], "sepal width (cm)": [0.0]})], ignore_index=True)
    return facts.reset_index(drop=True), dimension.reset_index(drop=True)


@pytest.mark.parametrize("how", ["inner", "left", "right", "full"])
def test_join_matches_pandas(tables, how):
    facts, dimension = tables
    ours = join(facts, dimension, on=["target", "band"], how=how).to_pandas()
    theirs = facts.merge(dimension, on=["target", "band"], how="outer" if how == "full" else how, suffixes=("", "_right"))
    if how == "full":  # pandas sorts outer-join keys; we keep left order then the unmatched right rows
        ours = ours.sort_values(list(ours.columns)).reset_index(drop=True)
        theirs = theirs.sort_values(list(theirs.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs.reset_index(drop=True), check_dtype=False)


def test_join_with_differently_named_keys(tables):
    facts, dimension = tables
    renamed = dimension.rename(columns={"target": "species", "band": "size band"})
    ours = join(facts, renamed, on=["target", "band"], right_on=["species", "size band"], how="left").to_pandas()
    theirs = facts.merge(renamed, left_on=["target", "band"], right_on=["species", "size band"], how="left", suffixes=("", "_right"))
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_join_errors(tables):
    facts, dimension = tables
    with pytest.raises(ParameterError, match="one right key per left key"):
        join(facts, dimension, on=["target", "band"], right_on=["target"])
    with pytest.raises(DataError, match="not found in input 'right'"):
        join.run_eager(facts, dimension, on=["target"], right_on=["nope"])
    with pytest.raises(DataError, match="key types"):
        join(facts, dimension.assign(target=pd.Timestamp("2024-01-01")), on=["target"])
    with pytest.raises(DataError, match="suffix"):
        join(facts.assign(**{"sepal width (cm)_right": 1}), dimension, on=["target", "band"])


def test_join_output_is_deterministic(tables):
    facts, dimension = tables
    first = join(facts, dimension, on=["target"], how="inner").to_pandas()
    second = join(facts, dimension, on=["target"], how="inner").to_pandas()
    pd.testing.assert_frame_equal(first, second)


def test_union_matches_pandas(tables):
    facts, _ = tables
    first, second = facts.iloc[:100], facts.iloc[80:].drop(columns=["band"])
    ours = union(first, second).to_pandas()
    pd.testing.assert_frame_equal(ours, pd.concat([first, second], ignore_index=True), check_dtype=False)
    distinct = union(first, second.assign(band=first["band"].iloc[0]), distinct=True, source_column="from").to_pandas()
    stacked = pd.concat([first.assign(**{"from": "data"}), second.assign(band=first["band"].iloc[0], **{"from": "other"})], ignore_index=True)
    expected = stacked.drop_duplicates(subset=list(first.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(distinct, expected, check_dtype=False)


def test_union_by_position(tables):
    facts, _ = tables
    renamed = facts.head(3).set_axis([f"c{index}" for index in range(facts.shape[1])], axis=1)
    ours = union(facts.head(2), renamed, by_name=False).to_pandas()
    pd.testing.assert_frame_equal(ours, pd.concat([facts.head(2), facts.head(3)], ignore_index=True), check_dtype=False)
    with pytest.raises(DataError, match="same number of columns"):
        union(facts, facts.drop(columns="band"), by_name=False)


def test_sql_matches_duckdb(tables):
    facts, dimension = tables
    query = (
        'SELECT t1.target, t2."label name", count(*) AS n, avg(t1."sepal width (cm)") AS width '
        "FROM t1 JOIN t2 USING (target, band) GROUP BY ALL ORDER BY ALL"
    )
    ours = sql(facts, dimension, query=query).to_pandas()
    t1, t2 = facts, dimension  # noqa: F841  (DuckDB finds them by name)
    pd.testing.assert_frame_equal(ours, duckdb.sql(query).df(), check_dtype=False)
    three = sql(facts, dimension, facts, query="SELECT (SELECT count(*) FROM t1) + (SELECT count(*) FROM t3) AS n").to_pandas()
    assert three["n"].item() == 300


def test_sql_errors(tables):
    facts, _ = tables
    with pytest.raises(DataError, match="connected tables: t1.*t2 does not exist"):
        sql(facts, query="SELECT * FROM t2")
    with pytest.raises(ParameterError, match="exactly one SELECT"):
        sql(facts, query="SELECT 1; SELECT 2")
    with pytest.raises(ParameterError, match="exactly one SELECT"):
        sql(facts, query="CREATE TABLE x AS SELECT 1")
    with pytest.raises(DataError, match="(Permission|disabled)"):
        sql(facts, query="SELECT * FROM read_csv('/etc/passwd')")


def test_join_in_a_pipeline(tables, tmp_path):
    facts, dimension = tables
    facts.to_parquet(tmp_path / "facts.parquet")
    dimension.to_parquet(tmp_path / "dimension.parquet")
    read = tidal.get_component("io.read_parquet")
    with tidal.Pipeline("combine") as pipeline:
        joined = join(read(path="facts.parquet"), read(path="dimension.parquet"), on=["target", "band"], how="left", _id="join")
        sql(joined, query='SELECT "label name", count(*) AS n FROM t1 GROUP BY 1 ORDER BY 1 NULLS LAST', _id="count")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    merged = facts.merge(dimension, on=["target", "band"], how="left", suffixes=("", "_right"))
    counts = merged["label name"].value_counts(dropna=False).sort_index(na_position="last")
    assert result.output("count").to_pandas()["n"].tolist() == counts.tolist()
