"""Docs are tests: the python blocks of docs/speech.md run, in order, in a fresh interpreter, offline."""

from __future__ import annotations

from guides import run_guide


def test_the_speech_guide_runs_offline(tmp_path):
    assert "duration" in run_guide("speech.md", tmp_path).stdout
