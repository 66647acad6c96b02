"""NNCF's accuracy control with a metric defined only on many rows (AUC, R²): the drop is judged on all the
validation rows, rows and layers are ranked by a per-row figure, and the bound holds on the result."""

from __future__ import annotations

import numpy as np
import pytest

from tidal.optimize._data import score


def test_auc_and_r2_rank_by_a_per_row_figure_and_are_judged_on_the_whole_set():
    from tidal.optimize._openvino import SUBSET_METRICS, WHOLE_SET_METRICS

    assert SUBSET_METRICS == ("accuracy", "log_loss", "rmse") and WHOLE_SET_METRICS == {"auc": "log_loss", "r2": "rmse"}


def test_the_digits_cnns_int8_is_accuracy_controlled_on_auc_within_the_allowed_drop(digits_cnn, digits_validation,
                                                                                   tmp_path):
    from tidal.models import export_model
    from tidal.optimize._openvino import graph_variants
    from tidal.optimize._variants import Context

    fp32 = tmp_path / "fp32.onnx"
    export_model(digits_cnn, fp32, format="onnx", data=digits_validation.drop(columns="target"), overwrite=True)
    context = Context(digits_cnn, fp32, digits_validation.drop(columns="target"), tmp_path, False, 1)
    truth = digits_validation["target"].to_numpy()
    baseline = score("auc", truth, digits_cnn.predict(context.frame), np.asarray(digits_cnn.predict_proba(context.frame)),
                     digits_cnn.classes)
    allowed = 0.002
    variants = graph_variants(context, "auc", truth, allowed)
    assert [variant.name for variant in variants] == ["openvino-fp32", "nncf-int8-onnx-ac"]
    controlled = variants[1]
    assert controlled.settings["max_drop"] == allowed and "auc is judged on all those rows" in controlled.note
    runner, path = controlled.make(context)
    labels, probabilities = runner.answer(context.frame)
    assert path is not None and path.exists() and probabilities is not None
    quantized = score("auc", truth, labels, probabilities, digits_cnn.classes)
    assert baseline - quantized <= allowed + 1e-9, (baseline, quantized)
    import onnx

    assert any(node.op_type == "QuantizeLinear" for node in onnx.load(str(path)).graph.node)  # still INT8 in part


@pytest.mark.parametrize("metric", ["auc", "r2"])
def test_without_a_bound_the_plain_recipe_is_named(metric, digits_cnn, digits_validation, tmp_path):
    from tidal.optimize._openvino import graph_variants
    from tidal.optimize._variants import Context

    context = Context(digits_cnn, tmp_path / "fp32.onnx", digits_validation, tmp_path, False, 1)
    assert graph_variants(context, metric, None, None)[1].name == "nncf-int8-onnx"
