"""Fixtures for the OCR tests: text rendered in Debian's fonts, and rapidocr's own engine built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ocr_pages import CJK_FONT, LATIN_FONT, render, require_fonts

pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("PIL")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Three rendered pages (Latin, Chinese, both), saved as PNG files: name -> (path, lines)."""
    require_fonts()
    folder = tmp_path_factory.mktemp("pages")
    made = {
        "latin": (["Quarterly report 2024", "Revenue: 1,250 EUR"], LATIN_FONT),
        "chinese": (["机器学习平台", "光学字符识别"], CJK_FONT),
        "mixed": (["Tidal 平台 v2"], CJK_FONT),
    }
    result = {}
    for name, (lines, font) in made.items():
        path = folder / f"{name}.png"
        render(lines, font).save(path)  # type: ignore[attr-defined]
        result[name] = (path, lines)
    return result


@pytest.fixture(scope="module")
def rapidocr_direct():
    """rapidocr-onnxruntime's own engine with its own defaults: the reference."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()
