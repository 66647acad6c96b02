"""Fixtures for the optimization tests: small real models and their validation rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    frame.columns = [str(name) for name in frame.columns]
    return frame


@pytest.fixture(scope="session")
def digits_cnn(digits):
    """The example digits CNN, trained briefly (two epochs, one thread): a real torch package."""
    import tidal.nn as tnn

    spec = tnn.load_network(ROOT / "examples" / "nn" / "digits_cnn.yaml")
    settings = tnn.TrainSettings(epochs=2, threads=1, lr=0.003, seed=0)
    return tnn.train_network(spec, digits.iloc[:1200], label="target", settings=settings).package


@pytest.fixture(scope="session")
def digits_validation(digits) -> pd.DataFrame:
    return digits.iloc[1200:1400].reset_index(drop=True)


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    return frame


@pytest.fixture(scope="session")
def cancer_features(cancer) -> list[str]:
    return [name for name in cancer.columns if name != "target"]


@pytest.fixture(scope="session")
def lightgbm_package(cancer, cancer_features):
    import lightgbm

    from tidal.models import ModelPackage

    train = cancer.iloc[:400]
    estimator = lightgbm.LGBMClassifier(n_estimators=100, verbose=-1, random_state=0).fit(train[cancer_features], train["target"])
    return ModelPackage.from_estimator(estimator, train, features=cancer_features, task="binary", label="target")


@pytest.fixture(scope="session")
def pipeline_package(cancer, cancer_features):
    """A scikit-learn pipeline with matrix products (scaler + small MLP): INT8 applies to it."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tidal.models import ModelPackage

    train = cancer.iloc[:400]
    estimator = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=1000, random_state=0))
    estimator.fit(train[cancer_features], train["target"])
    return ModelPackage.from_estimator(estimator, train, features=cancer_features, task="binary", label="target")


@pytest.fixture(scope="session")
def cancer_validation(cancer) -> pd.DataFrame:
    return cancer.iloc[400:].reset_index(drop=True)


@pytest.fixture(scope="session")
def quick():
    """Few timed calls: the tests check what is measured and decided, never how fast."""
    from tidal.optimize import Timing

    return Timing(warmup=1, rounds=1, calls=3)
