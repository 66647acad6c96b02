"""Tools: SQL and Python scripts, preview statistics, charts and data checks, against pandas/DuckDB."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.tools import assert_rows, chart, preview, python_script, sql_script
from tidal.core import DataError, LazyTable, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def penguins_like() -> pd.DataFrame:
    """Wine data with gaps, a text column and a timestamp."""
    frame = datasets.load_wine(as_frame=True).frame.rename(columns={"alcohol": "alcohol.pct"})
    frame["cultivar"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"}).astype("str")
    frame["bottled"] = pd.date_range("2020-01-01", periods=len(frame), freq="D")
    frame.loc[[3, 50, 99], "magnesium"] = np.nan
    frame.loc[[7], "cultivar"] = np.nan
    return frame


def test_sql_script_matches_duckdb(penguins_like):
    script = """
    CREATE TEMP TABLE strong AS SELECT * FROM t1 WHERE "alcohol.pct" > 13;
    CREATE MACRO ratio(a, b) AS a / b;
    SELECT cultivar, count(*) AS n, avg(ratio(magnesium, "alcohol.pct")) AS r FROM strong GROUP BY cultivar ORDER BY cultivar;
    """
    ours = sql_script(penguins_like, script=script).to_pandas()
    con = duckdb.connect()
    con.register("t1", penguins_like)
    for statement in con.extract_statements(script)[:-1]:
        con.execute(statement.query)
    theirs = con.sql(con.extract_statements(script)[-1].query).df()
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_sql_script_errors(penguins_like):
    with pytest.raises(ParameterError, match="last statement must be a SELECT"):
        sql_script(penguins_like, script="SELECT 1; CREATE TABLE x AS SELECT 1")
    with pytest.raises(DataError, match="statement 2: .*nope"):
        sql_script(penguins_like, script="CREATE TABLE a AS SELECT 1 AS x; CREATE TABLE b AS SELECT nope FROM a; SELECT * FROM b")
    with pytest.raises(DataError, match="(Permission|disabled)"):
        sql_script(penguins_like, script="SELECT * FROM read_csv('/etc/passwd')")
    assert sql_script(script="SELECT 42 AS answer").to_pandas()["answer"].item() == 42


def test_python_script_runs_user_code(penguins_like):
    code = """
import math

def run(t1, t2=None, t3=None):
    out = t1[["cultivar"]].copy()
    out["log_mg"] = np.log(t1["magnesium"])
    out["rows_in_t2"] = len(t2)
    return out
"""
    result = python_script(penguins_like, penguins_like.head(5), code=code)
    pd.testing.assert_series_equal(result["log_mg"], np.log(penguins_like["magnesium"]), check_names=False)
    assert (result["rows_in_t2"] == 5).all()
    as_dict = python_script(penguins_like, code="def run(t1, t2=None, t3=None):\n    return {'n': [len(t1)]}")
    assert as_dict["n"].item() == 178
    untouched = penguins_like.copy()
    python_script(penguins_like, code="def run(t1, t2=None, t3=None):\n    t1['x'] = 1\n    return t1")
    pd.testing.assert_frame_equal(penguins_like, untouched)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def run(t1 t2):\n    pass", "syntax error at line 1"),
        ("x = 1", "must define a function run"),
        ("def run(t1, t2=None, t3=None):\n    a = 1\n    return t1['nope']", "KeyError at line 3"),
        ("def run(t1, t2=None, t3=None):\n    return 5", "must return a DataFrame, got int"),
    ],
)
def test_python_script_errors(penguins_like, code, message):
    with pytest.raises(DataError, match=message):
        python_script(penguins_like, code=code)


def test_python_script_says_it_runs_user_code():
    spec = tidal.get_component("tools.python_script")
    assert "ARBITRARY USER CODE" in spec.description and spec.tags["runs_user_code"] is True


def test_preview_matches_pandas(penguins_like):
    result = preview(penguins_like, rows=4)
    assert result["rows"] == 178 and result["columns"] == penguins_like.shape[1]
    assert len(result.tables["head"]) == 4 and result.tables["head"][0]["cultivar"] == "barolo"
    stats = {item["column"]: item for item in result.tables["columns"]}
    for name in penguins_like.columns:
        column = penguins_like[name]
        assert stats[name]["missing"] == column.isna().sum(), name
        assert stats[name]["non_missing"] == column.count(), name
        assert stats[name]["distinct"] == column.nunique(), name
    for name in ("magnesium", "alcohol.pct", "target"):
        column = penguins_like[name]
        assert stats[name]["min"] == column.min() and stats[name]["max"] == column.max()
        assert stats[name]["mean"] == pytest.approx(column.mean()) and stats[name]["std"] == pytest.approx(column.std())
    assert stats["cultivar"]["min"] == "barbera" and stats["cultivar"]["mean"] is None
    assert "missing" in result.figures


def test_preview_counts_nan_in_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, float("nan"), 3.0], from_pandas=False)}), path)
    stats = preview(LazyTable(str(path))).tables["columns"][0]
    assert stats["missing"] == 1 and stats["mean"] == 2.0


def test_chart_aggregates_like_pandas(penguins_like):
    spec = chart(penguins_like, x="cultivar", y="alcohol.pct", mark="bar", aggregate="mean", title="Alcohol")
    expected = penguins_like.groupby("cultivar", dropna=False)["alcohol.pct"].mean()
    values = spec["data"]["values"]
    assert [row["cultivar"] for row in values] == ["barbera", "barolo", "grignolino", None]  # missing last, as pandas
    assert [row["alcohol.pct"] for row in values] == pytest.approx(expected.tolist())
    assert spec["encoding"]["y"]["field"] == "alcohol\\.pct"  # Vega-Lite would read the dot as nesting
    assert spec["mark"]["type"] == "bar" and spec["title"] == "Alcohol"
    counted = chart(penguins_like, x="target", aggregate="count", mark="bar")
    assert [row["count"] for row in counted["data"]["values"]] == penguins_like["target"].value_counts().sort_index().tolist()


def test_chart_raw_points_and_errors(penguins_like):
    spec = chart(penguins_like, x="bottled", y="magnesium", color="cultivar", max_rows=50)
    assert len(spec["data"]["values"]) == 50
    assert spec["encoding"]["x"]["type"] == "temporal" and spec["encoding"]["color"]["type"] == "nominal"
    assert spec["data"]["values"][0]["bottled"].startswith("2020-01-01")
    with pytest.raises(ParameterError, match="'y' is empty"):
        chart(penguins_like, x="cultivar")
    with pytest.raises(DataError, match="aggregate=sum needs numbers"):
        chart(penguins_like, x="target", y="cultivar", aggregate="sum")


def test_assert_rows_passes_data_through(penguins_like):
    checked = assert_rows(penguins_like, min_rows=100, max_rows=200, not_null=["target"], unique=["bottled"], where='"alcohol.pct" > 10')
    pd.testing.assert_frame_equal(checked.to_pandas(), penguins_like, check_dtype=False)


def test_assert_rows_reports_every_failure(penguins_like):
    with pytest.raises(DataError) as caught:
        assert_rows(penguins_like, min_rows=500, not_null=["magnesium", "cultivar"], unique=["target"], where="magnesium < 150")
    message = str(caught.value)
    assert message.startswith("5 data checks failed")
    assert "the table has 178 rows, fewer than 500" in message
    assert "column 'magnesium' has 3 missing values, first at row 3" in message
    assert "column 'cultivar' has 1 missing value, first at row 7" in message
    expected_repeats = len(penguins_like) - penguins_like["target"].nunique()
    assert f"{expected_repeats} repeated values of (target), first at row 1" in message
    breaking = penguins_like[~(penguins_like["magnesium"] < 150)]
    assert f"{len(breaking)} rows break 'magnesium < 150', first at row {breaking.index[0]}" in message
    with pytest.raises(DataError, match="parameter 'where'"):
        assert_rows(penguins_like, where="nope > 1")
    with pytest.raises(DataError, match="fewer than 1"):
        assert_rows(penguins_like.iloc[0:0])


def test_tools_in_a_pipeline(penguins_like, tmp_path):
    penguins_like.to_parquet(tmp_path / "wine.parquet")
    with tidal.Pipeline("tools") as pipeline:
        table = tidal.get_component("io.read_parquet")(path="wine.parquet")
        checked = assert_rows(table, not_null=["target"], _id="check")
        scripted = python_script(checked, code="def run(t1, t2=None, t3=None):\n    return t1.head(10)", _id="python")
        preview(scripted, _id="preview")
        chart(checked, x="cultivar", aggregate="count", mark="bar", _id="chart")
    with pytest.raises(tidal.CodeNotAllowed, match="node 'python'"):
        tidal.run(pipeline, workspace=tmp_path, workers=0)
    result = tidal.run(pipeline, workspace=tmp_path, workers=0, allow_code=True)
    assert result.ok
    assert result.output("preview")["rows"] == 10
    assert result.output("chart")["mark"]["type"] == "bar"
    failing = tidal.Pipeline("failing")
    with failing:
        assert_rows(tidal.get_component("io.read_parquet")(path="wine.parquet"), min_rows=1000, _id="check")
    outcome = tidal.run(failing, workspace=tmp_path, workers=0)
    assert not outcome.ok and "fewer than 1000" in outcome.nodes["check"].error
