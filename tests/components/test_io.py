"""io components checked against pandas, DuckDB, SQLite and scikit-learn on bundled data."""

from __future__ import annotations

import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import tidal
from tidal.components.io import (
    read_csv,
    read_excel,
    read_jsonl,
    read_parquet,
    write_csv,
    write_excel,
    write_jsonl,
    write_parquet,
)
from tidal.components.io_datasets import (
    dataset,
    make_blobs,
    make_classification,
    make_regression,
    make_time_series,
)
from tidal.components.io_db import duckdb_query, read_sql, write_sql
from tidal.core import DataError, LazyTable, ParameterError


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Streamed results land in the test's own folder, removed with it."""
    monkeypatch.setattr("tidal.components._sql.SCRATCH", tmp_path / "scratch")


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return datasets.load_breast_cancer(as_frame=True).frame


@pytest.fixture
def odd() -> pd.DataFrame:
    """Awkward names and values: spaces, quotes, missing values, text with delimiters."""
    return pd.DataFrame(
        {
            "unit price": [1.5, 2.25, None],
            'say "hi"': ["a,b", "it's", "plain"],
            "n": [1, 2, 3],
        }
    )


def test_csv_round_trip_matches_pandas(cancer, tmp_path):
    path = tmp_path / "cancer.csv"
    metrics = write_csv(cancer, path=str(path))
    assert metrics == {"rows": 569, "columns": 31, "path": str(path.resolve())}
    pd.testing.assert_frame_equal(pd.read_csv(path), cancer, check_dtype=False)
    table = read_csv(path=str(path))
    assert isinstance(table, LazyTable)
    pd.testing.assert_frame_equal(table.to_pandas(), pd.read_csv(path), check_dtype=False)


def test_csv_options_and_awkward_names(odd, tmp_path):
    path = tmp_path / "odd.csv"
    write_csv(odd, path=str(path), delimiter=";")
    assert path.read_text().splitlines()[0].count(";") == 2
    pd.testing.assert_frame_equal(read_csv(path=str(path), delimiter=";").to_pandas(), pd.read_csv(path, sep=";"), check_dtype=False)
    no_header = tmp_path / "plain.csv"
    no_header.write_text("1,x\n2,y\n")
    assert read_csv(path=str(no_header), header=False).to_pandas().to_dict("list") == {"column0": [1, 2], "column1": ["x", "y"]}
    with pytest.raises(DataError, match="nested columns need io.write_jsonl"):
        write_csv(pd.DataFrame({"tags": [["a", "b"], ["c"]]}), path=str(tmp_path / "nested.csv"))


@pytest.mark.parametrize("encoding", ["latin1", "gbk"])
def test_csv_encodings(tmp_path, encoding):
    frame = pd.DataFrame({"city": ["Zürich", "Köln"] if encoding == "latin1" else ["北京", "上海"], "n": [1, 2]})
    path = tmp_path / "encoded.csv"
    frame.to_csv(path, index=False, encoding=encoding)
    pd.testing.assert_frame_equal(read_csv(path=str(path), encoding=encoding).to_pandas(), pd.read_csv(path, encoding=encoding), check_dtype=False)


def test_read_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_csv(path=str(tmp_path / "nope.csv"))
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(DataError, match="one character"):
        read_csv(path=str(tmp_path / "a.csv"), delimiter="::")
    with pytest.raises(DataError, match="unknown encoding"):
        read_csv(path=str(tmp_path / "a.csv"), encoding="klingon")
    with pytest.raises(DataError, match="not a Parquet file"):
        read_parquet(path=str(tmp_path / "a.csv"))
    with pytest.raises(DataError, match="JSON Lines"):
        read_jsonl(path=str(tmp_path / "a.csv"))


def test_parquet_round_trip_columns_and_folders(cancer, odd, tmp_path):
    path = tmp_path / "cancer.parquet"
    assert write_parquet(cancer, path=str(path), compression="zstd")["rows"] == 569
    pd.testing.assert_frame_equal(pd.read_parquet(path), cancer, check_dtype=False)
    whole = read_parquet(path=str(path))
    assert whole.path == str(path.resolve()) and not whole.owned  # read in place, no copy
    picked = read_parquet(path=str(path), columns=["mean radius", "target"])
    pd.testing.assert_frame_equal(picked.to_pandas(), pd.read_parquet(path, columns=["mean radius", "target"]))
    with pytest.raises(DataError, match="not in"):
        read_parquet(path=str(path), columns=["nope"])
    folder = tmp_path / "parts"
    folder.mkdir()
    odd.iloc[:2].to_parquet(folder / "a.parquet")
    odd.iloc[2:].to_parquet(folder / "b.parquet")
    both = read_parquet(path=str(folder)).to_pandas().sort_values("n").reset_index(drop=True)
    pd.testing.assert_frame_equal(both, odd, check_dtype=False)


def test_jsonl_round_trip_matches_pandas(odd, tmp_path):
    path = tmp_path / "odd.jsonl"
    write_jsonl(odd, path=str(path))
    pd.testing.assert_frame_equal(pd.read_json(path, lines=True), odd, check_dtype=False)
    pandas_written = tmp_path / "pandas.jsonl"
    odd.to_json(pandas_written, orient="records", lines=True)
    pd.testing.assert_frame_equal(read_jsonl(path=str(pandas_written)).to_pandas(), pd.read_json(pandas_written, lines=True), check_dtype=False)


def test_excel_round_trip_matches_pandas(odd, tmp_path):
    path = tmp_path / "book.xlsx"
    stamped = odd.assign(when=pd.date_range("2024-01-01", periods=3, tz="Europe/Oslo"))
    assert write_excel(stamped, path=str(path), sheet="sales")["rows"] == 3
    expected = pd.read_excel(path, sheet_name="sales")
    assert expected["when"].iloc[0] == pd.Timestamp("2023-12-31 23:00")  # stored in UTC, zone dropped
    pd.testing.assert_frame_equal(read_excel(path=str(path), sheet="sales"), expected)
    with pytest.raises(DataError, match="no sheet 'other'"):
        read_excel(path=str(path), sheet="other")
    with pytest.raises(DataError, match="not a valid sheet name"):
        write_excel(odd, path=str(path), sheet="a/b")
    headless = read_excel(path=str(path), header=False, skip_rows=1)
    assert list(headless.columns[:2]) == ["column0", "column1"] and len(headless) == 3


def test_sql_round_trip_on_a_sqlite_file(cancer, tmp_path, monkeypatch):
    database = tmp_path / "shop.db"
    url = f"sqlite:///{database}"
    assert write_sql(cancer, url=url, table="cancer", batch_rows=100)["rows"] == 569
    with sqlite3.connect(database) as connection:
        stored = pd.read_sql("SELECT * FROM cancer", connection)
    pd.testing.assert_frame_equal(stored, cancer, check_dtype=False)
    pd.testing.assert_frame_equal(read_sql(url=url, table="cancer"), stored)
    query = "SELECT target, count(*) AS n FROM cancer GROUP BY target ORDER BY target"
    with sqlite3.connect(database) as connection:
        pd.testing.assert_frame_equal(read_sql(url=url, query=query), pd.read_sql(query, connection))
    write_sql(cancer.head(10), url=url, table="cancer", if_exists="append")
    assert read_sql(url=url, query="SELECT count(*) AS n FROM cancer")["n"].item() == 579
    with pytest.raises(DataError, match="already exists"):
        write_sql(cancer, url=url, table="cancer", if_exists="fail")
    with pytest.raises(DataError, match="no table 'nope'.*cancer"):
        read_sql(url=url, table="nope")
    with pytest.raises(ParameterError, match="exactly one"):
        read_sql(url=url, query="SELECT 1", table="cancer")
    with pytest.raises(DataError, match="failed"):
        read_sql(url=url, query="SELECT nope FROM cancer")
    with pytest.raises(DataError, match="not a usable database URL"):
        read_sql(url="not a url", query="SELECT 1")
    monkeypatch.setenv("SHOP_DB", str(database))
    assert len(read_sql(url="sqlite:///${SHOP_DB}", table="cancer")) == 579


def test_duckdb_query_matches_duckdb(cancer, tmp_path):
    path = tmp_path / "cancer.parquet"
    cancer.to_parquet(path)
    query = 'SELECT target, avg("mean radius") AS radius FROM data GROUP BY target ORDER BY target'
    ours = duckdb_query(path=str(path), query=query).to_pandas()
    theirs = duckdb.sql(query.replace("FROM data", f"FROM read_parquet('{path}')")).df()
    pd.testing.assert_frame_equal(ours, theirs)
    csv = tmp_path / "cancer.csv"
    cancer.to_csv(csv, index=False)
    assert duckdb_query(path=str(csv), query="SELECT count(*) AS n FROM data").to_pandas()["n"].item() == 569
    with pytest.raises(DataError, match="parameter 'query'"):
        duckdb_query(path=str(path), query="SELECT nope FROM data")
    with pytest.raises(DataError, match="cannot tell the format"):
        duckdb_query(path=str(tmp_path), query="SELECT 1")


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_bundled_datasets_match_scikit_learn(name):
    frame = dataset(name=name)
    expected = getattr(datasets, f"load_{name}")(as_frame=True).frame
    assert frame.columns[-1] == "target"
    assert all(column == column.lower() and " " not in column and "(" not in column for column in frame.columns)
    np.testing.assert_array_equal(frame.to_numpy(), expected.to_numpy())


def test_dataset_names_and_snake_case():
    assert "mean_radius" in dataset(name="breast_cancer").columns
    assert "od280_od315_of_diluted_wines" in dataset(name="wine").columns
    assert set(dataset(name="wine", labels="names")["target"]) == {"class_0", "class_1", "class_2"}


def test_generators_match_scikit_learn():
    x, y = datasets.make_classification(n_samples=200, n_features=6, n_informative=3, n_redundant=1, n_classes=3, random_state=5)
    frame = make_classification(rows=200, features=6, informative=3, redundant=1, classes=3, seed=5)
    np.testing.assert_array_equal(frame[[f"x{i}" for i in range(1, 7)]].to_numpy(), x)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)
    x, y = datasets.make_regression(n_samples=50, n_features=3, n_informative=2, noise=0.5, bias=1.0, random_state=2)
    frame = make_regression(rows=50, features=3, informative=2, noise=0.5, bias=1.0, seed=2)
    np.testing.assert_array_equal(frame.drop(columns="target").to_numpy(), x)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)
    x, y = datasets.make_blobs(n_samples=60, centers=4, n_features=3, cluster_std=0.5, random_state=9)
    frame = make_blobs(rows=60, centers=4, features=3, cluster_std=0.5, seed=9)
    np.testing.assert_array_equal(frame.drop(columns="target").to_numpy(), x)
    with pytest.raises(DataError, match="must not exceed"):
        make_classification(features=3, informative=3, redundant=1)
    with pytest.raises(DataError, match="informative"):
        make_classification(classes=5, informative=2, redundant=0)


def test_time_series_formula():
    frame = make_time_series(rows=30, series=2, start="2024-03-01", freq="h", level=2.0, trend=0.5, period=6, amplitude=3.0, noise=0.1, seed=4)
    steps = np.arange(30)
    rng = np.random.default_rng(4)
    for index, name in enumerate(["s1", "s2"]):
        part = frame[frame["series"] == name]
        expected = 2.0 + 0.5 * steps + 3.0 * np.sin(2 * np.pi * steps / 6) + 0.1 * rng.standard_normal(30)
        np.testing.assert_allclose(part["value"].to_numpy(), expected)
        assert part["time"].iloc[1] - part["time"].iloc[0] == pd.Timedelta(hours=1), index
    with pytest.raises(DataError, match="not a date"):
        make_time_series(start="yesterday-ish")


def test_io_in_a_pipeline(cancer, tmp_path):
    cancer.to_csv(tmp_path / "cancer.csv", index=False)
    with tidal.Pipeline("io") as pipeline:
        table = read_csv(path="cancer.csv", _id="read")
        write_parquet(table, path="out/cancer.parquet", _id="parquet")
        write_sql(table, url=f"sqlite:///{tmp_path / 'out.db'}", table="cancer", _id="sql")
        dataset(name="iris", _id="iris")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    assert result.output("read").num_rows == 569
    assert result.output("parquet")["rows"] == 569
    assert len(pd.read_parquet(tmp_path / "out" / "cancer.parquet")) == 569
    assert result.output("sql")["path"].endswith("#cancer")
    assert result.output("iris").num_rows == 150
