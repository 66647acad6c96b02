"""Docs are tests: the python blocks of docs/text.md run, in order, in a fresh interpreter, offline."""

from __future__ import annotations

from guides import run_guide


def test_the_language_guide_runs_offline(tmp_path):
    assert "['pos' 'neg']" in run_guide("text.md", tmp_path).stdout
    assert (tmp_path / "review-probe" / "encoder" / "model.safetensors").is_file()
