"""A node input can be a registered model: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``.

The reference resolves through the workspace's registry when the run starts; the resolved
version's content is part of the node's cache key, so moving the alias recomputes what reads it
(and moving it back finds the earlier outputs in the cache). A reference that names no model,
alias or version fails validation naming the node, the port and the reference.
"""

from __future__ import annotations

import pytest

from tidal.core import ValidationFailed
from tidal.pipeline import Pipeline, to_python
from tidal.runtime import run_pipeline

PIPELINE = """
tidal: 1
name: score-registered
nodes:
  - id: read
    component: io.read_csv
    params: {{path: iris.csv}}
  - id: score
    component: model.predict
    inputs: {{model: "{reference}", data: read}}
"""


@pytest.fixture
def registered(workspace):
    """Two versions of 'iris' (different regularisation, so different probabilities); production -> 1."""
    from sklearn.datasets import load_iris

    from tidal.components.classification import logistic_regression
    from tidal.models import ModelRegistry

    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame.to_csv(workspace.root / "iris.csv", index=False)
    registry = ModelRegistry(workspace)
    first = logistic_regression(frame, label="target", C=1.0)
    second = logistic_regression(frame, label="target", C=0.01)
    registry.register(first, "iris", alias="production")
    registry.register(second, "iris")
    return registry, {1: first, 2: second}, frame


def _run(workspace, reference: str):
    result = run_pipeline(Pipeline.from_yaml(PIPELINE.format(reference=reference)), workspace=workspace,
                          executor="inline")
    assert result.ok, result.summary()
    return result


def _probabilities(result):
    scored = result.output("score").to_pandas()
    return scored[["prob_0", "prob_1", "prob_2"]].to_numpy()


def test_an_alias_resolves_at_run_time_and_moving_it_recomputes(workspace, registered):
    import numpy as np

    registry, models, frame = registered
    first = _run(workspace, "models:/iris@production")
    np.testing.assert_allclose(_probabilities(first), models[1].predict_proba(frame), rtol=0, atol=1e-12)
    assert first.run.options["models"] == {"score.model": "models:/iris/1"}
    again = _run(workspace, "models:/iris@production")
    assert again.nodes["score"].cached and again.nodes["read"].cached

    registry.set_alias("iris", "production", 2)
    moved = _run(workspace, "models:/iris@production")
    assert moved.nodes["read"].cached and not moved.nodes["score"].cached
    np.testing.assert_allclose(_probabilities(moved), models[2].predict_proba(frame), rtol=0, atol=1e-12)
    assert moved.run.options["models"] == {"score.model": "models:/iris/2"}
    assert moved.to_dict()["models"] == {"score.model": "models:/iris/2"}

    registry.set_alias("iris", "production", 1)
    back = _run(workspace, "models:/iris@production")
    assert back.nodes["score"].cached and back.nodes["score"].source_run_id == first.id
    pinned = _run(workspace, "models:/iris/2")  # the same content as version 2 through the alias: cached
    assert pinned.nodes["score"].cached and pinned.nodes["score"].source_run_id == moved.id


@pytest.mark.parametrize(("reference", "code", "words"), [
    ("models:/iris@staging", "unknown_model", "model 'iris' has no alias 'staging'"),
    ("models:/churn@production", "unknown_model", "no registered model 'churn'"),
    ("models:/iris/7", "unknown_model", "model 'iris' has no version 7"),
    ("models:/../etc", "bad_model_reference", "model name '..' is not valid"),
])
def test_a_missing_model_fails_validation_naming_node_port_and_reference(workspace, registered, reference, code, words):
    with pytest.raises(ValidationFailed) as raised:
        run_pipeline(Pipeline.from_yaml(PIPELINE.format(reference=reference)), workspace=workspace, executor="inline")
    [issue] = raised.value.issues
    assert (issue.node, issue.port, issue.code) == ("score", "model", code)
    assert reference in issue.message and words in issue.message
    assert workspace.metadata.list_runs() == []  # refused before a run was recorded


def test_a_model_reference_on_a_table_input_is_a_type_mismatch(workspace, registered):
    text = PIPELINE.format(reference="models:/iris@production").replace("data: read", 'data: "models:/iris/1"')
    issues = Pipeline.from_yaml(text).validate()
    assert [(item.node, item.port, item.code) for item in issues] == [("score", "data", "type_mismatch")]


def test_the_python_dsl_and_the_yaml_file_carry_model_references(workspace, registered):
    from tidal.components.io import read_csv
    from tidal.components.model import predict

    with Pipeline("score-registered") as pipeline:
        table = read_csv(path="iris.csv", _id="read")
        predict("models:/iris@production", table, _id="score")
    assert str(pipeline.nodes["score"].inputs["model"]) == "models:/iris@production"
    assert pipeline.upstream("score") == {"read"}
    assert Pipeline.from_yaml(pipeline.to_yaml()).to_dict() == pipeline.to_dict()
    assert "model='models:/iris@production'" in to_python(pipeline)
    assert Pipeline.from_yaml(PIPELINE.format(reference="models:/iris@production")).to_dict() == pipeline.to_dict()


def test_a_resumed_run_reads_the_version_its_first_start_resolved(workspace, registered):
    import numpy as np

    from tidal.runtime import resume_run

    registry, models, frame = registered
    data = workspace.root / "iris.csv"
    data.rename(workspace.root / "away.csv")  # the first start fails at 'read'
    failed = run_pipeline(Pipeline.from_yaml(PIPELINE.format(reference="models:/iris@production")), workspace=workspace,
                          executor="inline")
    assert failed.status == "failed" and failed.run.options["models"] == {"score.model": "models:/iris/1"}
    registry.set_alias("iris", "production", 2)
    (workspace.root / "away.csv").rename(data)
    resumed = resume_run(failed.id, workspace=workspace, executor="inline")
    assert resumed.ok and resumed.run.options["models"] == {"score.model": "models:/iris/1"}
    np.testing.assert_allclose(_probabilities(resumed), models[1].predict_proba(frame), rtol=0, atol=1e-12)
