"""Docs are tests: the python blocks of docs/rl.md run, in order, in a fresh interpreter."""

from __future__ import annotations

from guides import run_guide


def test_the_rl_guide_runs(tmp_path):
    run_guide("rl.md", tmp_path, prelude="import torch\ntorch.set_num_threads(1)\n")
    assert (tmp_path / "cartpole-policy" / "policy.safetensors").is_file()
