"""A compile cache holds code that PyTorch loads and runs: a folder others may write to is refused
before anything is compiled into it or loaded from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
from tidal.nn._compile_cache import UnsafeCache  # noqa: E402
from tidal.nn._spec import NetworkSpec  # noqa: E402
from tidal.nn._train import TrainSettings, train_network  # noqa: E402


def test_a_world_writable_compile_cache_is_refused_with_the_fix(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TIDAL_COMPILE_CACHE", str(shared))
    spec = NetworkSpec.from_dict({"tidal-nn": 1, "name": "tiny", "inputs": {"x": {"shape": ["batch", 2]}},
                              "layers": [{"id": "head", "kind": "linear", "inputs": ["x"], "params": {"out_features": 1}}],
                              "outputs": {"y": "head"}})
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 2)), columns=["a", "b"])
    frame["t"] = frame["a"] * 2.0
    with pytest.raises(UnsafeCache, match=r"may be written by other users .*chmod go-w"):
        train_network(spec, frame, label="t", settings=TrainSettings(loss="mse", epochs=1, batch_size=8, threads=1,
                                                                      acceleration={"compile": "eager"}))
    assert list(shared.iterdir()) == []
