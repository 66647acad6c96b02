"""Data-parallel training (acceleration: {parallel: ddp}): two gloo processes train the same model as one
process does, to float rounding, even when a batch does not split evenly; a failing process is reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tidal.core import TidalError
from tidal.nn._accelerate import Variant, parse_acceleration

SPEC = {"tidal-nn": 1, "name": "iris-mlp", "inputs": {"x": {"shape": ["batch", 4]}}, "layers": [
    {"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}},
    {"id": "act", "kind": "relu", "inputs": ["hidden"]},
    {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 3}}], "outputs": {"logits": "head"}}


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame


def train(torch, iris, acceleration, **settings):
    from tidal.nn._spec import NetworkSpec
    from tidal.nn._train import TrainSettings, train_network

    options = {"epochs": 4, "batch_size": 15, "lr": 0.05, "optimizer": "sgd", "threads": 1, **settings}
    return train_network(NetworkSpec.from_dict(SPEC), iris, label="target",
                         settings=TrainSettings(acceleration=acceleration, **options))


def test_two_processes_train_the_same_model_as_one(torch, iris):
    # 135 training rows in batches of 15: each batch splits 8 / 7, and the last epoch's batches too
    alone = train(torch, iris, "off")
    parallel = train(torch, iris, {"parallel": "ddp", "processes": 2})
    assert parallel.acceleration["used"] == "ddp:2+eager+fp32" and parallel.acceleration["processes"] == 2
    for name, weights in alone.package.model.state.items():
        assert np.abs(weights.numpy() - parallel.package.model.state[name].numpy()).max() <= 1e-5, name
    for ours, theirs in zip(alone.history, parallel.history, strict=True):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
    assert parallel.package.model.checkpoints.keys() == alone.package.model.checkpoints.keys()
    frame = iris.drop(columns=["target"])
    assert list(parallel.package.predict(frame)) == list(alone.package.predict(frame))


def test_a_failing_process_is_reported_with_its_first_error_line(torch, iris):
    from tidal.nn._ddp import ParallelTrainingFailed

    with pytest.raises(ParallelTrainingFailed, match=r"process [01] of 2: DataError: epoch 1 trained on no batch: batch_size 3 .* over 2 processes"):
        train(torch, iris, {"parallel": "ddp", "processes": 2}, batch_size=3)


@pytest.mark.parametrize(("value", "message"), [
    ({"parallel": "mpi"}, "parallel must be ddp or none"),
    ({"parallel": "ddp", "processes": 1}, "processes must be a whole number from 2 to 64"),
    ({"parallel": "ddp", "processes": "4"}, "processes must be a whole number"),
    ({"processes": 2}, "processes needs parallel: ddp"),
    ({"parallel": "ddp", "compile": True}, "parallel ddp with compile is not supported"),
    ({"parallel": "ddp", "threads": 2}, "not threads"),
])
def test_parallel_settings_are_checked_before_anything_starts(value, message):
    with pytest.raises(TidalError, match=message):
        parse_acceleration(value)
    assert parse_acceleration({"parallel": "ddp"}) == Variant(None, "fp32", 2)
