"""Column operations checked against pandas, with names that need quoting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.data_columns import cast, drop, rename, reorder, select
from tidal.core import DataError, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    frame = datasets.load_wine(as_frame=True).frame
    return frame.rename(columns={"alcohol": 'alcohol "%"', "hue": "hue; colour"})


def test_select_matches_pandas(wine):
    columns = ["target", 'alcohol "%"', "hue; colour"]
    pd.testing.assert_frame_equal(select(wine, columns=columns).to_pandas(), wine[columns])
    with pytest.raises(ParameterError, match="more than once"):
        select(wine, columns=["target", "target"])
    with pytest.raises(DataError, match="not found"):
        select.run_eager(wine, columns=["nope"])


def test_drop_matches_pandas(wine):
    pd.testing.assert_frame_equal(drop(wine, columns=['alcohol "%"', "magnesium"]).to_pandas(), wine.drop(columns=['alcohol "%"', "magnesium"]))
    with pytest.raises(DataError, match="at least one must stay"):
        drop(wine, columns=list(wine.columns))


def test_rename_matches_pandas(wine):
    mapping = {'alcohol "%"': "alcohol", "target": "cultivar's class"}
    pd.testing.assert_frame_equal(rename(wine, mapping=mapping).to_pandas(), wine.rename(columns=mapping))
    with pytest.raises(DataError, match="'magnesium' would name more than one column"):
        rename(wine, mapping={"hue; colour": "magnesium"})
    with pytest.raises(DataError, match="parameter 'mapping'.*'nope'"):
        rename(wine, mapping={"nope": "x"})


@pytest.mark.parametrize("position", ["first", "last"])
def test_reorder_matches_pandas(wine, position):
    named = ["target", "hue; colour"]
    rest = [name for name in wine.columns if name not in named]
    expected = wine[named + rest] if position == "first" else wine[rest + named]
    pd.testing.assert_frame_equal(reorder(wine, columns=named, position=position).to_pandas(), expected)


def test_cast_matches_pandas(wine):
    frame = wine.assign(code=wine["target"].astype(str), flag=(wine["target"] > 0).astype(int))
    types = {'alcohol "%"': "int", "code": "int", "magnesium": "float", "target": "string", "flag": "bool"}
    ours = cast(frame, types=types).to_pandas()
    expected = frame.astype({'alcohol "%"': "int64", "code": "int64", "magnesium": "float64", "target": "str", "flag": "bool"})
    pd.testing.assert_frame_equal(ours, expected)


def test_cast_dates_and_errors():
    frame = pd.DataFrame({"day": ["2024-03-01", "2024-03-02", "soon"], "n": ["1", "2", "x"]})
    with pytest.raises(DataError, match="column 'day' has value 'soon' at row 2 that is not a valid date"):
        cast(frame, types={"day": "date", "n": "int"})
    lenient = cast(frame, types={"day": "timestamp", "n": "int"}, errors="null").to_pandas()
    pd.testing.assert_series_equal(lenient["day"], pd.to_datetime(frame["day"], errors="coerce"), check_dtype=False)
    assert lenient["n"].tolist()[:2] == [1, 2] and np.isnan(lenient["n"].iloc[2])
    with pytest.raises(DataError, match="parameter 'types'.*'nope'"):
        cast(frame, types={"nope": "int"})


def test_column_steps_in_a_pipeline(wine, tmp_path):
    wine.to_parquet(tmp_path / "wine.parquet")
    with tidal.Pipeline("columns") as pipeline:
        table = tidal.get_component("io.read_parquet")(path="wine.parquet")
        kept = select(table, columns=["target", 'alcohol "%"', "hue; colour"])
        renamed = rename(kept, mapping={'alcohol "%"': "alcohol"})
        cast(renamed, types={"target": "string"}, _id="cast")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    output = result.output("cast").to_pandas()
    assert list(output.columns) == ["target", "alcohol", "hue; colour"] and output["target"].iloc[0] == "0"
