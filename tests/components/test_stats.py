"""Parity of the stats family with pandas, numpy and scipy.stats on bundled datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn import datasets

import tidal
from tidal.components import stats as desc
from tidal.components import stats_distribution as dist
from tidal.components import stats_quality as quality
from tidal.components import stats_tests as hypothesis
from tidal.core import DataError, TidalError


@pytest.fixture(scope="module")
def iris():
    frame = datasets.load_iris(as_frame=True).frame
    frame["species"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return frame


@pytest.fixture(scope="module")
def cancer():
    return datasets.load_breast_cancer(as_frame=True).frame


def test_summary_matches_pandas_describe(iris):
    frame = iris.assign(gap=iris["sepal length (cm)"].where(iris.index % 7 != 0))
    table = desc.summary(frame).set_index("column")
    described = frame.describe()
    for name in ["sepal length (cm)", "petal width (cm)", "gap"]:
        row = table.loc[name]
        expected = described[name]
        assert row["count"] == expected["count"] and row["missing"] == frame[name].isna().sum()
        for ours, theirs in [("mean", "mean"), ("std", "std"), ("min", "min"), ("q25", "25%"), ("median", "50%"), ("q75", "75%"), ("max", "max")]:
            assert row[ours] == pytest.approx(expected[theirs])
        assert row["distinct"] == frame[name].nunique()
    species = table.loc["species"]
    assert np.isnan(species["mean"]) and species["distinct"] == 3 and species["top_count"] == 50
    assert species["top_values"] == "setosa (50), versicolor (50), virginica (50)"


def test_percentiles_match_numpy(cancer):
    columns = ["mean radius", "worst area"]
    for method in ("linear", "nearest", "midpoint"):
        table = desc.percentiles(cancer, columns=columns, points=[2.5, 50, 97.5], method=method).set_index("column")
        for name in columns:
            expected = np.percentile(cancer[name], [2.5, 50, 97.5], method=method)
            assert table.loc[name, ["p2.5", "p50", "p97.5"]].tolist() == pytest.approx(list(expected))
    with pytest.raises(TidalError, match="150 is not between 0 and 100"):
        desc.percentiles(cancer, points=[50, 150])


def test_value_counts_and_crosstab_match_pandas(iris):
    frame = iris.assign(size=pd.cut(iris["petal length (cm)"], [0, 2, 5, 10], labels=["small", "mid", "big"]).astype(str))
    counts = desc.value_counts(frame, column="size")
    expected = frame["size"].value_counts()
    assert counts["value"].tolist() == expected.index.tolist() and counts["count"].tolist() == expected.tolist()
    assert counts["share"].sum() == pytest.approx(1.0)
    assert len(desc.value_counts(frame, column="size", top=2)) == 2
    table = desc.crosstab(frame, row="species", column="size", normalize="row", margins=False).set_index("species")
    reference = pd.crosstab(frame["species"], frame["size"], normalize="index")
    np.testing.assert_allclose(table[list(reference.columns)].to_numpy(), reference.to_numpy())
    with_totals = desc.crosstab(frame, row="species", column="size", margins=True)
    assert with_totals.iloc[-1]["All"] == 150 and with_totals.iloc[-1]["species"] == "All"


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_correlation_matches_scipy(cancer, method):
    columns = ["mean radius", "mean texture", "mean smoothness"]
    result = dist.correlation(cancer, columns=columns, method=method)
    matrix = result.table.set_index("column")
    reference = {"pearson": sps.pearsonr, "spearman": sps.spearmanr, "kendall": sps.kendalltau}[method]
    for a in columns:
        for b in columns:
            assert matrix.loc[a, b] == pytest.approx(reference(cancer[a], cancer[b]).statistic)
    assert result.figure["mark"] == "rect" and len(result.figure["data"]["values"]) == 9


def test_covariance_matches_numpy(cancer):
    columns = ["mean radius", "mean texture", "mean area"]
    for ddof in (0, 1):
        table = dist.covariance(cancer, columns=columns, ddof=ddof)
        np.testing.assert_allclose(table[columns].to_numpy(), np.cov(cancer[columns].to_numpy().T, ddof=ddof))


def test_histogram_matches_numpy(cancer):
    result = dist.histogram(cancer, column="mean radius", bins=12)
    counts, edges = np.histogram(cancer["mean radius"], bins=12)
    assert result.table["count"].tolist() == counts.tolist()
    np.testing.assert_allclose(result.table["bin_start"], edges[:-1])
    density, _ = np.histogram(cancer["mean radius"], bins=12, density=True)
    np.testing.assert_allclose(result.table["density"], density)
    assert len(result.figure["data"]["values"]) == 12
    ranged = dist.histogram(cancer, column="mean radius", bins=4, low=10, high=20)
    assert ranged.table["count"].tolist() == np.histogram(cancer["mean radius"], bins=4, range=(10, 20))[0].tolist()


def test_empirical_pdf_and_cdf_match_scipy(cancer):
    values = cancer["mean texture"].to_numpy()
    pdf = dist.empirical_pdf(cancer, column="mean texture", points=64, bandwidth="silverman").table
    np.testing.assert_allclose(pdf["density"], sps.gaussian_kde(values, bw_method="silverman")(pdf["x"].to_numpy()))
    cdf = dist.empirical_cdf(cancer, column="mean texture").table
    reference = sps.ecdf(values).cdf
    np.testing.assert_allclose(cdf["value"], reference.quantiles)
    np.testing.assert_allclose(cdf["cdf"], reference.probabilities)


def test_chi_square_matches_scipy(iris):
    frame = iris.assign(wide=np.where(iris["sepal width (cm)"] > 3.0, "wide", "narrow"))
    result = hypothesis.chi_square(frame, row="species", column="wide")
    expected = sps.chi2_contingency(pd.crosstab(frame["species"], frame["wide"]))
    assert result["statistic"] == pytest.approx(expected.statistic) and result["p_value"] == pytest.approx(expected.pvalue)
    assert result["dof"] == expected.dof and len(result.tables["contingency"]) == 6


def test_t_tests_match_scipy(iris, cancer):
    one = hypothesis.t_test_one_sample(iris, column="sepal length (cm)", mean=5.8, alternative="greater")
    expected = sps.ttest_1samp(iris["sepal length (cm)"], 5.8, alternative="greater")
    assert (one["statistic"], one["p_value"]) == pytest.approx((expected.statistic, expected.pvalue))
    interval = sps.ttest_1samp(iris["sepal length (cm)"], 5.8).confidence_interval(0.9)
    two_sided = hypothesis.t_test_one_sample(iris, column="sepal length (cm)", mean=5.8, confidence=0.9)
    assert (two_sided["ci_low"], two_sided["ci_high"]) == pytest.approx((interval.low, interval.high))
    groups = [cancer.loc[cancer["target"] == value, "mean radius"] for value in (0, 1)]
    for equal_var in (True, False):
        two = hypothesis.t_test_two_sample(cancer, column="mean radius", group="target", equal_var=equal_var)
        expected = sps.ttest_ind(*groups, equal_var=equal_var)
        assert (two["statistic"], two["p_value"], two["df"]) == pytest.approx((expected.statistic, expected.pvalue, expected.df))
    paired = hypothesis.t_test_paired(cancer, column="mean radius", other="worst radius")
    expected = sps.ttest_rel(cancer["mean radius"], cancer["worst radius"])
    assert (paired["statistic"], paired["p_value"]) == pytest.approx((expected.statistic, expected.pvalue))


def test_anova_and_mann_whitney_match_scipy(iris):
    groups = [part["petal length (cm)"].to_numpy() for _, part in iris.groupby("species")]
    result = hypothesis.anova(iris, column="petal length (cm)", group="species")
    expected = sps.f_oneway(*groups)
    assert (result["statistic"], result["p_value"]) == pytest.approx((expected.statistic, expected.pvalue))
    assert [row["n"] for row in result.tables["groups"]] == [50, 50, 50]
    two = iris[iris["species"] != "setosa"]
    mw = hypothesis.mann_whitney(two, column="sepal width (cm)", group="species", alternative="less")
    expected = sps.mannwhitneyu(*[part["sepal width (cm)"] for _, part in two.groupby("species")], alternative="less")
    assert (mw["statistic"], mw["p_value"]) == pytest.approx((expected.statistic, expected.pvalue))
    with pytest.raises(DataError, match="3 group"):
        hypothesis.mann_whitney(iris, column="sepal width (cm)", group="species")


def test_ks_and_normality_tests_match_scipy(cancer):
    values = cancer["mean texture"]
    one = hypothesis.ks_test(cancer, column="mean texture")
    expected = sps.kstest(values, "norm", args=(values.mean(), values.std(ddof=1)))
    assert (one["statistic"], one["p_value"]) == pytest.approx((expected.statistic, expected.pvalue))
    fixed = hypothesis.ks_test(cancer, column="mean texture", distribution="uniform", loc=5.0, scale=40.0)
    assert fixed["statistic"] == pytest.approx(sps.kstest(values, "uniform", args=(5.0, 40.0)).statistic)
    benign, malignant = cancer[cancer["target"] == 1], cancer[cancer["target"] == 0]
    two = hypothesis.ks_test(benign, malignant, column="mean texture")
    expected = sps.ks_2samp(benign["mean texture"], malignant["mean texture"])
    assert (two["statistic"], two["p_value"], two["mode"]) == pytest.approx((expected.statistic, expected.pvalue, "two-sample"))
    shapiro = hypothesis.shapiro_wilk(cancer, column="mean area")
    assert (shapiro["statistic"], shapiro["p_value"]) == pytest.approx(tuple(sps.shapiro(cancer["mean area"])))
    dago = hypothesis.dagostino(cancer, column="mean area")
    assert (dago["statistic"], dago["p_value"]) == pytest.approx(tuple(sps.normaltest(cancer["mean area"])))
    assert dago["significant"] is True


def test_psi_matches_the_formula(cancer):
    expected_rows, actual_rows = cancer.iloc[::2], cancer.iloc[1::2]
    result = quality.psi(expected_rows, actual_rows, columns=["mean radius"], bins=5)
    reference = expected_rows["mean radius"].to_numpy()
    edges = np.quantile(reference, [0.2, 0.4, 0.6, 0.8])
    e = np.bincount(np.searchsorted(edges, reference), minlength=5) / len(reference)
    actual = actual_rows["mean radius"].to_numpy()
    a = np.bincount(np.searchsorted(edges, actual), minlength=5) / len(actual)
    assert result["psi_mean radius"] == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    assert result["max_psi"] < 0.1 and result.tables["columns"][0]["status"] == "stable"
    shifted = quality.psi(expected_rows, actual_rows.assign(**{"mean radius": actual_rows["mean radius"] * 1.5}), columns=["mean radius"])
    assert shifted["columns_shifted"] == 1
    categories = quality.psi(pd.DataFrame({"c": list("aabb")}), pd.DataFrame({"c": list("abbb")}))
    assert categories["psi_c"] == pytest.approx((0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5))
    with pytest.raises(DataError, match="input 'actual' has no column"):
        quality.psi(cancer, cancer.drop(columns="mean radius"), columns=["mean radius"])


def test_data_quality_matches_pandas_counts(iris):
    frame = iris.copy()
    frame.loc[[1, 2, 3], "sepal width (cm)"] = np.nan
    frame["constant"] = 1
    frame["code"] = frame.index.astype(str)
    frame.loc[5, "code"] = "n/a"
    frame.loc[0, "sepal length (cm)"] = 100.0
    report = quality.data_quality(frame)
    assert report["duplicate_rows"] == int(frame.duplicated().sum())
    assert report["missing_cells"] == int(frame.isna().sum().sum()) == 3
    assert report["constant_columns"] == 1 and report["type_problem_columns"] == 1
    columns = {row["column"]: row for row in report.tables["columns"]}
    assert columns["code"]["type_problem"] == "numbers stored as text (1 value(s) not numbers)"
    assert columns["sepal length (cm)"]["outliers"] >= 1
    assert report.figures["missing"]["mark"] == "bar"


def test_stats_errors_name_the_problem(iris):
    with pytest.raises(DataError, match="'species' .* is not numeric"):
        hypothesis.t_test_one_sample(iris, column="species")
    with pytest.raises(DataError, match="0 row"):
        desc.summary(iris.iloc[0:0])
    with pytest.raises(DataError, match="'nope' not found"):
        hypothesis.shapiro_wilk(iris, column="nope")
    with pytest.raises(DataError, match="at least 8"):
        hypothesis.dagostino(iris.head(5), column="sepal length (cm)")
    with pytest.raises(DataError, match="exactly two"):
        hypothesis.t_test_two_sample(iris, column="sepal length (cm)", group="species")
    with pytest.raises(DataError, match="at least 2 numeric column"):
        dist.correlation(iris, columns=["sepal length (cm)"])


def test_stats_in_a_pipeline(tmp_path, cancer):
    path = tmp_path / "cancer.csv"
    cancer.to_csv(path, index=False)
    from tidal.components.data import split
    from tidal.components.io import read_csv

    with tidal.Pipeline("drift") as pipeline:
        read = read_csv(path=str(path), _id="read")
        parts = split(read, fraction=0.5, seed=1, _id="split")
        quality.psi(parts.train, parts.test, columns=["mean radius", "mean texture"], _id="psi")
        dist.correlation(read, columns=["mean radius", "mean texture"], _id="corr")
    result = tidal.run(pipeline, workspace=tmp_path / "ws", workers=0)
    assert result.ok, result.run.error
    assert result.metrics("psi")["max_psi"] < 0.1
    assert result.output("corr", "table").to_pandas().shape == (2, 3)
    assert result.output("corr", "figure")["mark"] == "rect"
