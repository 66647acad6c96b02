"""End to end: real models optimized on real rows, the result served, the report written."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import fields
from pathlib import Path

import httpx
import numpy as np
import pytest

from tidal.models import ModelPackage, load_model
from tidal.optimize import Variant, optimize_model, report_headline
from tidal.optimize._measure import OnnxRunner
from tidal.optimize._output import report_digest

ROOT = Path(__file__).resolve().parents[2]


class SlowedPackage(ModelPackage):
    """The same model, its own predict made slow: a baseline every variant beats, so the pick is certain."""

    def predict_proba(self, table):
        time.sleep(0.01)
        return super().predict_proba(table)


def slowed(package: ModelPackage) -> SlowedPackage:
    return SlowedPackage(**{item.name: getattr(package, item.name) for item in fields(ModelPackage) if item.init})


def served(folder, rows, name="optimized"):
    from tidal.serving import ModelServer, ModelSpec

    server = ModelServer([ModelSpec(name, str(folder))])

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.post(f"/api/predict/{name}", json=rows.to_dict(orient="records"))

    answer = asyncio.run(go())
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def cnn_result(digits_cnn, digits, digits_validation, quick):
    result = optimize_model(slowed(digits_cnn), digits_validation, label="target", max_loss="2%", batch_sizes=(1, 32),
                            timing=quick, source="models:/digits-cnn/1", train=digits.iloc[:1200], prune=(0.5,),
                            fine_tune_epochs=2)
    yield result
    result.close()


def test_the_digits_cnn_gets_an_onnx_package_with_lineage_and_a_full_report(cnn_result, tmp_path):
    result = cnn_result
    names = {item.name: item for item in result.measurements}
    assert result.pick.winner != "baseline" and result.package.flavor == "onnx"
    for expected in ("onnx-fp32", "onnx-fp32-basic", "int8-static-minmax-pc", "int8-dynamic", "int8-static-entropy-pc",
                     "int8-static-percentile-pc", "int8-static-qoperator", "onnx-fp32-t1"):
        assert names[expected].error is None, (expected, names[expected].error)
        assert set(names[expected].latency) == {1, 32} and names[expected].size_bytes
    assert names["openvino-fp32"].error is None and names["openvino-fp32"].loss == 0.0  # float32: the same answers
    assert names["openvino-fp32"].verdict.startswith("not packaged") and set(names["openvino-fp32"].latency) == {1, 32}
    nncf = names["nncf-int8-onnx-ac"]  # NNCF's accuracy-controlled INT8 of the same graph, at the search's bound
    assert nncf.error is None and nncf.packable and nncf.size_bytes < names["onnx-fp32"].size_bytes
    assert nncf.settings["max_drop"] == pytest.approx(result.pick.allowed_loss) and "accuracy drops at most" in nncf.note
    static = names["int8-static-minmax-pc"]
    assert static.size_bytes < names["onnx-fp32"].size_bytes and 0.9 < static.cosine_min <= 1.0 + 1e-9
    report = result.report
    assert report["graph"]["inputs"] == "one [N, 64] input 'tidal_features' in place of 64 column inputs"
    served = report["served"]["batch_sizes"]  # the winner's package and the original, both through predict
    assert set(served) == {"1", "32"} and all(item["speedup"] > 1 for item in served.values())
    assert "as served, through the packages' predict: " in report_headline(report)[1]
    assert names["onnx-fp32"].note == report["graph"]["inputs"]
    graph = OnnxRunner(result.files[result.pick.winner], list(result.source.features), True)
    assert [item.name for item in graph.session.get_inputs()] == ["tidal_features"] and graph.matrix
    assert report["cpu"]["flags"].keys() >= {"avx2", "avx512_vnni", "amx_int8"} and "load_average" in report["cpu"]
    assert {item["name"] for item in report["skipped"]} == {"torch-compile", "pruning fc2"}
    assert all(item["verdict"] for item in report["variants"])
    folder = result.save(tmp_path / "out")
    written = json.loads((folder / "report.json").read_text())
    lineage = load_model(folder / "model").lineage["optimized_from"]
    assert lineage["variant"] == result.pick.winner and lineage["source"] == "models:/digits-cnn/1"
    assert lineage["source_flavor"] == "torch" and lineage["report_sha256"] == report_digest(written)
    page = (folder / "report.html").read_text()
    assert "application/vnd.vegalite+json" in page and "<svg" in page and "http" not in page.replace(
        "https://vega.github.io/schema/vega-lite/v5.json", "")


def test_the_optimized_cnn_is_served_unchanged_and_answers_within_the_bound(cnn_result, digits_cnn, digits_validation, tmp_path):
    folder = cnn_result.save(tmp_path / "out")
    rows = digits_validation.drop(columns="target").iloc[:40]
    body = served(folder / "model", rows)
    original = digits_cnn.predict_proba(rows)
    agreement = np.mean(np.array(body["predictions"]) == original.argmax(axis=1))
    assert agreement >= 0.95
    probabilities = np.array([[row[str(label)] for label in digits_cnn.classes] for row in body["probabilities"]])
    assert np.abs(probabilities - original).max() < 0.2


def test_the_cnn_is_pruned_fine_tuned_and_measured_as_a_smaller_graph(cnn_result):
    names = {item.name: item for item in cnn_result.measurements}
    pruned = names["pruned-50"]
    assert pruned.error is None and pruned.family == "pruning" and set(pruned.latency) == {1, 32}
    assert pruned.settings["channels"] == {"conv1": "8 of 16", "conv2": "16 of 32", "fc1": "32 of 64"}
    assert pruned.settings["fine_tune_epochs"] == 2 and pruned.settings["fine_tune_rows"] == 1200
    assert pruned.note == "channels kept: conv1 8 of 16, conv2 16 of 32, fc1 32 of 64"
    # 13,738 learned numbers become 3,674 (conv2 4,640 -> 1,168, fc1 8,256 -> 2,080 ...): 40,256 bytes fewer
    assert pruned.size_bytes < names["onnx-fp32"].size_bytes - 4 * 9_000
    assert pruned.score is not None and pruned.score > 0.7  # fine-tuned: far above chance (0.1) on held-out rows
    skipped = {item.name: item.reason for item in cnn_result.skipped}
    assert skipped["pruning fc2"] == "its channels reach the network output through 'fc2'"
    if pruned.loss is not None and pruned.loss <= cnn_result.report["allowed_loss"]:
        assert "pruned-50-t1" in names  # within the bound: its thread counts are measured too


def test_a_network_of_blocks_under_modules_and_in_files_is_pruned_block_by_block(digits, digits_validation, tmp_path):
    import yaml

    import tidal.nn as tnn
    from tidal.optimize._prune_variants import pruning_variants
    from tidal.optimize._variants import Context

    folder = ROOT / "examples" / "nn"
    data = tnn.load_network(folder / "nested.yaml").to_dict()
    data["inputs"]["image"]["shape"] = ["batch", 1, 8, 8]
    spec = tnn.parse_network(yaml.safe_dump(data), base_dir=folder)
    train = digits.iloc[:300]
    package = tnn.train_network(spec, train, label="target",
                                settings=tnn.TrainSettings(epochs=1, threads=1, lr=0.003, seed=0)).package
    variants, skipped = pruning_variants(package, train, "target", ratios=(0.5,), epochs=1)
    assert {item.name: item.reason for item in skipped} == {
        "pruning head__fc": "its channels reach the network output through 'head__fc'"}
    runner, path = variants[0].make(Context(package, None, digits_validation, tmp_path, False, 1))
    assert variants[0].settings["channels"] == {"stem": "4 of 8", "block1__conv2": "4 of 8", "block2__conv2": "4 of 8",
                                                "block1__conv1": "4 of 8", "block2__conv1": "4 of 8"}
    labels, probabilities = runner.answer(digits_validation)
    assert path is not None and path.exists() and len(labels) == len(digits_validation)
    assert probabilities is not None and probabilities.shape == (len(digits_validation), 10)


def test_pruning_says_what_it_needs_when_it_cannot_run(digits_cnn, lightgbm_package):
    from tidal.optimize._prune_variants import pruning_variants

    variants, skipped = pruning_variants(digits_cnn, None, "target")
    assert variants == [] and skipped[0].name == "pruning"
    assert skipped[0].reason.startswith("give training rows (--train, or the train input of model.optimize)")
    assert "prunable layers: conv1, conv2, fc1" in skipped[0].reason
    assert pruning_variants(lightgbm_package, None, "target")[1][0].reason == (
        "only networks built with tidal.nn (layer specs) are pruned")


def test_a_lightgbm_model_gets_no_int8_and_says_why(lightgbm_package, cancer_validation, quick):
    result = optimize_model(lightgbm_package, cancer_validation, label="target", metric="auc", timing=quick)
    try:
        names = [item.name for item in result.measurements]
        assert names[:4] == ["baseline", "onnx-fp32", "onnx-fp32-basic", "onnx-fp32-extended"]
        assert not any(name.startswith("int8") for name in names)
        reasons = {item.name: item.reason for item in result.skipped}
        assert "no Conv, Gemm or MatMul nodes" in reasons["int8"]
        assert reasons["openvino"] == ("OpenVINO reads no ai.onnx.ml operators, and this graph runs "
                                       "TreeEnsembleClassifier")
        fp32 = next(item for item in result.measurements if item.name == "onnx-fp32")
        assert abs(fp32.loss) < 1e-3 and fp32.agreement == 1.0
        if result.pick.kept_original:  # the native booster was as fast: the original package comes back
            assert result.package is lightgbm_package and "original model is kept" in result.pick.reason
        else:
            assert result.package.flavor == "onnx"
    finally:
        result.close()


def test_a_sklearn_pipeline_is_quantized_and_a_slow_variant_is_never_picked(pipeline_package, cancer_validation, quick):
    class Sleepy:
        """The float32 graph's answers, after a nap: within the bound, always slower."""

        def __init__(self, runner):
            self.runner = runner

        def answer(self, frame):
            time.sleep(0.02)
            return self.runner.answer(frame)

    def make(context):
        return Sleepy(OnnxRunner(context.fp32, context.package.features, True)), context.fp32

    sleepy = Variant("sleepy", "test", {}, make)
    result = optimize_model(pipeline_package, cancer_validation, label="target", max_loss="5%", timing=quick, extra=[sleepy])
    try:
        names = {item.name: item for item in result.measurements}
        assert names["int8-dynamic"].error is None and names["int8-dynamic"].score is not None
        assert names["sleepy"].loss == 0.0 and result.pick.winner != "sleepy"
        assert names["sleepy"].verdict.startswith("lost: slower than the baseline")
    finally:
        result.close()


def test_fallback_keeps_the_costliest_layers_in_float32_when_int8_misses_a_tight_bound(pipeline_package, cancer_validation, quick):
    result = optimize_model(pipeline_package, cancer_validation, label="target", metric="log_loss", max_loss=0.0,
                            timing=quick)
    try:
        fallback = [item for item in result.measurements if item.family == "fallback"]
        statics = [item for item in result.measurements if item.family == "int8-static"]
        assert statics and all(item.loss is None or item.loss > 0 for item in statics if item.settings.get("qdq"))
        assert fallback and all(item.settings["exclude"] for item in fallback)
        assert "in float32" in fallback[0].note
    finally:
        result.close()


def test_a_spent_budget_skips_what_is_left_and_says_so(lightgbm_package, cancer_validation, quick):
    result = optimize_model(lightgbm_package, cancer_validation, label="target", budget_minutes=0, timing=quick)
    try:
        assert [item.name for item in result.measurements] == ["baseline"]
        assert result.pick.kept_original and result.package is lightgbm_package
        assert {item.reason for item in result.skipped if item.name.startswith("onnx")} == {
            "the time budget was spent before this variant was built"}
    finally:
        result.close()


def test_the_served_package_applies_the_session_options_it_records_and_refuses_bad_ones(cnn_result, tmp_path):
    from tidal.core import TidalError

    folder = cnn_result.save(tmp_path / "out") / "model"
    settings = json.loads((folder / "onnx.json").read_text())
    assert set(settings["session"]) <= {"graph_level", "threads", "arena"}
    settings["session"] = {"graph_level": "basic", "threads": 1, "arena": False}
    (folder / "onnx.json").write_text(json.dumps(settings))
    options = load_model(folder).model.session.get_session_options()
    assert options.intra_op_num_threads == 1 and not options.enable_cpu_mem_arena
    settings["session"] = {"threads": "all of them"}
    (folder / "onnx.json").write_text(json.dumps(settings))
    with pytest.raises(TidalError, match="onnx.json 'session'"):
        load_model(folder)
