"""Group-by, pivot, unpivot, lag and rolling windows checked against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.data_reshape import group_by, lag, pivot, rolling, unpivot
from tidal.core import DataError, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
    rng = np.random.default_rng(5)
    frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"}).astype("str")
    frame["age band"] = (frame["age"] // 20).astype("int64")
    frame.loc[rng.choice(len(frame), 25, replace=False), "bmi"] = np.nan
    frame.loc[rng.choice(len(frame), 10, replace=False), "sex"] = np.nan
    return frame


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "day": np.tile(pd.date_range("2024-01-01", periods=30), 3),
            "store": np.repeat(["north", "south", "east"], 30),
            "sales": rng.normal(100, 10, size=90),
            "units": rng.integers(0, 20, size=90),
        }
    )
    return frame.sample(frac=1, random_state=1).reset_index(drop=True)  # time order is not row order


FUNCTIONS = ["count", "sum", "mean", "median", "min", "max", "std", "var", "nunique", "first", "last"]


def test_group_by_matches_pandas(diabetes):
    aggregations = {"bmi": FUNCTIONS, "sex": ["count", "nunique", "first", "last", "min"], "target": ["sum"]}
    ours = group_by(diabetes, keys=["sex", "age band"], aggregations=aggregations).to_pandas()
    grouped = diabetes.groupby(["sex", "age band"], dropna=False)
    expected = grouped.agg(**{f"{name}_{function}": (name, function) for name, functions in aggregations.items() for function in functions})
    expected["count"] = grouped.size()
    expected = expected.reset_index()
    pd.testing.assert_frame_equal(ours, expected, check_dtype=False)


def test_group_by_whole_table_and_errors(diabetes):
    ours = group_by(diabetes, keys=[], aggregations={"bp": ["mean", "std"]}, count_column=None).to_pandas()
    assert ours.to_dict("records") == [pytest.approx({"bp_mean": diabetes["bp"].mean(), "bp_std": diabetes["bp"].std()})]
    with pytest.raises(DataError, match="column 'sex' is VARCHAR, so 'mean' does not apply"):
        group_by(diabetes, keys=["age band"], aggregations={"sex": ["mean"]})
    with pytest.raises(DataError, match="parameter 'aggregations'.*'nope'"):
        group_by(diabetes, keys=["age band"], aggregations={"nope": ["sum"]})
    with pytest.raises(DataError, match="count_column"):
        group_by(diabetes, keys=["age band"], aggregations={"bp": ["sum"]}, count_column="bp_sum")


@pytest.mark.parametrize("agg", ["mean", "sum", "count", "max", "first"])
def test_pivot_matches_pandas(diabetes, agg):
    ours = pivot(diabetes, index=["age band"], pivot_column="sex", value_column="bmi", agg=agg)
    expected = pd.pivot_table(diabetes, index=["age band"], columns="sex", values="bmi", aggfunc=agg, observed=True)
    expected.columns = [str(name) for name in expected.columns]
    pd.testing.assert_frame_equal(ours, expected.reset_index())


def test_pivot_errors(diabetes):
    with pytest.raises(DataError, match="more than max_columns=5"):
        pivot(diabetes, index=["sex"], pivot_column="bp", value_column="bmi", max_columns=5)
    with pytest.raises(DataError, match="agg=mean needs numbers"):
        pivot(diabetes, index=["age band"], pivot_column="s1", value_column="sex")


def test_unpivot_matches_melt(diabetes):
    ours = unpivot(diabetes, id_columns=["sex", "age band"], value_columns=["bmi", "bp"], name_column="measure", value_name="reading")
    expected = pd.melt(diabetes, id_vars=["sex", "age band"], value_vars=["bmi", "bp"], var_name="measure", value_name="reading")
    pd.testing.assert_frame_equal(ours, expected)
    assert len(unpivot(diabetes, id_columns=["sex"])) == len(diabetes) * (diabetes.shape[1] - 1)
    with pytest.raises(DataError, match="is an id column"):
        unpivot(diabetes, id_columns=["sex"], name_column="sex")


def test_lag_matches_pandas(series):
    ours = lag(series, columns=["sales", "units"], lags=[1, 7, -1], order_by="day", group_by=["store"])
    ordered = series.sort_values("day", kind="stable").groupby("store", sort=False)
    for name in ("sales", "units"):
        for step, label in ((1, "lag1"), (7, "lag7"), (-1, "lead1")):
            pd.testing.assert_series_equal(ours[f"{name}_{label}"], ordered[name].shift(step).sort_index(), check_names=False)
    pd.testing.assert_frame_equal(ours[series.columns], series)
    plain = lag(series, columns=["sales"])
    pd.testing.assert_series_equal(plain["sales_lag1"], series["sales"].shift(1), check_names=False)
    with pytest.raises(ParameterError, match="non-zero"):
        lag(series, columns=["sales"], lags=[0])
    with pytest.raises(DataError, match="'store' is .* not numeric"):
        lag(series, columns=["store"])


@pytest.mark.parametrize("function", ["mean", "sum", "min", "max", "std", "median"])
def test_rolling_matches_pandas(series, function):
    ours = rolling(series, columns=["sales"], window=5, functions=[function], min_periods=2, order_by="day", group_by=["store"])
    ordered = series.sort_values("day", kind="stable")
    expected = ordered.groupby("store", sort=False)["sales"].transform(lambda values: getattr(values.rolling(5, min_periods=2), function)())
    pd.testing.assert_series_equal(ours[f"sales_rolling5_{function}"], expected.sort_index(), check_names=False)


def test_rolling_without_groups_and_errors(series):
    ours = rolling(series, columns=["units"], window=3, functions=["sum", "max"])
    pd.testing.assert_series_equal(ours["units_rolling3_sum"], series["units"].rolling(3).sum(), check_names=False)
    with pytest.raises(ParameterError, match="min_periods"):
        rolling(series, columns=["units"], window=3, min_periods=4)


def test_reshape_in_a_pipeline(series, tmp_path):
    series.to_parquet(tmp_path / "sales.parquet")
    with tidal.Pipeline("reshape") as pipeline:
        table = tidal.get_component("io.read_parquet")(path="sales.parquet")
        lagged = lag(table, columns=["sales"], order_by="day", group_by=["store"], _id="lag")
        group_by(lagged, keys=["store"], aggregations={"sales_lag1": ["count", "mean"]}, _id="summary")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    summary = result.output("summary").to_pandas()
    assert summary["store"].tolist() == ["east", "north", "south"]
    assert summary["sales_lag1_count"].tolist() == [29, 29, 29] and summary["count"].tolist() == [30, 30, 30]
