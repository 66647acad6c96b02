"""Parity of the feature selectors with scikit-learn's selectors on bundled datasets."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn import feature_selection as fs
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from tidal.components import features_selection as sel
from tidal.components.features import apply
from tidal.core import DataError
from tidal.models import ModelPackage


def frame_of(loader):
    return loader(as_frame=True).frame


def kept(fitted, label="target"):
    return [name for name in fitted.data.columns if name != label]


def chosen_by(selector, X):
    return list(X.columns[selector.get_support()])


@pytest.fixture(scope="module")
def cancer():
    return frame_of(datasets.load_breast_cancer)


@pytest.fixture(scope="module")
def diabetes():
    return frame_of(datasets.load_diabetes)


def test_variance_threshold_matches_scikit_learn(tmp_path):
    frame = frame_of(datasets.load_wine).drop(columns="target")
    fitted = sel.variance_threshold(frame, threshold=1.0)
    reference = fs.VarianceThreshold(1.0).fit(frame)
    assert kept(fitted) == chosen_by(reference, frame)
    assert fitted.transform.metadata["scores"]["proline"] == pytest.approx(reference.variances_[-1])
    loaded = ModelPackage.load(fitted.transform.save_archive(tmp_path / "m.zip"))
    pd.testing.assert_frame_equal(apply(loaded, frame), fitted.data)


def test_chi2_matches_select_k_best_and_rejects_negative_values():
    frame = frame_of(datasets.load_digits)
    X = frame.drop(columns="target")
    fitted = sel.select_chi2(frame, label="target", k=12)
    assert kept(fitted) == chosen_by(fs.SelectKBest(fs.chi2, k=12).fit(X, frame["target"]), X)
    with pytest.raises(DataError, match="column 'x' has negative values .*row 1"):
        sel.select_chi2(pd.DataFrame({"x": [1.0, -1.0, 2.0], "y": [0, 1, 0]}), label="y")


@pytest.mark.parametrize(("dataset", "score"), [("cancer", fs.f_classif), ("diabetes", fs.f_regression)])
def test_anova_matches_select_k_best(request, dataset, score):
    frame = request.getfixturevalue(dataset)
    X = frame.drop(columns="target")
    fitted = sel.select_anova(frame, label="target", k=4)
    assert kept(fitted) == chosen_by(fs.SelectKBest(score, k=4).fit(X, frame["target"]), X)
    assert fitted.transform.params["task"] == ("classification" if dataset == "cancer" else "regression")


def test_mutual_info_matches_select_k_best_with_the_same_seed():
    frame = frame_of(datasets.load_wine)
    X = frame.drop(columns="target")
    fitted = sel.select_mutual_info(frame, label="target", k=5, seed=4)
    reference = fs.SelectKBest(partial(fs.mutual_info_classif, n_neighbors=3, random_state=4), k=5).fit(X, frame["target"])
    assert kept(fitted) == chosen_by(reference, X)
    assert list(fitted.transform.metadata["scores"].values()) == pytest.approx(list(reference.scores_))


@pytest.mark.parametrize("dataset", ["cancer", "diabetes"])
def test_l1_selection_matches_select_from_model(request, dataset):
    frame = request.getfixturevalue(dataset)
    X = frame.drop(columns="target")
    scaled = StandardScaler().fit_transform(X)
    if dataset == "cancer":
        estimator = LogisticRegression(C=1 / 2.0, l1_ratio=1.0, solver="saga", max_iter=5000, random_state=0)
        fitted = sel.select_l1(frame, label="target", alpha=2.0)
    else:
        estimator = Lasso(alpha=2.0, max_iter=10000, random_state=0)
        fitted = sel.select_l1(frame, label="target", alpha=2.0)
    reference = fs.SelectFromModel(estimator, threshold=1e-5).fit(scaled, frame["target"])
    assert kept(fitted) == list(X.columns[reference.get_support()])
    assert 0 < len(kept(fitted)) < X.shape[1]


@pytest.mark.parametrize(("dataset", "forest"), [("cancer", RandomForestClassifier), ("diabetes", RandomForestRegressor)])
def test_importance_selection_matches_select_from_model(request, dataset, forest):
    frame = request.getfixturevalue(dataset)
    X = frame.drop(columns="target")
    fitted = sel.select_by_importance(frame, label="target", trees=25, seed=2)
    reference = fs.SelectFromModel(forest(n_estimators=25, random_state=2), threshold="mean").fit(X.to_numpy(), frame["target"])
    assert kept(fitted) == list(X.columns[reference.get_support()])
    top = sel.select_by_importance(frame, label="target", trees=25, seed=2, k=3)
    ranked = X.columns[np.argsort(-reference.estimator_.feature_importances_)][:3]
    assert sorted(kept(top)) == sorted(ranked)


@pytest.mark.parametrize(("dataset", "estimator"), [("cancer", LogisticRegression(max_iter=2000)), ("diabetes", LinearRegression())])
def test_rfe_matches_scikit_learn(request, dataset, estimator):
    frame = request.getfixturevalue(dataset)
    X = frame.drop(columns="target")
    fitted = sel.rfe(frame, label="target", k=4, step=2)
    reference = fs.RFE(estimator, n_features_to_select=4, step=2).fit(StandardScaler().fit_transform(X), frame["target"])
    assert kept(fitted) == list(X.columns[reference.support_])
    assert list(fitted.transform.metadata["scores"].values()) == list(reference.ranking_)


def test_selection_applies_to_new_rows_and_keeps_other_columns(cancer):
    frame = cancer.assign(note="x")
    fitted = sel.select_anova(frame.iloc[:400], label="target", k=3)
    applied = apply(fitted.transform, frame.iloc[400:])
    selected = fitted.transform.metadata["selected"]
    assert set(applied.columns) == {"target", "note", *selected}
    assert [name for name in applied.columns if name in selected] == [name for name in frame.columns if name in selected]


def test_selection_errors_name_the_problem(cancer):
    with pytest.raises(DataError, match="label column 'target' is also listed"):
        sel.select_anova(cancer, label="target", columns=["mean radius", "target"])
    with pytest.raises(DataError, match="'mean radius' has 1 missing value.*row 7"):
        sel.select_anova(cancer.assign(**{"mean radius": cancer["mean radius"].where(cancer.index != 7)}), label="target")
    with pytest.raises(DataError, match="not numeric"):
        sel.rfe(cancer.assign(kind="a"), label="target", columns=["kind"])
    with pytest.raises(DataError, match="no column passed"):
        sel.variance_threshold(cancer, threshold=1e9)
    with pytest.raises(DataError, match="0 row"):
        sel.select_mutual_info(cancer.iloc[0:0], label="target")
