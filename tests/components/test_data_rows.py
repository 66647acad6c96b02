"""Row operations checked against pandas on bundled data, with awkward column names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.data_rows import (
    append_id,
    clip_outliers,
    deduplicate,
    drop_missing,
    fill_missing,
    filter_rows,
    sort,
)
from tidal.core import DataError, LazyTable, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return datasets.load_breast_cancer(as_frame=True).frame


@pytest.fixture
def gappy() -> pd.DataFrame:
    """Diabetes data with gaps, a text column, and names that need quoting."""
    frame = datasets.load_diabetes(as_frame=True).frame.rename(columns={"bmi": "body mass", "bp": 'blood "pressure"'})
    rng = np.random.default_rng(3)
    for name in ("age", "body mass"):
        frame.loc[rng.choice(len(frame), 40, replace=False), name] = np.nan
    frame["group"] = pd.Series(rng.choice(["a", "b", "c"], size=len(frame)), dtype="str")
    frame.loc[rng.choice(len(frame), 30, replace=False), "group"] = None
    return frame


def pandas_of(table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, LazyTable) else table


def test_filter_matches_pandas(cancer):
    ours = pandas_of(filter_rows(cancer, where='"mean radius" > 15 AND target = 0'))
    expected = cancer[(cancer["mean radius"] > 15) & (cancer["target"] == 0)].reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, expected)


def test_filter_errors_are_clear(cancer):
    with pytest.raises(DataError, match="parameter 'where'.*nope"):
        filter_rows(cancer, where="nope > 1")
    with pytest.raises(ParameterError, match="empty"):
        filter_rows(cancer, where="  ")
    with pytest.raises(DataError, match="parameter 'where'.*(Permission|disabled)"):
        filter_rows(cancer, where="(SELECT count(*) FROM read_csv('/etc/passwd')) > 0")


@pytest.mark.parametrize(("descending", "missing_last"), [(False, True), (True, True), (False, False)])
def test_sort_matches_pandas(gappy, descending, missing_last):
    columns = ["group", "body mass"]
    ours = pandas_of(sort(gappy, columns=columns, descending=descending, missing_last=missing_last))
    expected = gappy.sort_values(columns, ascending=not descending, kind="stable", na_position="last" if missing_last else "first")
    pd.testing.assert_frame_equal(ours, expected.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("keep", ["first", "last"])
def test_deduplicate_matches_pandas(gappy, keep):
    ours = pandas_of(deduplicate(gappy, columns=["group", "sex"], keep=keep))
    expected = gappy.drop_duplicates(["group", "sex"], keep=keep).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, expected, check_dtype=False)
    doubled = pd.concat([gappy, gappy.head(10)], ignore_index=True)
    pd.testing.assert_frame_equal(pandas_of(deduplicate(doubled, keep=keep)), doubled.drop_duplicates(keep=keep).reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize(("columns", "how"), [(None, "any"), (["age", "body mass"], "all"), (["group"], "any")])
def test_drop_missing_matches_pandas(gappy, columns, how):
    ours = pandas_of(drop_missing(gappy, columns=columns, how=how))
    pd.testing.assert_frame_equal(ours, gappy.dropna(subset=columns, how=how).reset_index(drop=True), check_dtype=False)


def test_drop_missing_sees_nan_in_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, float("nan"), 3.0], from_pandas=False)}), path)
    assert drop_missing(LazyTable(str(path))).num_rows == 2


@pytest.mark.parametrize("method", ["mean", "median", "mode", "forward", "backward"])
def test_fill_missing_matches_pandas(gappy, method):
    ours = fill_missing(gappy, method=method)
    expected = gappy.copy()
    for name in ["age", "body mass"] + ([] if method in ("mean", "median") else ["group"]):
        column = expected[name]
        if method in ("mean", "median", "mode"):
            fill = column.mode().iloc[0] if method == "mode" else getattr(column, method)()
            expected[name] = column.fillna(fill)
        else:
            expected[name] = column.ffill() if method == "forward" else column.bfill()
    pd.testing.assert_frame_equal(ours, expected)


def test_fill_missing_constant_and_errors(gappy):
    filled = fill_missing(gappy, method="constant", value="7", columns=["age"])
    assert filled["age"].isna().sum() == 0 and (filled["age"] == 7.0).sum() == 40
    assert fill_missing(gappy, method="constant", value="none", columns=["group"])["group"].eq("none").sum() == 30
    with pytest.raises(ParameterError, match="needs 'value'"):
        fill_missing(gappy, method="constant")
    with pytest.raises(DataError, match="'x' is not a number"):
        fill_missing(gappy, method="constant", value="x", columns=["age"])
    with pytest.raises(DataError, match="column 'group' is .* not numeric"):
        fill_missing(gappy, method="mean", columns=["group"])


@pytest.mark.parametrize("method", ["iqr", "zscore", "quantile"])
def test_clip_outliers_matches_formula(cancer, method):
    columns = ["mean area", "worst area"]
    ours = clip_outliers(cancer, columns=columns, method=method, factor=2.0, lower_quantile=0.05, upper_quantile=0.9)
    for name in columns:
        values = cancer[name]
        if method == "iqr":
            q1, q3 = values.quantile([0.25, 0.75])
            low, high = q1 - 2.0 * (q3 - q1), q3 + 2.0 * (q3 - q1)
        elif method == "zscore":
            low, high = values.mean() - 2.0 * values.std(), values.mean() + 2.0 * values.std()
        else:
            low, high = values.quantile(0.05), values.quantile(0.9)
        pd.testing.assert_series_equal(ours[name], values.clip(low, high))
    pd.testing.assert_series_equal(ours["mean radius"], cancer["mean radius"])
    with pytest.raises(ParameterError, match="lower_quantile"):
        clip_outliers(cancer, method="quantile", lower_quantile=0.9, upper_quantile=0.1)


def test_append_id(cancer):
    numbered = pandas_of(append_id(cancer, column="row number", start=100))
    assert numbered.columns[0] == "row number"
    assert numbered["row number"].tolist() == list(range(100, 100 + len(cancer)))
    pd.testing.assert_frame_equal(numbered.drop(columns="row number"), cancer)
    with pytest.raises(DataError, match="already has a column 'target'"):
        append_id(cancer, column="target")


def test_a_column_named_like_duckdbs_row_number_column():
    frame = pd.DataFrame({"file_row_number": [3, 1, 2], "x": ["c", "a", "b"]})
    assert pandas_of(sort(frame, columns=["file_row_number"]))["x"].tolist() == ["a", "b", "c"]
    assert pandas_of(append_id(frame))["row_id"].tolist() == [0, 1, 2]


def test_row_steps_in_a_pipeline(gappy, tmp_path):
    gappy.to_parquet(tmp_path / "gappy.parquet")
    with tidal.Pipeline("rows") as pipeline:
        table = tidal.get_component("io.read_parquet")(path="gappy.parquet", _id="read")
        kept = filter_rows(table, where='"body mass" IS NOT NULL AND age > 0', _id="filter")
        unique = deduplicate(kept, columns=["group"], _id="dedupe")
        sort(unique, columns=["group"], _id="sort")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    expected = gappy[gappy["body mass"].notna() & (gappy["age"] > 0)].drop_duplicates(["group"]).sort_values("group", kind="stable")
    pd.testing.assert_frame_equal(result.output("sort").to_pandas(), expected.reset_index(drop=True), check_dtype=False)
