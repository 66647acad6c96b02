"""Built-in processors (scikit-learn, LightGBM, XGBoost, pipelines, ONNX, PMML) and custom processors:
served answers equal the model's own predictions."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from tidal.core import UnsafeModelError
from tidal.models import ModelPackage, load_model
from tidal.serving import LoadFailed, ModelServer, ModelSpec, custom_package, pipeline_package


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    return frame


FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def serve_one(archive, rows: pd.DataFrame, trust: bool = False) -> dict:
    server = ModelServer([ModelSpec("m", str(archive), trust=trust)])

    async def go() -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            answer = await client.post("/api/predict/m", json=rows.to_dict(orient="records"))
            assert answer.status_code == 200, answer.text
            return answer.json()

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["sklearn", "lightgbm", "xgboost"])
def test_library_flavors_serve_what_the_model_predicts(kind, iris, tmp_path):
    X, y = iris[FEATURES], iris["species"]
    if kind == "sklearn":
        from sklearn.ensemble import RandomForestClassifier

        estimator = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    elif kind == "lightgbm":
        import lightgbm

        estimator = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(X, y)
    else:
        import xgboost

        estimator = xgboost.XGBClassifier(n_estimators=15).fit(X, y)
    package = ModelPackage.from_estimator(estimator, iris, features=FEATURES, task="multiclass", label="species")
    archive = package.save_archive(tmp_path / "m.zip")
    rows = iris[FEATURES].iloc[::15]
    answer = serve_one(archive, rows)
    expected = load_model(archive)
    assert answer["predictions"] == expected.predict(rows).tolist()
    got = np.array([[item[str(c)] for c in expected.classes] for item in answer["probabilities"]])
    np.testing.assert_allclose(got, expected.predict_proba(rows), rtol=1e-6)


def test_pipeline_package_applies_training_preprocessing_at_serving_time(tmp_path):
    from tidal.components.classification import logistic_regression
    from tidal.components.features_encoding import one_hot
    from tidal.components.features_scaling import standard_scaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 300), "income": rng.normal(5000, 1500, 300),
                          "city": rng.choice(["north", "south", "east"], 300)})
    frame["churned"] = ((frame["age"] > 50) ^ (frame["city"] == "east")).astype("int64")
    scaled = standard_scaler(frame, columns=["age", "income"])
    encoded = one_hot(scaled.data, columns=["city"])
    model = logistic_regression(encoded.data, label="churned")
    package = pipeline_package([scaled.transform, encoded.transform, model])
    assert package.features == ["age", "income", "city"] and package.flavor == "pipeline"
    archive = package.save_archive(tmp_path / "pipeline.zip")
    raw = frame.drop(columns="churned").head(12)
    answer = serve_one(archive, raw)
    expected = model.predict(encoded.transform.transform(scaled.transform.transform(raw)))
    assert answer["predictions"] == expected.tolist()
    metadata = ModelServer([ModelSpec("m", str(archive))]).repository.pick("m").processor.signature
    assert [(item.name, item.datatype) for item in metadata.inputs] == [("age", "INT64"), ("income", "FP64"), ("city", "BYTES")]
    with pytest.raises(Exception, match="fitted transforms"):
        pipeline_package([model, scaled.transform])


def test_onnx_models_run_on_onnxruntime(iris, tmp_path):
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from tidal.serving import onnx_package

    estimator = LogisticRegression(max_iter=500).fit(iris[FEATURES], iris["species"])
    onnx_model = skl2onnx.convert_sklearn(estimator, initial_types=[("input", FloatTensorType([None, 4]))],
                                          options={id(estimator): {"zipmap": False}})
    (tmp_path / "m.onnx").write_bytes(onnx_model.SerializeToString())
    package = onnx_package(tmp_path / "m.onnx", features=FEATURES, task="multiclass", classes=[0, 1, 2])
    archive = package.save_archive(tmp_path / "onnx.zip")
    rows = iris[FEATURES].iloc[::10]
    answer = serve_one(archive, rows)
    assert answer["predictions"] == estimator.predict(rows).tolist()
    got = np.array([[item[str(c)] for c in (0, 1, 2)] for item in answer["probabilities"]])
    np.testing.assert_allclose(got, estimator.predict_proba(rows), atol=1e-5)


@pytest.mark.parametrize("kind", ["tree", "logistic", "linear", "forest"])
def test_pmml_models_evaluate_without_a_jvm(kind, iris, tmp_path):
    nyoka = pytest.importorskip("nyoka")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    from tidal.serving import pmml_package

    X = iris[FEATURES]
    if kind == "logistic":  # binary: scikit-learn's multinomial softmax has no exact PMML twin in nyoka's export
        iris = iris.assign(species=(iris["species"] == 2).astype("int64"))
    if kind == "linear":
        target, y = "petal_width", iris["petal_width"]
        features = FEATURES[:3]
        estimator = Pipeline([("m", LinearRegression())]).fit(iris[features], y)
    else:
        target, y, features = "species", iris["species"], FEATURES
        model = {"tree": DecisionTreeClassifier(max_depth=4, random_state=0),
                 "logistic": LogisticRegression(max_iter=500),
                 "forest": RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)}[kind]
        estimator = Pipeline([("m", model)]).fit(X, y)
    nyoka.skl_to_pmml(estimator, features, target, str(tmp_path / "m.pmml"))
    package = pmml_package(tmp_path / "m.pmml")
    archive = package.save_archive(tmp_path / "pmml.zip")
    rows = iris[features].iloc[::7]
    answer = serve_one(archive, rows)
    if kind == "linear":
        np.testing.assert_allclose(answer["predictions"], estimator.predict(rows), rtol=1e-6)
        return
    assert answer["predictions"] == estimator.predict(rows).tolist()
    classes = estimator.classes_.tolist()
    got = np.array([[item[str(c)] for c in classes] for item in answer["probabilities"]])
    np.testing.assert_allclose(got, estimator.predict_proba(rows), atol=1e-6)


PROCESSOR = '''
import numpy as np


class Discount:
    """Business logic around a churn model: clip bad incomes, offer a discount to likely churners."""

    def load(self, context):
        self.model = context.model
        self.threshold = float(context.manifest["metadata"]["threshold"])

    def preprocess(self, frame):
        return frame.assign(income=frame["income"].clip(lower=0))

    def predict(self, frame):
        churn = self.model.predict_proba(frame)[:, 1]
        return {"prediction": churn > self.threshold, "churn": churn}

    def postprocess(self, outputs):
        return {**outputs, "discount": np.where(outputs["prediction"], 0.2, 0.0)}
'''


def test_custom_processors_wrap_business_logic_and_need_trust(tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"age": rng.normal(45, 12, 200), "income": rng.normal(5000, 1500, 200)})
    frame["churned"] = (frame["age"] > 50).astype("int64")
    estimator = LogisticRegression().fit(frame[["age", "income"]], frame["churned"])
    model = ModelPackage.from_estimator(estimator, frame, features=["age", "income"], task="binary", label="churned")
    (tmp_path / "discount.py").write_text(PROCESSOR)
    package = custom_package(tmp_path / "discount.py", "Discount", model=model, metadata={"threshold": 0.5},
                             outputs={"prediction": "bool", "churn": "float64", "discount": "float64"})
    archive = package.save_archive(tmp_path / "custom.zip")
    with pytest.raises(LoadFailed, match="runs its Python code"):
        ModelServer([ModelSpec("m", str(archive))])
    with pytest.raises(UnsafeModelError, match="trust=True"):
        load_model(archive)
    rows = pd.DataFrame({"age": [70.0, 20.0], "income": [-100.0, 3000.0]})
    answer = serve_one(archive, rows, trust=True)
    clipped = rows.assign(income=rows["income"].clip(lower=0))
    churn = estimator.predict_proba(clipped)[:, 1]
    assert answer["predictions"] == (churn > 0.5).tolist() == [True, False]
    assert answer["discount"] == [0.2, 0.0] and answer["churn"] == pytest.approx(churn.tolist())
    server = ModelServer([ModelSpec("m", str(archive), trust=True)])
    outputs = [(item.name, item.datatype) for item in server.repository.pick("m").processor.signature.outputs]
    assert outputs == [("prediction", "BOOL"), ("churn", "FP64"), ("discount", "FP64")]
