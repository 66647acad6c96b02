"""Classification: parity with scikit-learn, LightGBM and XGBoost on bundled data, the capability
tags checked against behaviour (over the registry, by tags), parameters derived from the
libraries' constraints, the factorization machine, and a LightGBM pipeline end to end."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from scipy.special import expit
from sklearn import (
    datasets,
    discriminant_analysis,
    ensemble,
    linear_model,
    naive_bayes,
    neighbors,
    neural_network,
    svm,
    tree,
)
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import tidal
from tidal.components import classification
from tidal.components._factorization import FactorizationMachineClassifier
from tidal.core import DataError, ParameterError, ValidationFailed, registry
from tidal.models import ModelPackage


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits run fastest on one thread, above all on a busy machine (OpenMP spin-waits)."""
    with threadpool_limits(1):
        yield


def load(name: str, names: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame
    if names:
        frame["target"] = np.asarray(bunch.target_names)[frame["target"]]
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])


def scaled(estimator):
    return make_pipeline(StandardScaler(), estimator)


def calibrated(estimator):
    return scaled(CalibratedClassifierCV(estimator, ensemble=False))


def trainers(**tags):
    """Classification trainers in the registry whose tags match."""
    return [spec for spec in registry.all() if spec.category == "classification" and all(spec.tags.get(key) == value for key, value in tags.items())]


def ids(specs):
    return [spec.id for spec in specs]


def roundtrip(model: ModelPackage, tmp_path) -> ModelPackage:
    return ModelPackage.load(model.save_archive(tmp_path / "model.zip"))


# -- parity with the libraries ------------------------------------------------------------------

PARITY = [
    ("logistic_regression", {"C": 0.5}, lambda: scaled(linear_model.LogisticRegression(C=0.5, max_iter=1000, random_state=0)), "breast_cancer"),
    ("linear_svm", {"C": 0.1}, lambda: calibrated(svm.LinearSVC(C=0.1, random_state=0)), "breast_cancer"),
    ("kernel_svm", {"C": 2.0, "gamma": 0.05}, lambda: calibrated(svm.SVC(C=2.0, gamma=0.05, random_state=0)), "wine"),
    ("sgd", {"alpha": 1e-3, "seed": 3}, lambda: scaled(linear_model.SGDClassifier(loss="log_loss", alpha=1e-3, random_state=3)), "breast_cancer"),
    ("sgd", {"loss": "hinge", "seed": 3}, lambda: calibrated(linear_model.SGDClassifier(loss="hinge", random_state=3)), "iris"),
    ("ridge", {"alpha": 3.0}, lambda: calibrated(linear_model.RidgeClassifier(alpha=3.0, random_state=0)), "wine"),
    ("linear_discriminant", {"solver": "lsqr", "shrinkage": 0.2}, lambda: discriminant_analysis.LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.2), "wine"),
    ("quadratic_discriminant", {"reg_param": 0.1}, lambda: discriminant_analysis.QuadraticDiscriminantAnalysis(reg_param=0.1), "iris"),
    ("decision_tree", {"max_depth": 4, "seed": 1}, lambda: tree.DecisionTreeClassifier(max_depth=4, random_state=1), "breast_cancer"),
    ("random_forest", {"n_estimators": 30, "max_features": "all", "seed": 2}, lambda: ensemble.RandomForestClassifier(n_estimators=30, max_features=None, random_state=2), "wine"),
    ("extra_trees", {"n_estimators": 30, "seed": 2}, lambda: ensemble.ExtraTreesClassifier(n_estimators=30, random_state=2), "breast_cancer"),
    ("adaboost", {"n_estimators": 20, "learning_rate": 0.5}, lambda: ensemble.AdaBoostClassifier(n_estimators=20, learning_rate=0.5, random_state=0), "iris"),
    ("gradient_boosting", {"n_estimators": 20, "max_depth": 2}, lambda: ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0), "wine"),
    ("hist_gradient_boosting", {"max_iter": 30, "early_stopping": "off"}, lambda: ensemble.HistGradientBoostingClassifier(max_iter=30, early_stopping=False, random_state=0), "breast_cancer"),
    ("gaussian_naive_bayes", {}, naive_bayes.GaussianNB, "wine"),
    ("multinomial_naive_bayes", {"alpha": 0.5}, lambda: naive_bayes.MultinomialNB(alpha=0.5), "wine"),
    ("complement_naive_bayes", {"norm": True}, lambda: naive_bayes.ComplementNB(norm=True), "wine"),
    ("bernoulli_naive_bayes", {"binarize": 8.0}, lambda: naive_bayes.BernoulliNB(binarize=8.0), "digits"),
    ("k_nearest_neighbors", {"n_neighbors": 7, "weights": "distance"}, lambda: scaled(neighbors.KNeighborsClassifier(n_neighbors=7, weights="distance")), "wine"),
    ("mlp", {"hidden_units": 16, "hidden_layers": 2, "max_iter": 300, "seed": 4}, lambda: scaled(neural_network.MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=300, random_state=4)), "iris"),
    ("lightgbm", {"n_estimators": 40, "num_leaves": 15, "seed": 5}, lambda: lightgbm.LGBMClassifier(n_estimators=40, num_leaves=15, random_state=5, verbose=-1), "breast_cancer"),
    ("lightgbm", {"n_estimators": 20, "max_depth": 3, "min_child_samples": 5}, lambda: lightgbm.LGBMClassifier(n_estimators=20, max_depth=3, min_child_samples=5, random_state=0, verbose=-1), "iris"),
    ("xgboost", {"n_estimators": 30, "max_depth": 3, "seed": 5}, lambda: xgboost.XGBClassifier(n_estimators=30, max_depth=3, random_state=5, tree_method="hist"), "breast_cancer"),
    ("xgboost", {"n_estimators": 20, "learning_rate": 0.1}, lambda: xgboost.XGBClassifier(n_estimators=20, learning_rate=0.1, random_state=0, tree_method="hist"), "wine"),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("name", "params", "reference", "dataset"), PARITY, ids=[f"{case[0]}-{case[3]}" for case in PARITY])
def test_matches_the_library_called_directly(name, params, reference, dataset):
    train, test = load(dataset)
    features = [column for column in train.columns if column != "target"]
    model = getattr(classification, name)(train, label="target", **params)
    expected = reference().fit(train[features], train["target"])
    np.testing.assert_allclose(model.predict_proba(test), expected.predict_proba(test[features]), rtol=1e-6, atol=1e-7)
    assert (model.predict(test) == expected.predict(test[features])).all()
    assert model.classes == list(expected.classes_)


def test_weights_reach_the_estimator_through_scaling_and_calibration():
    train, test = load("wine")
    features = [column for column in train.columns if column != "target"]
    train = train.assign(weight=np.arange(len(train)) % 3 + 0.5)
    model = classification.kernel_svm(train, label="target", sample_weight="weight")
    expected = calibrated(svm.SVC(random_state=0)).fit(train[features], train["target"], calibratedclassifiercv__sample_weight=train["weight"])
    np.testing.assert_allclose(model.predict_proba(test), expected.predict_proba(test[features]), atol=1e-9)
    assert "weight" not in model.features


def test_weighted_lightgbm_matches_lightgbm():
    train, test = load("breast_cancer")
    features = [column for column in train.columns if column != "target"]
    weights = np.where(train["target"] == 1, 3.0, 1.0)
    model = classification.lightgbm(train.assign(w=weights), label="target", sample_weight="w", n_estimators=30)
    expected = lightgbm.LGBMClassifier(n_estimators=30, random_state=0, verbose=-1).fit(train[features], train["target"], sample_weight=weights)
    np.testing.assert_allclose(model.predict_proba(test), expected.predict_proba(test[features]), atol=1e-12)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_boosters_keep_string_labels_and_probabilities_after_reload(name, tmp_path):
    train, test = load("iris", names=True)
    features = [column for column in train.columns if column != "target"]
    model = getattr(classification, name)(train, label="target", n_estimators=15)
    loaded = roundtrip(model, tmp_path)
    assert loaded.flavor == name and loaded.classes == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.predict(test).tolist() == model.predict(test).tolist()
    reference = (lightgbm.LGBMClassifier(n_estimators=15, random_state=0, verbose=-1) if name == "lightgbm"
                 else xgboost.XGBClassifier(n_estimators=15, random_state=0, tree_method="hist"))
    codes, classes = pd.factorize(train["target"], sort=True)
    reference.fit(train[features], codes if name == "xgboost" else train["target"])
    np.testing.assert_allclose(loaded.predict_proba(test), reference.predict_proba(test[features]), atol=1e-6)
    assert loaded.predict(test).tolist() == np.asarray(classes)[reference.predict_proba(test[features]).argmax(axis=1)].tolist()


# -- every trainer, by its tags ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("spec", trainers(), ids=ids(trainers()))
def test_every_classifier_gives_labels_and_probabilities_that_survive_a_reload(spec, tmp_path):
    for classes in (["setosa", "versicolor", "virginica"], ["versicolor", "virginica"]):
        train, test = (part[part["target"].isin(classes)] for part in load("iris", names=True))
        model = spec(train, label="target")
        assert model.task == ("multiclass" if len(classes) == 3 else "binary") and model.classes == classes
        probabilities = model.predict_proba(test)
        assert probabilities.shape == (len(test), len(classes))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
        assert set(model.predict(test)) <= set(classes)
        loaded = roundtrip(model, tmp_path)
        np.testing.assert_allclose(loaded.predict_proba(test), probabilities, atol=1e-12)
        assert loaded.predict(test).tolist() == model.predict(test).tolist()


def with_gap(frame: pd.DataFrame, column: str, row: int) -> pd.DataFrame:
    frame = frame.reset_index(drop=True).copy()
    frame.loc[row, column] = np.nan
    return frame


@pytest.mark.parametrize("spec", trainers(handles_missing=True), ids=ids(trainers(handles_missing=True)))
def test_trainers_that_claim_to_handle_missing_values_fit_and_predict_with_them(spec):
    train, _ = load("iris")
    train = with_gap(with_gap(train, "petal length (cm)", 5), "sepal width (cm)", 17)
    model = spec(train, label="target")
    assert np.isfinite(model.predict_proba(train.iloc[[5, 17]])).all()


@pytest.mark.parametrize("spec", trainers(handles_missing=False), ids=ids(trainers(handles_missing=False)))
def test_trainers_that_do_not_handle_missing_values_name_the_column_and_row(spec):
    train, _ = load("iris")
    with pytest.raises(DataError, match=r"column 'petal length \(cm\)' has 1 missing value\(s\), the first at row 5"):
        spec(with_gap(train, "petal length (cm)", 5), label="target")


@pytest.mark.parametrize("spec", trainers(numeric_only=True), ids=ids(trainers(numeric_only=True)))
def test_numeric_only_trainers_name_a_text_column(spec):
    train, _ = load("iris")
    with pytest.raises(DataError, match="'colour'"):
        spec(train.assign(colour="red"), label="target")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("spec", trainers(supports_weights=True), ids=ids(trainers(supports_weights=True)))
def test_trainers_that_support_weights_take_a_weight_column(spec):
    train, test = load("iris")
    weighted = train.assign(weight=np.arange(len(train)) % 4 + 1.0)
    model = spec(weighted, label="target", sample_weight="weight")
    assert "weight" not in model.features and model.predict(test).shape == (len(test),)
    with pytest.raises(DataError, match="weight column 'weight' has 1 missing or negative value"):
        spec(weighted.assign(weight=np.r_[-1.0, np.ones(len(train) - 1)]), label="target", sample_weight="weight")


@pytest.mark.parametrize("spec", trainers(supports_weights=False), ids=ids(trainers(supports_weights=False)))
def test_trainers_without_weight_support_offer_no_weight_parameter(spec):
    assert spec.param("sample_weight") is None


@pytest.mark.parametrize("spec", trainers(), ids=ids(trainers()))
def test_every_trainer_declares_tuned_ranges_inside_its_bounds(spec):
    tuned = [param for param in spec.params if param.meta.tune]
    assert tuned, f"{spec.id} declares no parameter for AutoML to tune"
    for param in tuned:
        meta = param.meta
        if meta.low is None:
            continue
        assert meta.low < meta.high
        assert (meta.ge is None or meta.low >= meta.ge) and (meta.gt is None or meta.low > meta.gt)
        assert (meta.le is None or meta.high <= meta.le) and (meta.lt is None or meta.high < meta.lt)


# -- parameters come from the libraries' constraints -----------------------------------------------


@pytest.mark.parametrize(
    ("component_id", "param", "bounds"),
    [
        ("classification.decision_tree", "max_depth", {"ge": 1}),
        ("classification.random_forest", "n_estimators", {"ge": 1}),
        ("classification.random_forest", "min_samples_leaf", {"ge": 1}),
        ("classification.kernel_svm", "C", {"gt": 0}),
        ("classification.kernel_svm", "gamma", {"ge": 0}),
        ("classification.sgd", "l1_ratio", {"ge": 0, "le": 1}),
        ("classification.linear_discriminant", "shrinkage", {"ge": 0, "le": 1}),
        ("classification.factorization_machine", "learning_rate", {"gt": 0}),
    ],
)
def test_bounds_are_the_library_constraints(component_id, param, bounds):
    meta = registry.get(component_id).param(param).meta
    assert {name: getattr(meta, name) for name in ("gt", "ge", "lt", "le") if getattr(meta, name) is not None} == bounds


def test_a_value_outside_the_library_bounds_is_refused_naming_the_parameter():
    train, _ = load("iris")
    with pytest.raises(ValidationFailed) as error:
        classification.decision_tree(train, label="target", max_depth=0)
    assert [issue.param for issue in error.value.issues] == ["max_depth"]
    assert "max_depth" in str(error.value)


def test_choices_are_the_library_options_and_empty_values_map_to_library_defaults():
    spec = registry.get("classification.decision_tree")
    schema = spec.params_schema()["properties"]
    assert schema["criterion"]["enum"] == sorted(tree.DecisionTreeClassifier._parameter_constraints["criterion"][0].options)
    assert schema["class_weight"]["enum"] == ["balanced", "none"] and spec.param("class_weight").default == "none"
    assert spec.param("max_depth").default is None
    svm_spec = registry.get("classification.kernel_svm")
    assert svm_spec.param("gamma").default is None and svm_spec.param("gamma").meta.tune
    train, _ = load("iris")
    assert classification.kernel_svm(train, label="target").model.steps[-1][1].estimator.gamma == "scale"


def test_a_bad_combination_of_parameters_is_a_parameter_error():
    train, _ = load("iris")
    with pytest.raises(ParameterError, match="shrinkage"):
        classification.linear_discriminant(train, label="target", shrinkage=0.5)


# -- errors a user can make ---------------------------------------------------------------------------


def test_errors_name_what_is_wrong():
    train, _ = load("iris")
    with pytest.raises(DataError, match="column 'species' not found"):
        classification.random_forest(train, label="species")
    with pytest.raises(DataError, match="at least 2 needed"):
        classification.random_forest(train.iloc[:0], label="target")
    with pytest.raises(DataError, match="only one class"):
        classification.random_forest(train[train["target"] == 0], label="target")
    with pytest.raises(DataError, match="also listed in 'features'"):
        classification.random_forest(train, label="target", features=["target", "sepal length (cm)"])
    with pytest.raises(DataError, match="cannot be fitted on this data: .*[Nn]egative"):
        classification.multinomial_naive_bayes(train.assign(shift=-1.0), label="target")


# -- the factorization machine -------------------------------------------------------------------------


def test_factorization_machine_scores_follow_the_model_equation():
    train, test = load("breast_cancer")
    features = [column for column in train.columns if column != "target"]
    model = classification.factorization_machine(train, label="target", seed=3, n_factors=4)
    scaler, machine = model.model.steps[0][1], model.model.steps[1][1]
    x = scaler.transform(test[features])
    vectors = machine.factors_[0]
    pairwise = np.array([sum(vectors[i] @ vectors[j] * row[i] * row[j] for i in range(len(row)) for j in range(i + 1, len(row))) for row in x[:5]])
    expected = expit(machine.intercept_[0] + x[:5] @ machine.coef_[:, 0] + pairwise)
    np.testing.assert_allclose(model.predict_proba(test.iloc[:5])[:, 1], expected, rtol=1e-9)


def test_factorization_machine_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    X, codes = rng.normal(size=(12, 4)), np.arange(12) % 3
    machine = FactorizationMachineClassifier(n_factors=3, epochs=1, l2=0.01, random_state=0).fit(X, codes)
    targets, weights = np.eye(3)[codes], np.ones(12)

    def loss() -> float:
        logits, _ = machine._forward(X)
        logits = logits - logits.max(axis=1, keepdims=True)
        log_probability = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        penalty = 0.5 * machine.l2 * ((machine.coef_**2).sum() + (machine.factors_**2).sum())
        return float(-(targets * log_probability).sum(axis=1).mean() + penalty)

    analytic = machine._gradients(X, targets, weights)
    for parameter, gradient in zip([machine.intercept_, machine.coef_, machine.factors_], analytic, strict=True):
        for index in [(0,) * parameter.ndim, tuple(size - 1 for size in parameter.shape)]:
            saved = parameter[index]
            parameter[index] = saved + 1e-6
            up = loss()
            parameter[index] = saved - 1e-6
            down = loss()
            parameter[index] = saved
            assert gradient[index] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8)


def test_factorization_machine_is_fixed_by_its_seed_and_learns():
    train, test = load("breast_cancer")
    first = classification.factorization_machine(train, label="target", seed=1)
    again = classification.factorization_machine(train, label="target", seed=1)
    other = classification.factorization_machine(train, label="target", seed=2)
    np.testing.assert_array_equal(first.predict_proba(test), again.predict_proba(test))
    assert not np.array_equal(first.predict_proba(test), other.predict_proba(test))
    assert (first.predict(test) == test["target"]).mean() > 0.93


# -- a pipeline --------------------------------------------------------------------------------------------


def test_lightgbm_pipeline_on_breast_cancer_reaches_a_high_auc(tmp_path):
    pipeline = tidal.Pipeline("lightgbm-cancer")
    pipeline.add("io.dataset", "data", params={"name": "breast_cancer"})
    pipeline.add("data.split", "split", inputs={"data": "data"}, params={"fraction": 0.7, "seed": 0, "stratify": "target"})
    pipeline.add("classification.lightgbm", "train", inputs={"data": "split.train"}, params={"label": "target", "n_estimators": 200, "learning_rate": 0.05})
    pipeline.add("model.predict", "score", inputs={"model": "train", "data": "split.test"})
    pipeline.add("evaluation.binary_classification", "evaluate", inputs={"data": "score"}, params={"label": "target"})
    result = tidal.run(pipeline, workspace=tmp_path, workers=0)
    assert result.ok, {node: record.error for node, record in result.nodes.items()}
    assert result.metrics("evaluate")["auc"] > 0.97
    model = result.output("train")
    assert model.flavor == "lightgbm" and model.classes == [0, 1]
