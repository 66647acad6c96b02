"""The model registry on SQLite and on a real PostgreSQL server (one suite, both backends)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from servers import postgres_server  # noqa: E402

import tidal  # noqa: E402
from tidal.core import NotFound, TidalError  # noqa: E402
from tidal.models import ModelPackage, ModelRegistry, parse_model_uri, resolve_model_uri  # noqa: E402
from tidal.store import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def postgres_base():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace_on(request, tmp_path):
    if request.param == "sqlite":
        ws = Workspace.open(tmp_path)
    else:
        import uuid

        import sqlalchemy

        base = request.getfixturevalue("postgres_base")
        name = f"r_{uuid.uuid4().hex[:10]}"
        engine = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        ws = Workspace.open(tmp_path, db=base.rsplit("/", 1)[0] + f"/{name}")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def iris_models():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    features = [name for name in frame.columns if name != "target"]
    models = []
    for c in (0.1, 1.0):
        estimator = LogisticRegression(C=c, max_iter=500).fit(frame[features], frame["target"])
        models.append(ModelPackage.from_estimator(estimator, frame, features=features, task="multiclass", label="target"))
    return frame, models


def test_versions_count_up_and_remember_lineage(workspace_on, iris_models):
    frame, (first, second) = iris_models
    registry = ModelRegistry(workspace_on)
    first.lineage = {"run_id": "run-1", "node_id": "train"}
    one = registry.register(first, "iris", description="C=0.1", tags={"team": "growth"})
    two = registry.register(second, "iris", alias="staging")
    assert (one.version, two.version) == (1, 2)
    assert (one.run_id, one.node_id) == ("run-1", "train") and two.run_id is None
    assert one.flavor == "sklearn" and one.task == "multiclass" and one.tags == {"team": "growth"}
    assert one.uri.startswith("objects/") and one.uri.endswith(".model.zip")  # relative to the store: portable
    assert workspace_on.artifacts.full_uri(one.uri).startswith(workspace_on.artifacts_uri)
    assert [item.version for item in registry.versions("iris")] == [1, 2]
    listed = registry.list_models()
    assert [(item.name, item.latest_version, item.aliases) for item in listed] == [("iris", 2, {"staging": 2})]
    loaded = registry.load("models:/iris/1")
    assert loaded.predict(frame).tolist() == first.predict(frame).tolist()
    assert loaded.lineage == {"run_id": "run-1", "node_id": "train"}


def test_aliases_move_resolve_and_delete(workspace_on, iris_models):
    _, (first, second) = iris_models
    registry = ModelRegistry(workspace_on)
    registry.register(first, "iris", alias="production")
    registry.register(second, "iris")
    assert registry.resolve("models:/iris@production").version == 1
    assert registry.resolve("models:/iris").version == 2
    registry.set_alias("iris", "production", 2)
    registry.set_alias("iris", "rollback", 1)
    assert registry.resolve("models:/iris@production").version == 2
    assert registry.get_version("iris", 1).aliases == ["rollback"]
    registry.delete_alias("iris", "rollback")
    with pytest.raises(NotFound, match="has no alias 'rollback' \\(aliases: production\\)"):
        registry.resolve("models:/iris@rollback")
    with pytest.raises(NotFound, match="has no alias 'rollback'"):
        registry.delete_alias("iris", "rollback")
    with pytest.raises(NotFound, match="has no version 7; it has 1, 2"):
        registry.set_alias("iris", "production", 7)
    with pytest.raises(NotFound, match="no registered model 'nope'"):
        registry.resolve("models:/nope@production")


def test_tags_and_descriptions(workspace_on, iris_models):
    _, (first, _) = iris_models
    registry = ModelRegistry(workspace_on)
    registry.register(first, "iris", tags={"a": "1"})
    registry.update_model("iris", description="flowers", tags={"owner": "ml"})
    registry.update_version("iris", 1, tags={"b": "2"}, description="first")
    assert registry.get_model("iris").description == "flowers" and registry.get_model("iris").tags == {"owner": "ml"}
    version = registry.get_version("iris", 1)
    assert version.tags == {"a": "1", "b": "2"} and version.description == "first"


def test_the_same_archive_twice_is_one_version_and_paths_register(workspace_on, iris_models, tmp_path):
    _, (first, _) = iris_models
    registry = ModelRegistry(workspace_on)
    archive = first.save_archive(tmp_path / "iris.zip")
    folder = first.save(tmp_path / "iris-folder")
    assert registry.register(archive, "iris").version == 1
    assert registry.register(archive, "iris").version == 1
    assert registry.register(folder, "iris").version == 2
    with pytest.raises(TidalError, match="not a model package"):
        (tmp_path / "junk.zip").write_bytes(b"junk")
        registry.register(tmp_path / "junk.zip", "iris")


def test_concurrent_registrations_get_distinct_versions(workspace_on, iris_models, tmp_path):
    _, (first, _) = iris_models
    archives = []
    for index in range(6):
        first.metadata = {"copy": index}  # different bytes, so six distinct versions
        archives.append(first.save_archive(tmp_path / f"m{index}.zip"))
    first.metadata = {}
    errors: list[Exception] = []

    def register(path: Path) -> None:
        try:
            ModelRegistry(workspace_on).register(path, "busy")
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=register, args=(path,)) for path in archives]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [item.version for item in ModelRegistry(workspace_on).versions("busy")] == [1, 2, 3, 4, 5, 6]


def test_register_from_a_pipeline_run(workspace_on, iris_models, tmp_path):
    frame, _ = iris_models
    frame.to_csv(tmp_path / "iris.csv", index=False)
    from tidal.components.classification import logistic_regression
    from tidal.components.io import read_csv

    with tidal.Pipeline("iris") as pipeline:
        data = read_csv(path=str(tmp_path / "iris.csv"))
        logistic_regression(data, label="target")
    result = tidal.run(pipeline, workspace=workspace_on, workers=0)
    assert result.status == "succeeded"
    train = [node for node in result.nodes if node != "read_csv"][0]
    registry = ModelRegistry(workspace_on)
    version = registry.register_from_run(result.id, train, "iris", alias="production")
    assert (version.run_id, version.node_id, version.version) == (result.id, train, 1)
    assert version.uri == workspace_on.metadata.artifacts(result.id, train)[0].uri  # no copy: the run's artifact
    with pytest.raises(NotFound, match="produced no model"):
        registry.register_from_run(result.id, "read_csv", "iris")
    path = resolve_model_uri("models:/iris@production", workspace_on)
    assert tidal.load_model(path).task == "multiclass"


def test_uris_parse_and_bad_names_are_refused():
    assert parse_model_uri("models:/churn@production").alias == "production"
    assert parse_model_uri("models:/churn/3").version == 3
    assert str(parse_model_uri("models:/churn")) == "models:/churn"
    for bad, message in [("models:/churn/0", "positive whole number"), ("models:/bad name", "not valid"),
                         ("models:/churn@9", "not valid"), ("churn", "not a registry URI")]:
        with pytest.raises(TidalError, match=message):
            parse_model_uri(bad)
    with pytest.raises(NotFound, match="no model package at /no/such"):
        resolve_model_uri("/no/such/model.zip")
