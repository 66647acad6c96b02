"""Docs are tests: the python blocks of docs/vision.md run, in order, in a fresh interpreter, offline."""

from __future__ import annotations

from guides import run_guide


def test_the_vision_guide_runs_offline(tmp_path):
    output = run_guide("vision.md", tmp_path, blocks=4).stdout
    assert "{'name': 'image', 'shape': [1, 8, 8]}" in output
    assert "['5', '6', '7', '8', '9']" in output and "query_label" in output
    assert "{'mode': 'L', 'height': 8, 'width': 8, 'fit': 'stretch', 'resample': 'bilinear', 'white': 1.0}" in output
