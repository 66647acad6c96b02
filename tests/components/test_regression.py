"""Regression: parity with scikit-learn, LightGBM and XGBoost on the diabetes data, the capability
tags checked against behaviour (over the registry, by tags), and errors for bad input."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn import datasets, ensemble, isotonic, linear_model, neighbors, neural_network, svm, tree
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import tidal
from tidal.components import regression
from tidal.core import DataError, ValidationFailed, registry
from tidal.models import ModelPackage


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits run fastest on one thread, above all on a busy machine (OpenMP spin-waits)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = datasets.load_diabetes(as_frame=True).frame
    return train_test_split(frame, test_size=0.3, random_state=0)


def scaled(estimator):
    return make_pipeline(StandardScaler(), estimator)


def trainers(**tags):
    """Regression trainers in the registry whose tags match."""
    return [spec for spec in registry.all() if spec.category == "regression" and all(spec.tags.get(key) == value for key, value in tags.items())]


def ids(specs):
    return [spec.id for spec in specs]


PARITY = [
    ("linear_regression", {}, linear_model.LinearRegression),
    ("ridge", {"alpha": 2.0}, lambda: scaled(linear_model.Ridge(alpha=2.0, random_state=0))),
    ("lasso", {"alpha": 0.5}, lambda: scaled(linear_model.Lasso(alpha=0.5, random_state=0))),
    ("elastic_net", {"alpha": 0.1, "l1_ratio": 0.3}, lambda: scaled(linear_model.ElasticNet(alpha=0.1, l1_ratio=0.3, random_state=0))),
    ("huber", {"epsilon": 1.5}, lambda: scaled(linear_model.HuberRegressor(epsilon=1.5))),
    ("quantile", {"quantile": 0.8}, lambda: scaled(linear_model.QuantileRegressor(quantile=0.8, alpha=0.0))),
    ("poisson", {"alpha": 0.1}, lambda: scaled(linear_model.PoissonRegressor(alpha=0.1))),
    ("gamma", {"alpha": 0.1}, lambda: scaled(linear_model.GammaRegressor(alpha=0.1))),
    ("tweedie", {"alpha": 0.1}, lambda: scaled(linear_model.TweedieRegressor(power=1.5, alpha=0.1))),
    ("bayesian_ridge", {}, linear_model.BayesianRidge),
    ("sgd", {"alpha": 1e-3, "seed": 1}, lambda: scaled(linear_model.SGDRegressor(alpha=1e-3, random_state=1))),
    ("svr", {"C": 50.0, "epsilon": 1.0}, lambda: scaled(svm.SVR(C=50.0, epsilon=1.0))),
    ("linear_svr", {"C": 1.0, "max_iter": 5000}, lambda: scaled(svm.LinearSVR(C=1.0, max_iter=5000, random_state=0))),
    ("k_nearest_neighbors", {"n_neighbors": 9}, lambda: scaled(neighbors.KNeighborsRegressor(n_neighbors=9))),
    ("mlp", {"hidden_units": 32, "max_iter": 300, "learning_rate_init": 0.01, "seed": 2},
     lambda: scaled(neural_network.MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=2))),
    ("decision_tree", {"max_depth": 4}, lambda: tree.DecisionTreeRegressor(max_depth=4, random_state=0)),
    ("random_forest", {"n_estimators": 30, "seed": 3}, lambda: ensemble.RandomForestRegressor(n_estimators=30, random_state=3)),
    ("extra_trees", {"n_estimators": 30, "max_features": "sqrt"}, lambda: ensemble.ExtraTreesRegressor(n_estimators=30, max_features="sqrt", random_state=0)),
    ("adaboost", {"n_estimators": 20}, lambda: ensemble.AdaBoostRegressor(n_estimators=20, random_state=0)),
    ("gradient_boosting", {"n_estimators": 30, "loss": "huber"}, lambda: ensemble.GradientBoostingRegressor(n_estimators=30, loss="huber", random_state=0)),
    ("hist_gradient_boosting", {"max_iter": 30, "early_stopping": "off"}, lambda: ensemble.HistGradientBoostingRegressor(max_iter=30, early_stopping=False, random_state=0)),
    ("hist_gradient_boosting", {"loss": "poisson", "max_iter": 30}, lambda: ensemble.HistGradientBoostingRegressor(loss="poisson", max_iter=30, random_state=0)),
    ("lightgbm", {"n_estimators": 40, "num_leaves": 7}, lambda: lightgbm.LGBMRegressor(n_estimators=40, num_leaves=7, random_state=0, verbose=-1)),
    ("xgboost", {"n_estimators": 30, "max_depth": 3, "seed": 4}, lambda: xgboost.XGBRegressor(n_estimators=30, max_depth=3, random_state=4, tree_method="hist")),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("name", "params", "reference"), PARITY, ids=[f"{case[0]}-{index}" for index, case in enumerate(PARITY)])
def test_matches_the_library_called_directly(diabetes, tmp_path, name, params, reference):
    train, test = diabetes
    features = [column for column in train.columns if column != "target"]
    model = getattr(regression, name)(train, label="target", **params)
    expected = reference().fit(train[features], train["target"]).predict(test[features])
    np.testing.assert_allclose(model.predict(test), expected, rtol=1e-6)
    loaded = ModelPackage.load(model.save_archive(tmp_path / "model.zip"))
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))


def test_isotonic_regression_matches_scikit_learn_on_one_feature(diabetes):
    train, test = diabetes
    model = regression.isotonic(train, label="target", feature="bmi", increasing=True)
    expected = isotonic.IsotonicRegression(out_of_bounds="clip").fit(train[["bmi"]], train["target"]).predict(test[["bmi"]])
    assert model.features == ["bmi"]
    np.testing.assert_allclose(model.predict(test), expected)


def test_weighted_fits_match_the_library(diabetes):
    train, test = diabetes
    features = [column for column in train.columns if column != "target"]
    weights = 1.0 + (train["age"] > 0).to_numpy()
    weighted = train.assign(w=weights)
    forest = regression.random_forest(weighted, label="target", sample_weight="w", n_estimators=20)
    expected = ensemble.RandomForestRegressor(n_estimators=20, random_state=0).fit(train[features], train["target"], sample_weight=weights)
    np.testing.assert_allclose(forest.predict(test), expected.predict(test[features]))
    ridge = regression.ridge(weighted, label="target", sample_weight="w")
    expected = scaled(linear_model.Ridge(random_state=0)).fit(train[features], train["target"], ridge__sample_weight=weights)
    np.testing.assert_allclose(ridge.predict(test), expected.predict(test[features]))


# -- every trainer, by its tags -----------------------------------------------------------------------


def fit(spec, frame, **params):
    if spec.param("feature") is not None:
        params.setdefault("feature", "bmi")
    return spec(frame, label="target", **params)


@pytest.mark.parametrize("spec", trainers(handles_missing=True), ids=ids(trainers(handles_missing=True)))
def test_trainers_that_claim_to_handle_missing_values_fit_and_predict_with_them(diabetes, spec):
    train = diabetes[0].reset_index(drop=True).copy()
    train.loc[[4, 9], "bmi"] = np.nan
    model = fit(spec, train)
    assert np.isfinite(model.predict(train.iloc[[4, 9]])).all()


@pytest.mark.parametrize("spec", trainers(handles_missing=False), ids=ids(trainers(handles_missing=False)))
def test_trainers_that_do_not_handle_missing_values_name_the_column_and_row(diabetes, spec):
    train = diabetes[0].reset_index(drop=True).copy()
    train.loc[4, "bmi"] = np.nan
    with pytest.raises(DataError, match="column 'bmi' has 1 missing value\\(s\\), the first at row 4"):
        fit(spec, train)


@pytest.mark.parametrize("spec", trainers(numeric_only=True), ids=ids(trainers(numeric_only=True)))
def test_numeric_only_trainers_name_a_text_column(diabetes, spec):
    with pytest.raises(DataError, match="'bmi'"):
        fit(spec, diabetes[0].assign(bmi="high"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("spec", trainers(supports_weights=True), ids=ids(trainers(supports_weights=True)))
def test_trainers_that_support_weights_take_a_weight_column(diabetes, spec):
    train, test = diabetes
    model = fit(spec, train.assign(weight=np.arange(len(train)) % 3 + 1.0), sample_weight="weight")
    assert "weight" not in model.features and np.isfinite(model.predict(test)).all()


@pytest.mark.parametrize("spec", trainers(supports_weights=False), ids=ids(trainers(supports_weights=False)))
def test_trainers_without_weight_support_offer_no_weight_parameter(spec):
    assert spec.param("sample_weight") is None


@pytest.mark.parametrize("spec", trainers(), ids=ids(trainers()))
def test_tuned_ranges_lie_inside_the_bounds(spec):
    for param in [param for param in spec.params if param.meta.tune]:
        meta = param.meta
        if meta.low is not None:
            assert meta.low < meta.high
            assert (meta.ge is None or meta.low >= meta.ge) and (meta.gt is None or meta.low > meta.gt)
            assert (meta.le is None or meta.high <= meta.le) and (meta.lt is None or meta.high < meta.lt)


# -- parameters and errors ---------------------------------------------------------------------------------


def test_library_bounds_are_enforced(diabetes):
    assert registry.get("regression.huber").param("epsilon").meta.ge == 1.0
    assert registry.get("regression.quantile").param("quantile").meta.gt == 0
    with pytest.raises(ValidationFailed) as error:
        regression.random_forest(diabetes[0], label="target", max_depth=0)
    assert [issue.param for issue in error.value.issues] == ["max_depth"]
    with pytest.raises(ValidationFailed, match="min_samples_leaf"):
        regression.decision_tree(diabetes[0], label="target", min_samples_leaf=0)


def test_errors_name_what_is_wrong(diabetes):
    train = diabetes[0]
    with pytest.raises(DataError, match="must be numeric for regression"):
        regression.ridge(train.assign(target="high"), label="target")
    with pytest.raises(DataError, match="GammaRegressor cannot be fitted on this data"):
        regression.gamma(train.assign(target=train["target"] - 200), label="target")
    with pytest.raises(DataError, match="label column 'target' has 1 missing value"):
        regression.lasso(train.assign(target=np.r_[np.nan, train["target"].to_numpy()[1:]]), label="target")
    with pytest.raises(DataError, match="no feature columns"):
        regression.ridge(train[["target"]], label="target")
    with pytest.raises(DataError, match="column 'dose' not found"):
        regression.isotonic(train, label="target", feature="dose")


def test_xgboost_regression_in_a_pipeline(tmp_path):
    pipeline = tidal.Pipeline("xgboost-diabetes")
    pipeline.add("io.dataset", "data", params={"name": "diabetes"})
    pipeline.add("data.split", "split", inputs={"data": "data"}, params={"fraction": 0.7, "seed": 0})
    pipeline.add("regression.xgboost", "train", inputs={"data": "split.train"}, params={"label": "target", "n_estimators": 60, "max_depth": 2, "learning_rate": 0.1})
    pipeline.add("model.predict", "score", inputs={"model": "train", "data": "split.test"})
    pipeline.add("evaluation.regression", "evaluate", inputs={"data": "score"}, params={"label": "target"})
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    assert result.metrics("evaluate")["r2"] > 0.3
