"""The views, the parameter edits, the display seam and the notebook exports, without a kernel."""

from __future__ import annotations

import json

import pytest

import tidal
from tidal.cli._demo import DEMO_PIPELINE
from tidal.notebook import mimebundle, static_html, to_marimo, to_notebook, view_of
from tidal.notebook._layout import graph_section
from tidal.notebook._widget import EditRejected, apply_edit


@pytest.fixture
def pipeline():
    return tidal.Pipeline.from_yaml(DEMO_PIPELINE)


def test_the_graph_is_layered_left_to_right(pipeline):
    graph = graph_section(pipeline)
    x = {node["id"]: node["x"] for node in graph["nodes"]}
    assert x["read"] < x["split"] < x["train"] < x["score"] < x["eval"]
    assert {(edge["from"], edge["to"]) for edge in graph["edges"]} == {
        ("read", "split"), ("split", "train"), ("train", "score"), ("split", "score"), ("score", "eval")}
    assert all(node["x"] + graph["node_width"] <= graph["width"] for node in graph["nodes"])


def test_objects_display_through_the_seam_without_a_kernel(pipeline):
    bundle = pipeline._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}  # no widget where no front end renders one
    assert 'data-tidal-kind="pipeline"' in bundle["text/html"] and "<svg" in bundle["text/html"]
    assert pipeline._repr_html_() == static_html(pipeline)
    assert mimebundle(tidal.Metrics({"auc": 0.9}))["text/html"].count("auc") == 1
    with pytest.raises(TypeError, match="cannot show a int"):
        view_of(3)


def test_an_edit_is_validated_by_the_component_then_applied(pipeline):
    assert apply_edit(pipeline, "train", "C", 0.5) == "train.C = 0.5"
    assert pipeline.nodes["train"].params["C"] == 0.5
    with pytest.raises(EditRejected, match=r"train\.C"):
        apply_edit(pipeline, "train", "C", -1)
    with pytest.raises(EditRejected, match="no parameter 'nope'"):
        apply_edit(pipeline, "train", "nope", 1)
    with pytest.raises(EditRejected, match="no node 'ghost'"):
        apply_edit(pipeline, "ghost", "C", 1)
    assert pipeline.nodes["train"].params["C"] == 0.5


def test_metrics_figures_become_charts():
    metrics = tidal.Metrics({"auc": 0.9}, figures={"roc": {"title": "ROC", "data": {"values": [
        {"fpr": 0.0, "tpr": 0.0}, {"fpr": 1.0, "tpr": 1.0}]}, "mark": "line", "encoding": {
        "x": {"field": "fpr", "type": "quantitative"}, "y": {"field": "tpr", "type": "quantitative"}}}})
    chart = view_of(metrics)["sections"][1]
    assert chart["type"] == "chart" and chart["series"][0]["points"] == [[0.0, 0.0], [1.0, 1.0]]


def test_a_network_lists_layers_with_inferred_shapes():
    import tidal.nn

    spec = tidal.nn.parse_network(
        "tidal-nn: 1\nname: tiny\ninputs: {x: {shape: [batch, 4]}}\n"
        "layers:\n  - {id: fc, kind: linear, inputs: [x], params: {out_features: 3}}\noutputs: [fc]\n")
    layers = next(section for section in view_of(spec)["sections"] if section.get("title") == "Layers")
    assert layers["rows"][0][:2] == ["fc", "linear"] and "3" in layers["rows"][0][-1]


def test_exports_build_the_same_pipeline(pipeline, tmp_path):
    notebook = json.loads(to_notebook(pipeline))
    code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert "tnb.run(pipeline)" in code and "result.output('eval')" in code
    app = to_marimo(pipeline)
    compile(app, "app.py", "exec")
    namespace: dict = {}
    source = "\n".join("".join(notebook["cells"][index]["source"]) for index in (1, 2))
    exec(compile(source, "nb", "exec"), namespace)
    assert namespace["pipeline"].to_dict()["nodes"] == pipeline.to_dict()["nodes"]


def test_the_examples_are_what_tidal_export_writes():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    pipeline = tidal.load_pipeline(examples / "notebook_demo.yaml")
    stored = json.loads((examples / "notebook_demo.ipynb").read_text())
    fresh = json.loads(to_notebook(pipeline))
    assert [cell["source"] for cell in stored["cells"]] == [cell["source"] for cell in fresh["cells"]]
    assert (examples / "notebook_demo_marimo.py").read_text() == to_marimo(pipeline)


def test_a_study_shows_its_trials_and_the_best_so_far(workspace):
    from sklearn.datasets import load_breast_cancer

    from tidal.automl import create_study

    frame = load_breast_cancer(as_frame=True).frame
    study = create_study(frame, trainer="classification.logistic_regression", label="target", strategy="random", budget=3,
                         metric="auc", workspace=workspace, seed=1)
    study.optimize(workers=0, executor="inline")
    shown = view_of(study)
    assert shown["kind"] == "study"
    facts = dict(shown["sections"][0]["items"])
    assert facts["trials"] == "3 of 3" and facts["best value"] == study.refresh().best_value
    chart = next(section for section in shown["sections"] if section["type"] == "chart")
    values = [point[1] for point in chart["series"][0]["points"]]
    best = [point[1] for point in chart["series"][1]["points"]]
    assert best == [max(values[: index + 1]) for index in range(len(values))]   # best so far, never worse
    rows = next(section for section in shown["sections"] if section["type"] == "table")["rows"]
    assert [row[0] for row in rows] == [0, 1, 2] and all(row[1] == "succeeded" for row in rows)
    html = static_html(study)
    assert 'data-tidal-kind="study"' in html and "<script" not in html and "best so far" in html
