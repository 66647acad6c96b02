"""Tidal's PMML evaluator against JPMML-Evaluator on the models sklearn2pmml writes.

A session fixture fits a grid of scikit-learn, LightGBM and XGBoost models on scikit-learn's bundled
datasets (iris, diabetes, breast cancer), converts them all with sklearn2pmml in one JVM, and
scores the same rows with Tidal and with JPMML-Evaluator (one more JVM, kept for the session):
ordinary rows, rows with missing values, and rows sitting exactly on the split thresholds of the
fitted trees (the threshold as the tree stores it, its float32 rounding and the float32 neighbours
on either side). Predictions and probabilities must agree to 1e-9, and a row JPMML gives no
prediction for must get none from Tidal.

sklearn2pmml 0.133 checks the scikit-learn version recorded in a pickle and supports up to 1.9.0;
the pickles are written as if by that version when a newer one is installed (their layout is the
same within 1.9).
"""

from __future__ import annotations

import re
import subprocess
import sys
import unittest.mock
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pmml_reference import assert_matches_jpmml, require_jpmml

CONVERTER_SKLEARN = "1.9.0"
CONVERT = """
import sys
import jpype
from sklearn2pmml import _classpath

jpype.startJVM(classpath=_classpath([]), convertStrings=False)
main = jpype.JClass("com.sklearn2pmml.Main")
arguments = sys.argv[1:]
for pickle, pmml in zip(arguments[::2], arguments[1::2]):
    print("converting", pickle, flush=True)
    main.main(jpype.JArray(jpype.JString)(["--pkl-input", pickle, "--pmml-output", pmml]))
"""


@dataclass
class Case:
    steps: list[Any]
    frame: pd.DataFrame
    label: str | None
    fit: dict[str, Any] = field(default_factory=dict)
    path: Path = Path()
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)


def _datasets() -> dict[str, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

    iris = load_iris(as_frame=True).frame
    iris.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    diabetes = load_diabetes(as_frame=True).frame
    cancer = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, 3, 4, 5, 30]]
    cancer.columns = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "target"]
    categorical = diabetes.assign(sex=np.where(diabetes["sex"] > 0, "male", "female"),
                                  band=pd.cut(diabetes["bmi"], 4, labels=["a", "b", "c", "d"]).astype(str))
    categorical.loc[::9, "band"] = None
    frames = {"iris": iris, "diabetes": diabetes, "cancer": cancer, "categorical": categorical}
    for name, label, seed in (("iris", "species", 1), ("diabetes", "target", 2), ("cancer", "target", 3)):
        frame = frames[name].copy()
        features = frame.columns.drop(label)
        holes = np.random.default_rng(seed).random((len(frame), len(features))) < 0.1
        frame[features] = frame[features].mask(holes)
        frames[f"{name}_holes"] = frame
    return frames


def _grid() -> dict[str, Case]:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC, SVR
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    from sklearn2pmml.preprocessing import PMMLLabelEncoder
    from xgboost import XGBClassifier, XGBRegressor

    data = _datasets()
    iris, diabetes, cancer = data["iris"], data["diabetes"], data["cancer"]
    return {
        "logistic_binary": Case([LogisticRegression(max_iter=5000)], cancer, "target"),
        "logistic_multiclass": Case([LogisticRegression(max_iter=1000)], iris, "species"),
        "linear": Case([LinearRegression()], diabetes, "target"),
        "standard_scaler_linear": Case([StandardScaler(), LinearRegression()], diabetes, "target"),
        "minmax_scaler_logistic": Case([MinMaxScaler(), LogisticRegression(max_iter=1000)], iris, "species"),
        "tree_classifier": Case([DecisionTreeClassifier(max_depth=4, random_state=0)], iris, "species"),
        "tree_regressor": Case([DecisionTreeRegressor(max_depth=4, random_state=0)], diabetes, "target"),
        "tree_classifier_missing": Case([DecisionTreeClassifier(max_depth=3, random_state=0)], data["iris_holes"],
                                        "species"),
        "forest_classifier": Case([RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)], iris,
                                  "species"),
        "forest_regressor": Case([RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)], diabetes,
                                 "target"),
        "gbm_binary": Case([GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0)], cancer, "target"),
        "gbm_multiclass": Case([GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0)], iris,
                               "species"),
        "gbm_regressor": Case([GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)], diabetes,
                              "target"),
        "hist_gbm_binary": Case([HistGradientBoostingClassifier(max_iter=5, max_depth=3, random_state=0)],
                                data["cancer_holes"], "target"),
        "lightgbm_multiclass": Case([LGBMClassifier(n_estimators=5, num_leaves=6, min_child_samples=5, verbose=-1,
                                                    random_state=0)], data["iris_holes"], "species"),
        "lightgbm_regressor": Case([LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1, random_state=0)],
                                   data["diabetes_holes"], "target"),
        "xgboost_binary": Case([XGBClassifier(n_estimators=10, max_depth=3, random_state=0)], data["cancer_holes"],
                               "target"),
        "xgboost_multiclass": Case([XGBClassifier(n_estimators=4, max_depth=2, random_state=0)], data["iris_holes"],
                                   "species"),
        "xgboost_regressor": Case([XGBRegressor(n_estimators=10, max_depth=3, random_state=0)], data["diabetes_holes"],
                                  "target"),
        "lightgbm_categorical": Case(
            [ColumnTransformer([("sex", PMMLLabelEncoder(missing_values=-1), ["sex"]),
                                ("band", PMMLLabelEncoder(missing_values=-1), ["band"]),
                                ("numbers", "passthrough", ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"])]),
             LGBMRegressor(n_estimators=8, num_leaves=6, min_child_samples=5, verbose=-1, random_state=0)],
            data["categorical"], "target", {"step1__categorical_feature": [0, 1]}),
        "naive_bayes": Case([GaussianNB()], iris, "species"),
        "svm_classifier": Case([SVC()], iris, "species"),
        "svm_regressor": Case([StandardScaler(), SVR(kernel="poly", degree=2)], diabetes, "target"),
        "mlp_classifier": Case([MLPClassifier(hidden_layer_sizes=(6,), max_iter=300, random_state=0)], iris, "species"),
        "mlp_regressor": Case([StandardScaler(), MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=200,
                                                             random_state=0)], diabetes, "target"),
        "kmeans": Case([KMeans(3, n_init=1, random_state=0)], iris.drop(columns="species"), None),
        "knn_classifier": Case([KNeighborsClassifier(5)], iris, "species"),
        "knn_regressor": Case([KNeighborsRegressor(4, weights="distance")], diabetes, "target"),
    }


def _threshold_rows(case: Case, pmml: str, base: pd.Series, limit: int = 40) -> pd.DataFrame:
    """Rows whose value sits on a split threshold: as written, as float32, and one float32 step either side."""
    thresholds = {(name, float(value)) for name, value in
                  re.findall(r'<SimplePredicate field="([^"]+)" operator="(?:less|greater)\w*" value="([^"]+)"', pmml)}
    for step in case.steps:  # the fitted trees' own float64 thresholds
        for tree in [step] + list(np.asarray(getattr(step, "estimators_", []), dtype=object).ravel()):
            inner = getattr(tree, "tree_", None)
            if inner is not None:
                names = case.frame.columns.drop(case.label) if case.label else case.frame.columns
                thresholds |= {(names[feature], float(value)) for feature, value in
                               zip(inner.feature, inner.threshold, strict=True) if feature >= 0}
    rows = []
    for name, value in sorted(thresholds)[:limit]:
        if name not in case.frame.columns:
            continue
        single = np.float32(value)
        for candidate in {value, float(single), float(np.nextafter(single, np.float32(-np.inf))),
                          float(np.nextafter(single, np.float32(np.inf)))}:
            row = base.copy()
            row[name] = candidate
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> dict[str, Case]:
    require_jpmml()
    pytest.importorskip("sklearn2pmml")
    pytest.importorskip("lightgbm")
    pytest.importorskip("xgboost")
    import joblib
    import sklearn
    from sklearn2pmml.pipeline import PMMLPipeline

    folder = tmp_path_factory.mktemp("pmml-reference")
    cases = _grid()
    arguments = []
    version = CONVERTER_SKLEARN if sklearn.__version__ != CONVERTER_SKLEARN else sklearn.__version__
    for name, case in cases.items():
        pipeline = PMMLPipeline([(f"step{index}", step) for index, step in enumerate(case.steps)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small iteration budgets: the networks need not converge
            if case.label is None:
                pipeline.fit(case.frame)
            else:
                pipeline.fit(case.frame.drop(columns=case.label), case.frame[case.label], **case.fit)
        with unittest.mock.patch("sklearn.base.__version__", version):
            joblib.dump(pipeline, folder / f"{name}.pkl")
        case.path = folder / f"{name}.pmml"
        arguments += [str(folder / f"{name}.pkl"), str(case.path)]
    done = subprocess.run([sys.executable, "-c", CONVERT, *arguments], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"sklearn2pmml failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    for case in cases.values():
        features = case.frame.drop(columns=case.label) if case.label else case.frame
        plain = features.dropna().iloc[::13].head(12)
        with_holes = features.iloc[::11].head(12).copy()
        holes = np.random.default_rng(7).random(with_holes.shape) < 0.3
        with_holes = with_holes.mask(holes)
        complete = features.dropna()
        edges = _threshold_rows(case, case.path.read_text(), complete.iloc[len(complete) // 2])
        case.rows = pd.concat([plain, with_holes, edges], ignore_index=True)
    return cases


@pytest.mark.parametrize("name", sorted(["logistic_binary", "logistic_multiclass", "linear", "standard_scaler_linear",
                                         "minmax_scaler_logistic", "tree_classifier", "tree_regressor",
                                         "tree_classifier_missing", "forest_classifier", "forest_regressor",
                                         "gbm_binary", "gbm_multiclass", "gbm_regressor", "hist_gbm_binary",
                                         "lightgbm_multiclass", "lightgbm_regressor", "lightgbm_categorical",
                                         "xgboost_binary",
                                         "xgboost_multiclass", "xgboost_regressor", "naive_bayes", "svm_classifier",
                                         "svm_regressor", "mlp_classifier", "mlp_regressor", "kmeans",
                                         "knn_classifier", "knn_regressor"]))
def test_tidal_scores_sklearn2pmml_models_as_jpmml(name, reference):
    case = reference[name]
    ours = assert_matches_jpmml(case.path, case.rows)
    target = ours[case.label or "prediction"]
    assert len(target) == len(case.rows)


def test_a_package_takes_every_data_dictionary_column_and_reports_null_predictions(reference, tmp_path):
    from tidal.models import load_model
    from tidal.serving import pmml_package

    case = reference["gbm_binary"]
    package = pmml_package(case.path)
    archive = load_model(package.save_archive(tmp_path / "gbm.zip"))
    rows = case.rows.assign(unrelated="ignored")  # every column of the data set, and one more
    from tidal.models._pmml import PmmlModel

    expected = PmmlModel.from_path(case.path).evaluate(case.rows)
    predictions = archive.predict(rows)
    probabilities = archive.predict_proba(rows)
    null = np.array([value is None for value in expected["target"]])
    assert null.any() and not null.all()
    assert [value is None for value in predictions] == null.tolist()
    assert np.isnan(probabilities[null]).all()
    np.testing.assert_allclose(probabilities[~null, 1], expected["probability(1)"][~null], rtol=0, atol=1e-12)


def test_the_server_answers_null_where_jpmml_gives_no_prediction(reference, tmp_path):
    import asyncio

    import httpx

    from tidal.serving import ModelServer, ModelSpec, pmml_package

    case = reference["gbm_binary"]
    package = pmml_package(case.path)
    archive = package.save_archive(tmp_path / "gbm.zip")
    features = package.features  # the HTTP routes check columns against the signature: the model's inputs
    records = [{name: float(case.rows[name].iloc[0]) for name in features}, {name: None for name in features}]
    server = ModelServer([ModelSpec("gbm", str(archive))])

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.post("/api/predict/gbm", json=records)

    answer = asyncio.run(ask())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"][0] in (0, 1) and body["predictions"][1] is None
    assert body["probabilities"][1] == {"0": None, "1": None}
