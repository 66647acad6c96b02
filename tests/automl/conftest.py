"""AutoML fixtures: the test trainers, and the metadata URL over SQLite and a real PostgreSQL."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "support"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))

import automl_testing  # noqa: E402,F401 - registers testing_automl.* in this process


@pytest.fixture(scope="session")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="session")
def postgres_url():
    from servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tidal.db'}"
    import sqlalchemy

    base = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"
