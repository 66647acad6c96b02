"""nn.network and nn.train: specs from files or inline, every mistake named before training, seeded
training, best-epoch weights and checkpoints, early stopping, going on training, and acceleration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tidal.core import DataError, TidalError, ValidationFailed, registry

torch = pytest.importorskip("torch")
from tidal.components.nn import network, train  # noqa: E402
from tidal.nn import _accelerate  # noqa: E402
from tidal.nn._flavor import state_from_bytes  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def mlp(out: int = 3, width: int = 4) -> dict:
    return {"tidal-nn": 1, "name": "iris-mlp", "inputs": {"x": {"shape": ["batch", width]}}, "layers": [
        {"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}},
        {"id": "act", "kind": "relu", "inputs": ["hidden"]},
        {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": out}}], "outputs": {"logits": "head"}}


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = [*FEATURES, "target"]
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame["target"]]
    return frame.drop(columns=["target"])


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def fit(data, **params):
    params.setdefault("spec", mlp())
    params.setdefault("threads", 1)
    return train(data, label="species", **params)


def test_network_reads_a_file_or_an_inline_spec_and_names_what_is_wrong():
    cnn = network(path=str(EXAMPLES / "digits_cnn.yaml"))
    assert cnn.features[0] == "image_0" and len(cnn.features) == 64 and cnn.metadata["input_tensor"]["shape"] == [1, 8, 8]
    assert network(spec=mlp()).features == ["x_0", "x_1", "x_2", "x_3"]
    with pytest.raises(TidalError, match="give the network one way"):
        network()
    with pytest.raises(TidalError, match="path and spec are both given"):
        network(path=str(EXAMPLES / "mlp.yaml"), spec=mlp())
    with pytest.raises(TidalError, match=r"input 'image' has shape \[batch, 1, h, w\].*symbolic: h, w"):
        network(path=str(EXAMPLES / "nested.yaml"))
    with pytest.raises(TidalError, match="takes 4 columns; 'features' names 2"):
        network(spec=mlp(), features=["a", "b"])


def test_train_names_the_output_layer_the_columns_and_the_parameters_at_fault(iris):
    with pytest.raises(DataError, match=r"output 'logits' \(layer 'head'\) gives \[batch, 2\], but label column 'species' has 3 classes.*out_features: 3"):
        fit(iris, spec=mlp(out=2))
    with pytest.raises(DataError, match=r"input 'x' \[5\] takes 5 columns per row, but the table gives 4 feature column\(s\)"):
        fit(iris, spec=mlp(width=5))
    with pytest.raises(DataError, match="must be numeric for loss 'mse'"):
        fit(iris, spec=mlp(out=1), loss="mse")
    with pytest.raises(TidalError, match="patience .* set validation_fraction above 0"):
        fit(iris, patience=2, validation_fraction=0)
    with pytest.raises(TidalError, match="path and input 'network' are both given"):
        train(iris, network(spec=mlp()), label="species", path=str(EXAMPLES / "mlp.yaml"))
    sklearn_model = registry.get("classification.logistic_regression")(iris, label="species")
    with pytest.raises(TidalError, match="must be a network .* got a sklearn model"):
        train(iris, sklearn_model, label="species")
    with pytest.raises(ValidationFailed, match="acceleration"):
        fit(iris, acceleration={"compile": "turbo"})


def test_training_is_seeded_keeps_the_best_epoch_and_its_checkpoint(iris):
    first = fit(iris, epochs=12, lr=0.02, batch_size=16, keep_checkpoints=12, seed=3)
    second = fit(iris, epochs=12, lr=0.02, batch_size=16, keep_checkpoints=12, seed=3)
    other = fit(iris, epochs=12, lr=0.02, batch_size=16, keep_checkpoints=12, seed=4)
    weights = first.model.model.state
    assert all(torch.equal(weights[key], second.model.model.state[key]) for key in weights)
    assert not all(torch.equal(weights[key], other.model.model.state[key]) for key in weights)
    report = first.report
    epochs = report.tables["epochs"]
    assert [row["epoch"] for row in epochs] == list(range(1, 13))
    best = min(epochs, key=lambda row: row["val_loss"])
    assert report["best_epoch"] == best["epoch"] and report["val_loss"] == best["val_loss"]
    assert sorted(first.model.model.checkpoints) == [f"epoch_{epoch:03d}.safetensors" for epoch in range(1, 13)]
    at_best = state_from_bytes(first.model.model.checkpoints[f"epoch_{best['epoch']:03d}.safetensors"])
    assert all(torch.equal(at_best[key], weights[key]) for key in weights), "the model holds the best epoch's weights"
    assert set(report.figures) == {"loss", "accuracy"} and report["acceleration"] == "eager+fp32"
    assert first.model.classes == ["setosa", "versicolor", "virginica"]
    assert (first.model.predict(iris) == iris["species"]).mean() > 0.8


def test_patience_stops_training_after_that_many_epochs_without_improvement(iris):
    result = fit(iris, epochs=200, lr=0.05, batch_size=16, patience=3, keep_checkpoints=2)
    report = result.report
    assert report["stopped_early"] is True
    assert report["epochs_run"] == report["best_epoch"] + 3 < 200
    assert sorted(result.model.model.checkpoints) == [f"epoch_{report['epochs_run'] - 1:03d}.safetensors",
                                                      f"epoch_{report['epochs_run']:03d}.safetensors"]


def test_train_takes_the_columns_the_network_was_made_with(iris):
    chosen = ["petal_width", "petal_length", "sepal_width", "sepal_length"]
    made = network(spec=mlp(), features=chosen)
    assert train(iris, made, label="species", epochs=1, threads=1).model.features == chosen
    assert train(iris, network(spec=mlp()), label="species", epochs=1, threads=1).model.features == FEATURES


def test_a_trained_network_goes_on_training_from_its_weights_and_scaling(iris):
    start = fit(iris, epochs=15, lr=0.02, batch_size=16)
    more = train(iris.iloc[::2], start.model, label="species", epochs=1, lr=0.02, batch_size=16, threads=1)
    fresh = fit(iris.iloc[::2], epochs=1, lr=0.02, batch_size=16)
    assert np.array_equal(more.model.model.mean, start.model.model.mean)
    assert more.report.tables["epochs"][0]["train_loss"] < 0.5 * fresh.report.tables["epochs"][0]["train_loss"]


def test_acceleration_off_and_fixed_choices_are_recorded(iris):
    plain = fit(iris, epochs=3, batch_size=16)
    bf16 = fit(iris, epochs=3, batch_size=16, acceleration={"precision": "bf16"})
    assert bf16.report["acceleration"] == "eager+bf16"
    ours, theirs = plain.report["train_loss"], bf16.report["train_loss"]
    assert ours != theirs and abs(ours - theirs) / ours < 0.05, "bf16 ran: close to float32, not equal"
    compiled = fit(iris, epochs=2, batch_size=16, acceleration={"compile": "eager"})
    assert compiled.report["acceleration"] == "compile:eager+fp32" and "acceleration_fallback" not in compiled.report
    assert "acceleration" not in plain.report.tables  # only auto measures
    bare_off = fit(iris, epochs=1, batch_size=16, acceleration=False)  # what YAML makes of `acceleration: off`
    assert bare_off.model.metadata["acceleration"] == {"requested": "off", "used": "eager+fp32"}


def test_auto_measures_every_candidate_and_trains_with_the_fastest_kept(iris, monkeypatch):
    monkeypatch.setattr(_accelerate, "AUTO_COMPILE_BACKEND", "eager")  # inductor compiles C++ for minutes
    monkeypatch.setattr(_accelerate, "AUTO_WARMUP_STEPS", 1)
    monkeypatch.setattr(_accelerate, "AUTO_MEASURED_STEPS", 2)
    result = fit(iris, epochs=2, batch_size=16, acceleration="auto")
    rows = result.report.tables["acceleration"]
    names = [row["candidate"] for row in rows]
    assert names[0] == "eager+fp32" and "compile:eager+fp32" in names
    assert ("eager+bf16" in names) == _accelerate.cpu_facts()["bf16_native"]
    kept = [row for row in rows if row["kept"]]
    chosen = [row for row in rows if row["chosen"]]
    fastest = min(kept, key=lambda row: row["ms_per_step"])
    worth_it = fastest["ms_per_step"] * _accelerate.AUTO_MIN_SPEEDUP <= rows[0]["ms_per_step"]
    assert len(chosen) == 1 and chosen[0] is (fastest if worth_it else rows[0])
    assert result.report["acceleration"] == chosen[0]["candidate"]
    assert rows[0]["loss_gap"] == 0.0 and all(row["loss_gap"] <= _accelerate.AUTO_LOSS_TOLERANCE for row in kept)
    assert result.model.metadata["acceleration"]["candidates"] == rows


def test_auto_leaves_eager_float32_only_for_a_clear_gain_within_the_loss_bound():
    def row(name, ms, gap):
        return {"candidate": name, "ms_per_step": ms, "loss_gap": gap, "kept": gap <= _accelerate.AUTO_LOSS_TOLERANCE,
                "chosen": False, "note": ""}

    rows = [row("eager+fp32", 10.0, 0.0), row("eager+bf16", 5.0, 0.2), row("compile:inductor+fp32", 6.0, 0.001)]
    assert _accelerate.choose(rows)["candidate"] == "compile:inductor+fp32"  # bf16 is faster but drifts
    close = [row("eager+fp32", 10.0, 0.0), row("eager+bf16", 9.5, 0.01)]
    assert _accelerate.choose(close)["candidate"] == "eager+fp32" and "not worth" in close[1]["note"]
    assert [item["chosen"] for item in close] == [True, False]


def test_a_compile_that_fails_is_recorded_and_training_goes_on_eagerly(iris, monkeypatch):
    def broken_compile(module, backend=None):
        def run(*args):
            raise RuntimeError("InductorError: no C++ compiler found\nmore detail")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    forced = fit(iris, epochs=2, batch_size=16, acceleration={"compile": True})
    assert forced.report["acceleration"] == "eager+fp32"
    assert forced.report["acceleration_fallback"] == "torch.compile failed, trained eagerly: RuntimeError: InductorError: no C++ compiler found"
    assert forced.report["epochs_run"] == 2
    monkeypatch.setattr(_accelerate, "AUTO_WARMUP_STEPS", 1)
    monkeypatch.setattr(_accelerate, "AUTO_MEASURED_STEPS", 2)
    rows = fit(iris, epochs=1, batch_size=16, acceleration="auto").report.tables["acceleration"]
    notes = {row["candidate"]: row["note"] for row in rows}
    assert "no C++ compiler found" in notes["compile:inductor+fp32"] and not any(
        row["kept"] for row in rows if row["candidate"].startswith("compile"))
