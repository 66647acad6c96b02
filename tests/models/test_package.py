"""Model packages: every flavor reloads and predicts identically; pickle needs explicit trust."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

from tidal.core import DataError, UnsafeModelError
from tidal.models import ModelPackage, load_model


@pytest.fixture(scope="module")
def iris():
    frame = load_iris(as_frame=True).frame
    frame.columns = [name.replace(" (cm)", "").replace(" ", "_") for name in frame.columns]
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame.pop("target")]
    return frame


def features(frame):
    return [name for name in frame.columns if name != "species"]


def fitted(kind: str, frame: pd.DataFrame):
    X, y = frame[features(frame)], frame["species"]
    if kind == "sklearn":
        return RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    if kind == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, random_state=0).fit(X, y)
    import xgboost

    return xgboost.XGBClassifier(n_estimators=20, random_state=0).fit(X, pd.Categorical(y).codes)


@pytest.mark.parametrize("kind", ["sklearn", "lightgbm", "xgboost"])
def test_each_flavor_round_trips_with_the_same_predictions(kind, iris, tmp_path):
    estimator = fitted(kind, iris)
    package = ModelPackage.from_estimator(estimator, iris, features=features(iris), task="multiclass", label="species",
                                          classes=["setosa", "versicolor", "virginica"])
    assert package.flavor == kind
    folder = package.save(tmp_path / "model")
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["flavor"] == kind and manifest["classes"] == ["setosa", "versicolor", "virginica"]
    assert [item["name"] for item in manifest["signature"]["inputs"]] == features(iris)
    assert not list(folder.glob("*.pkl"))
    for loaded in (load_model(folder), load_model(package.save_archive(tmp_path / "model.zip"))):
        np.testing.assert_array_equal(loaded.predict(iris), package.predict(iris))
        np.testing.assert_allclose(loaded.predict_proba(iris), package.predict_proba(iris))
        assert set(loaded.predict(iris)) <= {"setosa", "versicolor", "virginica"}


def test_predict_selects_columns_by_name_and_names_missing_ones(iris):
    package = ModelPackage.from_estimator(fitted("sklearn", iris), iris, features=features(iris), task="multiclass", label="species")
    shuffled = iris[list(reversed(iris.columns))]
    np.testing.assert_array_equal(package.predict(shuffled), package.predict(iris))
    with pytest.raises(DataError, match="'petal_width'"):
        package.predict(iris.drop(columns=["petal_width"]))


def test_pickle_is_refused_unless_trusted(tmp_path):
    class Custom:
        def predict(self, frame):
            return np.zeros(len(frame))

    frame = pd.DataFrame({"a": [1.0, 2.0]})
    package = ModelPackage(model=LinearRegression().fit(frame, [1, 2]), task="regression", features=["a"], flavor="pickle")
    package.save(tmp_path / "p")
    with pytest.raises(UnsafeModelError, match="trust"):
        load_model(tmp_path / "p")
    assert load_model(tmp_path / "p", trust=True).predict(frame).shape == (2,)


class Unvetted:
    """A type from outside the safe module list."""

    def __init__(self) -> None:
        self.weights = [1.0, 2.0]


def test_skops_payload_with_unknown_types_needs_trust(tmp_path):
    import skops.io

    package = ModelPackage(model=LinearRegression().fit([[1.0], [2.0]], [1, 2]), task="regression", features=["a"])
    folder = package.save(tmp_path / "m")
    skops.io.dump(Unvetted(), folder / "model.skops")
    with pytest.raises(UnsafeModelError, match="Unvetted"):
        load_model(folder)
    assert load_model(folder, trust=True).model.weights == [1.0, 2.0]
