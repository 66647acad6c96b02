"""Splits and sampling checked against scikit-learn and pandas (same seed, same rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

import tidal
from tidal.components.data import (
    kfold,
    sample,
    sample_stratified,
    sample_weighted,
    shuffle,
    split,
    split_by_time,
    split_by_value,
    split_stratified,
)
from tidal.core import DataError, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    return datasets.load_iris(as_frame=True).frame


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return datasets.load_wine(as_frame=True).frame


def frames(table) -> pd.DataFrame:
    return table if isinstance(table, pd.DataFrame) else table.to_pandas()


def test_split_matches_scikit_learn(wine):
    parts = split(wine, fraction=0.7, seed=3)
    train, test = train_test_split(wine, train_size=0.7, random_state=3)
    pd.testing.assert_frame_equal(parts.train, train.reset_index(drop=True))
    pd.testing.assert_frame_equal(parts.test, test.reset_index(drop=True))


def test_split_stratified_matches_scikit_learn(iris):
    parts = split_stratified(iris, label="target", fraction=0.6, seed=11)
    train, test = train_test_split(iris, train_size=0.6, random_state=11, stratify=iris["target"])
    pd.testing.assert_frame_equal(parts.train, train.reset_index(drop=True))
    pd.testing.assert_frame_equal(parts.test, test.reset_index(drop=True))
    assert parts.train["target"].value_counts().tolist() == [30, 30, 30]


def test_split_stratified_errors(iris):
    lonely = pd.concat([iris, iris.head(1).assign(target=9)], ignore_index=True)
    with pytest.raises(DataError, match="class 9 .* only 1 row"):
        split_stratified(lonely, label="target")
    gap = iris.assign(target=iris["target"].astype(float))
    gap.loc[4, "target"] = np.nan
    with pytest.raises(DataError, match="missing values at row 4"):
        split_stratified(gap, label="target")
    with pytest.raises(DataError, match="not found"):
        split_stratified.run_eager(iris, label="nope")


def test_split_by_time_matches_pandas():
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=40, freq="D"), "v": np.arange(40)})
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    frame.loc[3, "day"] = pd.NaT
    parts = split_by_time(frame, column="day", cutoff="2024-01-31")
    ordered = frame.dropna().sort_values("day", kind="stable")
    cut = pd.Timestamp("2024-01-31")
    pd.testing.assert_frame_equal(frames(parts.train), ordered[ordered["day"] < cut].reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(frames(parts.test), ordered[ordered["day"] >= cut].reset_index(drop=True), check_dtype=False)
    by_share = split_by_time(frame, column="day", fraction=0.75)
    size = round(0.75 * 39)
    assert frames(by_share.train)["v"].tolist() == ordered["v"].iloc[:size].tolist()
    assert frames(by_share.test)["v"].tolist() == ordered["v"].iloc[size:].tolist()
    with pytest.raises(DataError, match="parameter 'cutoff'"):
        split_by_time(frame, column="day", cutoff="not a day")


def test_split_by_value_matches_pandas(wine):
    frame = wine.assign(region=np.where(wine["alcohol"] > 13, "north", "south"))
    frame.loc[0, "region"] = None
    parts = split_by_value(frame, column="region", test_values=["north"])
    held = frame["region"].astype(str).isin(["north"])
    pd.testing.assert_frame_equal(frames(parts.test), frame[held].reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(frames(parts.train), frame[~held].reset_index(drop=True), check_dtype=False)
    numeric = split_by_value(wine, column="target", test_values=["2"])
    assert frames(numeric.test)["target"].eq(2).all() and len(frames(numeric.test)) == (wine["target"] == 2).sum()
    with pytest.raises(ParameterError, match="test_values"):
        split_by_value(wine, column="target", test_values=[])


@pytest.mark.parametrize("stratify", [None, "target"])
def test_kfold_matches_scikit_learn(iris, stratify):
    result = kfold(iris, folds=4, seed=5, stratify=stratify)
    splitter = StratifiedKFold(4, shuffle=True, random_state=5) if stratify else KFold(4, shuffle=True, random_state=5)
    expected = np.zeros(len(iris), dtype=int)
    for index, (_, rows) in enumerate(splitter.split(iris, iris["target"])):
        expected[rows] = index
    np.testing.assert_array_equal(result["fold"].to_numpy(), expected)
    pd.testing.assert_frame_equal(result.drop(columns="fold"), iris)


def test_kfold_errors(iris):
    with pytest.raises(DataError, match="already has a column 'target'"):
        kfold(iris, fold_column="target")
    with pytest.raises(DataError, match="3 row"):
        kfold(iris.head(3), folds=5)


@pytest.mark.parametrize(("rows", "fraction", "replace"), [(7, 0.1, False), (None, 0.25, False), (None, 1.5, True), (300, 0.1, True)])
def test_sample_matches_pandas(wine, rows, fraction, replace):
    ours = frames(sample(wine, rows=rows, fraction=fraction, replace=replace, seed=9))
    theirs = wine.sample(n=rows, frac=None if rows else fraction, replace=replace, random_state=9).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs)


def test_sample_errors_and_empty(wine):
    with pytest.raises(DataError, match="asks for 500 rows but the input has 178"):
        sample(wine, rows=500)
    assert sample(wine.iloc[0:0], fraction=0.5).num_rows == 0
    with pytest.raises(DataError, match="empty"):
        sample(wine.iloc[0:0], rows=3, replace=True)


def test_shuffle_matches_pandas(wine):
    pd.testing.assert_frame_equal(frames(shuffle(wine, seed=4)), wine.sample(frac=1, random_state=4).reset_index(drop=True))


def test_sample_weighted_matches_pandas(wine):
    ours = sample_weighted(wine, weight="alcohol", rows=20, seed=2)
    pd.testing.assert_frame_equal(ours, wine.sample(n=20, weights="alcohol", random_state=2).reset_index(drop=True))
    heavy = wine.assign(w=np.where(wine["target"] == 0, 1.0, 0.0))
    assert set(sample_weighted(heavy, weight="w", fraction=0.2)["target"]) == {0}


def test_sample_weighted_errors(wine):
    with pytest.raises(DataError, match="negative weight -1.0 at row 0"):
        sample_weighted(wine.assign(w=[-1.0] + [1.0] * 177), weight="w")
    with pytest.raises(DataError, match="non-numeric value 'x' at row 1"):
        sample_weighted(wine.assign(w=["1", "x"] + ["1"] * 176), weight="w")
    with pytest.raises(DataError, match="sums to 0"):
        sample_weighted(wine.assign(w=0.0), weight="w")


def test_sample_stratified_matches_pandas(iris):
    ours = sample_stratified(iris, label="target", fraction=0.2, seed=6)
    pd.testing.assert_frame_equal(ours, iris.groupby("target", sort=False).sample(frac=0.2, random_state=6).reset_index(drop=True))
    balanced = sample_stratified(iris.iloc[20:], label="target", rows_per_class=5)
    assert balanced["target"].value_counts().tolist() == [5, 5, 5]
    with pytest.raises(DataError, match="fewer than rows_per_class=60"):
        sample_stratified(iris, label="target", rows_per_class=60)


def test_sampling_in_a_pipeline(tmp_path):
    with tidal.Pipeline("sampling") as pipeline:
        table = tidal.get_component("io.dataset")(name="iris", _id="iris")
        parts = split_stratified(table, label="target", fraction=0.8, seed=1, _id="split")
        sample(parts.train, rows=12, seed=3, _id="sample")
        kfold(parts.test, folds=3, stratify="target", _id="folds")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    train = result.output("split", "train").to_pandas()
    assert result.output("sample").to_pandas().equals(train.sample(12, random_state=3).reset_index(drop=True))
    assert sorted(result.output("folds").to_pandas()["fold"].value_counts().tolist()) == [10, 10, 10]
