"""Finance: WoE/IV against pandas binning and the textbook formulas, the scorecard against a
logistic regression and the points scaling, PSI by hand, stepwise selection against
scikit-learn's SequentialFeatureSelector and a likelihood fitted with scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from sklearn import datasets
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tidal
from tidal.components.finance import psi, scorecard, scorecard_predict, woe_binning
from tidal.components.finance_selection import logistic_aic, stepwise_selection
from tidal.components.model import predict
from tidal.conformance import sample_for, sample_model
from tidal.core import DataError


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return datasets.load_breast_cancer(as_frame=True).frame


def test_woe_and_iv_match_pandas_binning(cancer):
    result = woe_binning(cancer, label="target", features=["mean radius"], bins=5, min_share=0, smoothing=0)
    bins = pd.qcut(cancer["mean radius"], 5)
    groups = cancer.groupby(bins, observed=True)["target"].agg(["count", "sum"])
    events, non_events = groups["sum"], groups["count"] - groups["sum"]
    woe = np.log((non_events / non_events.sum()) / (events / events.sum()))
    iv = ((non_events / non_events.sum() - events / events.sum()) * woe).sum()
    table = result.bins
    assert table["count"].tolist() == groups["count"].tolist()
    assert table["woe"].tolist() == pytest.approx(woe.tolist())
    assert result.iv["iv"].iloc[0] == pytest.approx(iv)
    applied = predict(result.model, cancer)
    assert "mean radius" not in applied.columns
    expected = bins.cat.codes.map(dict(enumerate(woe.tolist())))
    assert applied["mean radius_woe"].tolist() == pytest.approx(expected.tolist())


def test_categories_missing_values_and_unseen_values():
    frame = pd.DataFrame(
        {
            "city": ["oslo"] * 40 + ["lima"] * 40 + ["rome"] * 2 + [None] * 18,
            "label": [1] * 10 + [0] * 30 + [1] * 25 + [0] * 15 + [1, 0] + [1] * 6 + [0] * 12,
        }
    )
    result = woe_binning(frame, label="label", min_share=0.05)
    labels = result.bins["bin_label"].tolist()
    assert labels == ["lima", "oslo", "other", "missing"]
    counts = result.bins.set_index("bin_label")
    assert counts.loc["missing", "count"] == 18 and counts.loc["other", "count"] == 2
    new = pd.DataFrame({"city": ["oslo", "paris", None], "label": [0, 0, 0]})
    applied = result.model.transform(new)["city_woe"].tolist()
    assert applied == pytest.approx([counts.loc["oslo", "woe"], counts.loc["other", "woe"], counts.loc["missing", "woe"]])


def test_monotonic_and_tree_binning(cancer):
    monotonic = woe_binning(cancer, label="target", features=["mean texture"], bins=20, min_share=0, monotonic=True).bins
    rates = monotonic["event_rate"].to_numpy()
    assert np.all(np.diff(rates) <= 0) or np.all(np.diff(rates) >= 0)
    tree = woe_binning(cancer, label="target", features=["worst area"], bins=4, method="tree", min_share=0.05).bins
    fitted = DecisionTreeClassifier(max_leaf_nodes=4, min_samples_leaf=int(np.ceil(0.05 * len(cancer))), random_state=0)
    fitted.fit(cancer[["worst area"]], cancer["target"])
    thresholds = sorted(fitted.tree_.threshold[fitted.tree_.feature >= 0])
    assert tree["upper"].tolist()[:-1] == pytest.approx(thresholds)


def test_scorecard_is_a_logistic_regression_on_woe_with_points_that_add_up(cancer):
    features = ["worst radius", "worst texture", "mean smoothness"]
    card = scorecard(cancer, label="target", positive="0", features=features, bins=5, base_score=500, base_odds=20, pdo=40, C=0.5)
    woe = woe_binning(cancer, label="target", positive="0", features=features, bins=5).model.transform(cancer)
    reference = LogisticRegression(C=0.5, max_iter=1000).fit(woe[[f"{name}_woe" for name in features]], cancer["target"] == 0)
    coefficients = card.scorecard.groupby("feature", sort=False)["coefficient"].first()
    assert coefficients[features].tolist() == pytest.approx(reference.coef_[0].tolist(), rel=1e-4)
    scored = scorecard_predict(card.model, cancer)
    probability = card.model.predict_proba(cancer)[:, 0]
    factor = 40 / np.log(2)
    expected = 500 - factor * np.log(20) + factor * np.log((1 - probability) / probability)
    assert scored["score"].tolist() == pytest.approx(expected.tolist())
    points = scored[[f"points_{name}" for name in features]].sum(axis=1)
    assert points.tolist() == pytest.approx(scored["score"].tolist())
    lookup = card.scorecard.set_index(["feature", "bin_label"])["points"]
    first = woe_binning(cancer, label="target", positive="0", features=features, bins=5).bins
    assert len(lookup) == len(first)


def test_scorecard_predict_puts_any_classifier_on_the_points_scale():
    sample = sample_for("classification")
    model = sample_model(sample)
    scored = scorecard_predict(model, sample.table, base_score=600, base_odds=1, pdo=50)
    probability = model.predict_proba(sample.table)[:, 1]
    assert scored["score"].tolist() == pytest.approx((600 + 50 / np.log(2) * np.log((1 - probability) / probability)).tolist())
    assert not any(name.startswith("points_") for name in scored.columns)


def test_psi_by_hand():
    rng = np.random.default_rng(1)
    before = pd.DataFrame({"x": rng.normal(0, 1, 2000), "grade": rng.choice(list("abc"), 2000, p=[0.5, 0.3, 0.2])})
    after = pd.DataFrame({"x": rng.normal(0.3, 1.2, 1500), "grade": rng.choice(list("abc"), 1500, p=[0.3, 0.3, 0.4])})
    report = psi(before, after, bins=8)
    edges = np.quantile(before["x"], np.linspace(0, 1, 9))[1:-1]
    expected_share = pd.cut(before["x"], [-np.inf, *edges, np.inf]).value_counts(normalize=True, sort=False).to_numpy()
    actual_share = pd.cut(after["x"], [-np.inf, *edges, np.inf]).value_counts(normalize=True, sort=False).to_numpy()
    assert report["psi_x"] == pytest.approx(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))
    e = before["grade"].value_counts(normalize=True).sort_index().to_numpy()
    a = after["grade"].value_counts(normalize=True).sort_index().to_numpy()
    assert report["psi_grade"] == pytest.approx(np.sum((a - e) * np.log(a / e)))
    assert psi(before, before)["max_psi"] == pytest.approx(0.0)
    assert {row["level"] for row in report.tables["psi"]} <= {"stable", "moderate shift", "significant shift"}


def test_forward_auc_selection_matches_sequential_feature_selector(cancer):
    candidates = ["mean radius", "mean texture", "mean smoothness", "mean symmetry", "worst concavity", "mean fractal dimension"]
    picked = stepwise_selection(cancer, label="target", features=candidates, criterion="auc", max_features=3, folds=4, seed=2)
    selector = SequentialFeatureSelector(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), n_features_to_select=3, direction="forward",
        scoring="roc_auc", cv=StratifiedKFold(4, shuffle=True, random_state=2),
    ).fit(cancer[candidates], cancer["target"])
    chosen = [name for name in picked.data.columns if name != "target"]
    assert set(chosen) == set(np.asarray(candidates)[selector.get_support()])
    assert picked.steps["action"].tolist() == ["start", "add", "add", "add"]


def test_aic_matches_a_likelihood_fitted_with_scipy(cancer):
    columns = ["mean radius", "mean texture"]
    X = cancer[columns].to_numpy()
    y = cancer["target"].to_numpy(dtype=float)
    design = np.column_stack([np.ones(len(X)), X])

    def negative_likelihood(beta):
        z = design @ beta
        return float(np.sum(np.logaddexp(0, z) - y * z))

    best = minimize(negative_likelihood, np.zeros(3), method="BFGS", options={"gtol": 1e-8})
    assert logistic_aic(X, y) == pytest.approx(2 * 3 + 2 * best.fun, rel=1e-6)
    steps = stepwise_selection(cancer, label="target", features=columns, criterion="aic").steps
    assert steps["aic"].iloc[-1] == pytest.approx(2 * 3 + 2 * best.fun, rel=1e-6)


def test_backward_elimination_drops_noise(cancer):
    frame = cancer[["worst radius", "worst texture", "target"]].copy()
    frame["noise"] = np.random.default_rng(1).normal(size=len(frame))
    picked = stepwise_selection(frame, label="target", direction="backward")
    assert picked.steps["feature"].tolist()[1:] == ["noise"]
    assert list(picked.data.columns) == ["worst radius", "worst texture", "target"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: woe_binning(f.assign(target=f.index % 3), label="target"), "exactly two classes"),
        (lambda f: woe_binning(f.iloc[:0], label="target"), "empty"),
        (lambda f: woe_binning(f, label="target", positive="yes"), "'yes' is not a value"),
        (lambda f: woe_binning(f.assign(when=pd.Timestamp("2024-01-01")), label="target", features=["when"]), "dates"),
        (lambda f: woe_binning(f, label="target", features=["nope"]), "column 'nope' not found"),
        (lambda f: woe_binning(f, label="target", features=["worst area"], bins=50, smoothing=0, min_share=0), "infinite"),
        (lambda f: psi(f, f[["target"]], columns=["mean radius"]), "not in input 'actual'"),
        (lambda f: psi(f, f.iloc[:0]), "'actual' is empty"),
        (lambda f: stepwise_selection(f.assign(name="x"), label="target", features=["name"]), "not numeric"),
        (lambda f: scorecard_predict(sample_model(sample_for("regression")), f), "binary classifiers"),
    ],
)
def test_errors_say_what_and_where(call, message, cancer):
    with pytest.raises(DataError, match=message):
        call(cancer)


def test_scorecard_in_a_pipeline(tmp_path, cancer):
    cancer.to_csv(tmp_path / "cancer.csv", index=False)
    with tidal.Pipeline("credit") as pipeline:
        table = tidal.get_component("io.read_csv")(path="cancer.csv")
        parts = tidal.get_component("data.split")(table, fraction=0.7, seed=0)
        binning = woe_binning(parts.train, label="target", features=["worst radius", "worst texture"], _id="binning")
        predict(binning.model, parts.test, _id="woe")
        card = scorecard(parts.train, label="target", positive="0", features=["worst radius", "worst texture"], _id="card")
        scorecard_predict(card.model, parts.test, _id="points")
        psi(parts.train, parts.test, columns=["worst radius"], _id="stability")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    assert "worst radius_woe" in result.output("woe").columns
    scored = result.output("points").to_pandas()
    assert scored["score"].between(0, 1200).all()
    assert result.output("stability")["psi_worst radius"] < 0.1
