"""Docs are tests: the python blocks of docs/ocr.md run, in order, in a fresh interpreter, offline."""

from __future__ import annotations

from guides import run_guide


def test_the_ocr_guide_runs_offline(tmp_path):
    assert "Paid" in run_guide("ocr.md", tmp_path).stdout
