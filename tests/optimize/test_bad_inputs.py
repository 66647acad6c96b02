"""What the search refuses, and how the command line says it: the flavor, the columns, the options."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tidal.models import ModelPackage
from tidal.optimize import OptimizeRefused, optimize_model


class Opaque:
    """Not a model any converter knows: stored as a pickle."""

    def predict(self, frame):
        return [0] * len(frame)


def test_an_unsupported_flavor_names_the_flavor_and_what_is_supported(cancer_validation, cancer_features):
    package = ModelPackage(model=Opaque(), task="binary", features=cancer_features, classes=[0, 1])
    with pytest.raises(OptimizeRefused, match="flavor 'pickle' cannot be optimized; supported flavors: sklearn, "
                                              "lightgbm, xgboost, torch, onnx"):
        optimize_model(package, cancer_validation, label="target")


def test_the_validation_table_must_hold_the_label_and_only_the_signature(lightgbm_package, cancer_validation):
    with pytest.raises(OptimizeRefused, match="no label column 'diagnosis'"):
        optimize_model(lightgbm_package, cancer_validation, label="diagnosis")
    with pytest.raises(OptimizeRefused, match=r"column\(s\) 'hospital', 'ward' that the model's signature does not name"):
        optimize_model(lightgbm_package, cancer_validation.assign(hospital=1, ward=2), label="target")
    with pytest.raises(OptimizeRefused, match="lacks the model's input column.*'mean_radius'"):
        optimize_model(lightgbm_package, cancer_validation.drop(columns="mean_radius"), label="target")
    with pytest.raises(OptimizeRefused, match="has no rows"):
        optimize_model(lightgbm_package, cancer_validation.iloc[:0], label="target")


def test_options_are_checked_before_anything_runs(lightgbm_package, cancer_validation):
    for options, message in [({"metric": "rmse"}, "metric 'rmse' does not apply to a binary model; choose one of accuracy"),
                             ({"target": "cuda"}, "target 'cuda' is not built yet"),
                             ({"batch_sizes": [0]}, "batch sizes must be whole numbers of 1 or more"),
                             ({"max_loss": "a bit"}, "max loss 'a bit' is not a number")]:
        with pytest.raises(OptimizeRefused, match=message):
            optimize_model(lightgbm_package, cancer_validation, label="target", **options)


def test_training_rows_and_pruning_options_are_checked_before_anything_runs(digits_cnn, digits, digits_validation):
    train = digits.iloc[:100]
    for options, message in [({"train": train.drop(columns="target")}, "the training rows have no label column 'target'"),
                             ({"train": train.drop(columns=["pixel_0_3", "pixel_7_7"])},
                              "the training rows lack 2 of the model's columns: pixel_0_3, pixel_7_7"),
                             ({"train": train.iloc[:3]}, "the training rows are 3; fine-tuning a pruned network needs at least 10"),
                             ({"train": [1, 2]}, "the training rows must be a table, got list"),
                             ({"prune": (0.5, 1.5)}, r"pruning ratios must be above 0 and below 1 \(got \[0.5, 1.5\]\)"),
                             ({"fine_tune_epochs": 0}, "fine-tuning epochs at least 1 \\(got 0\\)")]:
        with pytest.raises(OptimizeRefused, match=message):
            optimize_model(digits_cnn, digits_validation, label="target", **options)
    from tidal.optimize._prune_variants import parse_ratios

    assert parse_ratios("0.25, 0.5", "--prune") == (0.25, 0.5) and parse_ratios("", "--prune") == ()
    for text in ("half", "0.5,1"):
        with pytest.raises(OptimizeRefused, match=f"--prune '{text}'"):
            parse_ratios(text, "--prune")


def test_nothing_faster_within_the_bound_keeps_the_original_and_says_so(lightgbm_package, cancer_validation, quick):
    result = optimize_model(lightgbm_package, cancer_validation, label="target", timing=quick, min_gain=0.999)
    try:
        assert result.pick.kept_original and result.package is lightgbm_package
        assert result.report["kept_original"] and "the original model is kept" in result.report["reason"]
    finally:
        result.close()


def tidal(*args, cwd):
    env = {**os.environ, "TIDAL_WORKSPACE": str(cwd)}
    return subprocess.run([sys.executable, "-m", "tidal.cli", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_command_writes_the_package_and_report_registers_it_and_refuses_stray_columns(
        lightgbm_package, cancer_validation, tmp_path):
    lightgbm_package.save(tmp_path / "cancer")
    cancer_validation.to_csv(tmp_path / "rows.csv", index=False)
    cancer_validation.assign(patient_id=7).to_csv(tmp_path / "stray.csv", index=False)
    done = tidal("optimize", "cancer", "--data", "rows.csv", "--label", "target", "--batch", "4", "--budget", "1",
                 "--rounds", "1", "--calls", "2", "-o", "out", "--register", "cancer-fast", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["registered"] == "models:/cancer-fast/1" and report["batch_sizes"] == [4]
    assert (tmp_path / "out" / "model" / "MANIFEST.json").is_file() and (tmp_path / "out" / "report.html").is_file()
    refused = tidal("optimize", "models:/cancer-fast/1", "--data", "stray.csv", "--label", "target", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "column(s) 'patient_id' that the model's signature does not name" in refused.stderr
    assert not (tmp_path / "optimized-cancer-fast-1").exists()
