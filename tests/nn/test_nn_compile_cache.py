"""The per-network compile cache: a second process training the same network compiles nothing cold;
another network gets another folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidal.nn._compile_cache import cache_root, network_key

SRC = Path(__file__).resolve().parents[2] / "src"
TRAIN = """
import json, sys
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from tidal.nn._spec import NetworkSpec
from tidal.nn._train import TrainSettings, train_network
width = int(sys.argv[1])
spec = NetworkSpec.from_dict({"tidal-nn": 1, "name": "tiny", "inputs": {"x": {"shape": ["batch", 3]}}, "layers": [
    {"id": "hidden", "kind": "linear", "inputs": ["x"], "params": {"out_features": width}},
    {"id": "head", "kind": "linear", "inputs": ["hidden"], "params": {"out_features": 2}}], "outputs": {"logits": "head"}})
rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(size=(64, 3)), columns=["a", "b", "c"])
frame["y"] = frame["a"] > 0
result = train_network(spec, frame, label="y", settings=TrainSettings(epochs=1, batch_size=32, validation_fraction=0,
                       threads=1, acceleration={"compile": "inductor"}))
print(json.dumps(result.acceleration["compile_cache"]))
"""


def train_in_a_new_process(cache: Path, width: int) -> dict:
    # inductor's own default folder (under TMPDIR) keeps only its precompiled header, which serves every
    # network: the graphs and kernels go to Tidal's folder for the network, so only it can make a rerun warm
    environment = {**os.environ, "PYTHONPATH": str(SRC), "TIDAL_COMPILE_CACHE": str(cache), "TMPDIR": str(cache.parent / "tmp")}
    Path(environment["TMPDIR"]).mkdir(exist_ok=True)
    environment.pop("TORCHINDUCTOR_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", TRAIN, str(width)], capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_rerun_of_the_same_network_in_a_new_process_hits_its_own_cache(tmp_path):
    pytest.importorskip("torch")
    cache = tmp_path / "compile"
    cold = train_in_a_new_process(cache, 8)
    warm = train_in_a_new_process(cache, 8)
    assert cold["misses"] > 0 and cold["hits"] == 0
    assert warm["hits"] == cold["misses"] and warm["misses"] == 0, warm
    assert warm["folder"] == cold["folder"] and Path(cold["folder"]).parent == cache
    assert (Path(cold["folder"]).stat().st_mode & 0o777) == 0o700 and (cache.stat().st_mode & 0o077) == 0
    assert not any(path.name in ("fxgraph", "aotautograd") for path in (cache.parent / "tmp").rglob("*"))


def test_the_key_ignores_nothing_that_changes_the_code_and_the_root_follows_the_environment(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    base = {"tidal-nn": 1, "name": "n", "layers": [{"id": "a", "kind": "relu", "inputs": ["x"]}]}
    assert network_key(base) == network_key(json.loads(json.dumps(base)))
    assert network_key(base) != network_key({**base, "layers": [{"id": "a", "kind": "gelu", "inputs": ["x"]}]})
    monkeypatch.setenv("TIDAL_COMPILE_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("TIDAL_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "tidal" / "compile"
