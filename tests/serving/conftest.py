"""Fixtures for the serving tests: real models, and real servers on loopback in subprocesses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import postgres_server
from serving_helpers import IRIS_FEATURES, feature_names, running_server  # noqa: F401 - fixtures use them; tests import them from serving_helpers

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [name.replace(" ", "_") for name in frame.columns]
    return frame


@pytest.fixture(scope="session")
def lightgbm_archive(cancer, tmp_path_factory) -> Path:
    import lightgbm

    from tidal.models import ModelPackage

    features = feature_names(cancer)
    estimator = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0).fit(cancer[features], cancer["target"])
    package = ModelPackage.from_estimator(estimator, cancer, features=features, task="binary", label="target")
    return package.save_archive(tmp_path_factory.mktemp("models") / "cancer-lgb.zip")


@pytest.fixture(scope="session")
def regression_archives(tmp_path_factory) -> tuple[Path, Path]:
    """Two versions of a model of y = a * x: version 1 doubles, version 2 triples (easy to tell apart)."""
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    folder = tmp_path_factory.mktemp("linear")
    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    paths = []
    for factor in (2.0, 3.0):
        estimator = LinearRegression().fit(frame[["x"]], frame["x"] * factor)
        package = ModelPackage.from_estimator(estimator, frame, features=["x"], task="regression")
        paths.append(package.save_archive(folder / f"times{int(factor)}.zip"))
    return paths[0], paths[1]




@pytest.fixture(scope="session")
def iris() -> pd.DataFrame:
    """Iris with an integer feature (``petal_band``) and a text one (``garden``) beside the four measures:
    FP64, INT64 and BYTES inputs. The label ``species`` is text, so ``prediction`` is BYTES."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_")).drop(columns="target")
    frame["species"] = np.array(data.target_names)[data.target]
    frame["petal_band"] = (frame["petal_length"] // 2).astype(np.int64)
    frame["garden"] = np.random.default_rng(0).choice(["kew", "edinburgh", "wisley"], len(frame))
    return frame


@pytest.fixture(scope="session")
def iris_archive(iris, tmp_path_factory) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from tidal.models import ModelPackage

    columns = ColumnTransformer([("garden", OneHotEncoder(handle_unknown="ignore"), ["garden"])], remainder="passthrough")
    estimator = Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=1000))])
    estimator.fit(iris[IRIS_FEATURES], iris["species"])
    package = ModelPackage.from_estimator(estimator, iris, features=IRIS_FEATURES, task="multiclass", label="species")
    return package.save_archive(tmp_path_factory.mktemp("iris") / "iris.zip")


@pytest.fixture(scope="session")
def slow_archive(tmp_path_factory) -> Path:
    """A custom processor that sleeps 50 ms per call (needs --trust)."""
    from tidal.serving import custom_package

    package = custom_package(HERE / "slow_processor.py", "SlowDouble", inputs={"x": "float64"},
                             outputs={"prediction": "float64"}, task="regression", metadata={"delay_s": 0.05})
    return package.save_archive(tmp_path_factory.mktemp("slow") / "slow.zip")


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url


def fresh_postgres_database(base: str) -> str:
    import uuid

    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"
