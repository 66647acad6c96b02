"""Model tools: importance, partial dependence and row explanations checked against
scikit-learn's inspection module, LightGBM and XGBoost, plus the summary and a pipeline run."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

import tidal
from tidal.components.classification import logistic_regression
from tidal.components.model import predict, summary
from tidal.components.model_explain import explain_rows
from tidal.components.model_inspection import feature_importance, partial_dependence
from tidal.core import DataError, ParameterError
from tidal.models import ModelPackage


def frame_of(name: str) -> pd.DataFrame:
    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def package(estimator, frame: pd.DataFrame, task: str, label: str = "target") -> ModelPackage:
    features = [name for name in frame.columns if name != label]
    estimator.fit(frame[features], frame[label])
    return ModelPackage.from_estimator(estimator, frame, features=features, task=task, label=label)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return frame_of("breast_cancer")


def reloaded(model: ModelPackage, tmp_path) -> ModelPackage:
    return ModelPackage.load(model.save_archive(tmp_path / "model.zip"))


def test_native_importance_of_each_kind(cancer, tmp_path):
    forest = package(RandomForestClassifier(n_estimators=20, random_state=0), cancer, "binary")
    table = feature_importance(forest).importance
    expected = pd.Series(forest.model.feature_importances_, index=forest.features)
    assert table.set_index("feature")["importance"].to_dict() == pytest.approx(expected.to_dict())
    assert table["method"].iloc[0] == "impurity" and table["share"].sum() == pytest.approx(1.0)

    linear = logistic_regression(cancer, label="target")
    coefficients = np.abs(linear.model[-1].coef_[0])
    assert feature_importance(linear).importance.set_index("feature").loc[linear.features, "importance"].tolist() == pytest.approx(coefficients.tolist())

    boosted = package(lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), cancer, "binary")
    gains = boosted.model.booster_.feature_importance(importance_type="gain")
    for model in (boosted, reloaded(boosted, tmp_path)):
        assert feature_importance(model).importance.set_index("feature").loc[boosted.features, "importance"].tolist() == pytest.approx(gains.tolist())

    xgb = package(xgboost.XGBClassifier(n_estimators=10, max_depth=3), cancer, "binary")
    scores = xgb.model.get_booster().get_score(importance_type="gain")
    table = feature_importance(xgb).importance.set_index("feature")
    assert [table.loc[name, "importance"] for name in xgb.features] == pytest.approx([scores.get(name, 0.0) for name in xgb.features])


def test_permutation_importance_matches_sklearn(cancer):
    model = package(LogisticRegression(max_iter=5000), cancer, "binary")
    table = feature_importance(model, cancer, method="permutation", repeats=3, seed=4).importance.set_index("feature")
    expected = permutation_importance(model.model, cancer[model.features], cancer["target"], scoring="roc_auc", n_repeats=3, random_state=4)
    assert table.loc[model.features, "importance"].tolist() == pytest.approx(expected.importances_mean.tolist())
    assert table.loc[model.features, "std"].tolist() == pytest.approx(expected.importances_std.tolist())
    diabetes = frame_of("diabetes")
    ridge = package(Ridge(), diabetes, "regression")
    table = feature_importance(ridge, diabetes, method="permutation", metric="rmse", repeats=2, seed=1).importance.set_index("feature")
    expected = permutation_importance(ridge.model, diabetes[ridge.features], diabetes["target"], scoring="neg_root_mean_squared_error", n_repeats=2, random_state=1)
    assert table.loc[ridge.features, "importance"].tolist() == pytest.approx(expected.importances_mean.tolist())


@pytest.mark.parametrize("kind", ["regression", "binary"])
def test_partial_dependence_matches_sklearn(kind, cancer):
    if kind == "regression":
        frame = frame_of("diabetes")
        model = package(Ridge(alpha=0.5), frame, "regression")
    else:
        frame = cancer
        model = package(LogisticRegression(max_iter=5000), frame, "binary")
    chosen = model.features[2]
    table = partial_dependence(model, frame, features=[chosen], grid_resolution=7).dependence
    expected = sk_partial_dependence(model.model, frame[model.features], [chosen], grid_resolution=7, method="brute", kind="average")
    assert table["value"].tolist() == pytest.approx(expected["grid_values"][0].tolist())
    assert table["average"].tolist() == pytest.approx(expected["average"][0].tolist())


def test_partial_dependence_few_values_and_multiclass():
    frame = frame_of("iris")
    frame["bucket"] = (frame["sepal width (cm)"] > 3).astype(int)
    model = package(LogisticRegression(max_iter=1000), frame, "multiclass")
    table = partial_dependence(model, frame, features=["bucket"]).dependence
    assert sorted(set(table["value"])) == [0.0, 1.0]
    assert sorted(set(table["target"])) == ["0", "1", "2"]
    assert table.groupby("value")["average"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_linear_explanations_add_up(cancer):
    model = logistic_regression(cancer, label="target")
    explained = explain_rows(model, cancer, rows=10)
    contributions = explained[[f"contribution_{name}" for name in model.features]].to_numpy()
    margin = model.model.decision_function(cancer[model.features].head(10))
    assert (explained["base_value"] + contributions.sum(axis=1)).tolist() == pytest.approx(margin.tolist())
    assert set(explained["explained_output"]) == {"log_odds"}
    negative = explain_rows(model, cancer, rows=10, target="0")
    assert negative["contribution_mean radius"].tolist() == pytest.approx((-explained["contribution_mean radius"]).tolist())


def test_multiclass_linear_explains_the_predicted_class():
    frame = frame_of("iris")
    model = package(LogisticRegression(max_iter=1000), frame, "multiclass")
    explained = explain_rows(model, frame, rows=150)
    predicted = model.predict(frame)
    assert explained["explained_class"].tolist() == [str(value) for value in predicted]
    margins = model.model.decision_function(frame[model.features])[np.arange(150), predicted]
    total = explained["base_value"] + explained[[f"contribution_{name}" for name in model.features]].sum(axis=1)
    assert total.tolist() == pytest.approx(margins.tolist())


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_tree_explanations_are_the_libraries_shap_values(library, cancer, tmp_path):
    estimator = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1) if library == "lightgbm" else xgboost.XGBClassifier(n_estimators=15, max_depth=3)
    model = reloaded(package(estimator, cancer, "binary"), tmp_path)
    explained = explain_rows(model, cancer, rows=5)
    features = cancer[model.features].head(5)
    if library == "lightgbm":
        expected = model.model.predict(features, pred_contrib=True)
        margin = model.model.predict(features, raw_score=True)
    else:
        expected = model.model.predict(xgboost.DMatrix(features), pred_contribs=True)
        margin = model.model.predict(xgboost.DMatrix(features), output_margin=True)
    contributions = explained[[f"contribution_{name}" for name in model.features]].to_numpy()
    assert contributions == pytest.approx(expected[:, :-1], abs=1e-6)
    assert (explained["base_value"] + contributions.sum(axis=1)).tolist() == pytest.approx(margin.tolist(), abs=1e-5)


def test_occlusion_explanations_for_any_model(cancer):
    model = package(RandomForestClassifier(n_estimators=10, random_state=0), cancer, "binary")
    explained = explain_rows(model, cancer, rows=3, top=2)
    row = cancer[model.features].head(1).copy()
    original = model.predict_proba(row)[0, 1]
    row["worst area"] = cancer["worst area"].mean()
    assert explained["contribution_worst area"].iloc[0] == pytest.approx(original - model.predict_proba(row)[0, 1])
    assert set(explained["explained_output"]) == {"probability"}
    assert explained["top_features"].str.count(";").tolist() == [1, 1, 1]


def test_summary_describes_the_manifest(cancer):
    model = logistic_regression(cancer, label="target", C=0.3)
    facts = summary(model)
    assert (facts["task"], facts["flavor"], facts["features"], facts["classes"], facts["label"]) == ("binary", "sklearn", 30, 2, "target")
    assert facts["param_C"] == 0.3
    assert [row["feature"] for row in facts.tables["features"]] == model.features


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, f: feature_importance(m, f.drop(columns="target"), method="permutation"), DataError, "label column 'target'"),
        (lambda m, f: feature_importance(package(LinearRegression(), f, "regression"), method="permutation"), DataError, "connect input 'data'"),
        (lambda m, f: feature_importance(m, f.iloc[:0], method="permutation"), DataError, "empty"),
        (lambda m, f: feature_importance(m, f, metric="r2", method="permutation"), DataError, "does not apply to a binary model"),
        (lambda m, f: partial_dependence(m, f, features=["nope"]), DataError, "not found"),
        (lambda m, f: partial_dependence(m, f, target="7"), ParameterError, "not a class"),
        (lambda m, f: explain_rows(m, f.drop(columns="worst area")), DataError, "'worst area'"),
        (lambda m, f: explain_rows(m, f, method="tree"), ParameterError, "LightGBM or XGBoost"),
    ],
)
def test_errors_say_what_and_where(call, error, message, cancer):
    model = logistic_regression(cancer, label="target")
    with pytest.raises(error, match=message):
        call(model, cancer)


def test_model_tools_in_a_pipeline(tmp_path, cancer):
    cancer.to_csv(tmp_path / "cancer.csv", index=False)
    with tidal.Pipeline("inspect") as pipeline:
        table = tidal.get_component("io.read_csv")(path="cancer.csv")
        model = logistic_regression(table, label="target")
        scored = predict(model, table)
        feature_importance(model, table, method="permutation", repeats=2, _id="importance")
        partial_dependence(model, table, features=["worst area"], _id="dependence")
        explain_rows(model, scored, rows=5, _id="explain")
        summary(model, _id="summary")
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok
    assert len(result.output("importance", "importance").to_pandas()) == 30
    assert result.output("dependence", "chart")["facet"]["field"] == "feature"
    assert result.output("explain").num_rows == 5
    assert result.output("summary")["task"] == "binary"
