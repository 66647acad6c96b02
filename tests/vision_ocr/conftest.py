"""Fixtures for the OCR tests: text rendered in Debian's fonts, and rapidocr's own engine built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("PIL")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def fonts_or_skip() -> None:
    missing = [str(font) for font in (LATIN_FONT, CJK_FONT) if not font.is_file()]
    if missing:
        pytest.skip(f"missing fonts {missing}: run scripts/system-deps.sh (fonts-dejavu-core, fonts-wqy-zenhei)")


def render(lines: list[str], font_path: Path, size: int = 28, width: int = 380) -> object:
    """A white page with ``lines`` in black, one under the other.

    Pages are nearly square: rapidocr scales an image's short side up to 736 pixels for detection,
    so a wide strip of text costs several times the work of the same text on a squarer page.
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    page = Image.new("RGB", (width, max(width * 3 // 4, 24 + int(size * 1.8) * len(lines))), "white")
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((20, 12 + int(size * 1.8) * index), line, fill="black", font=font)
    return page


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Three rendered pages (Latin, Chinese, both), saved as PNG files: name -> (path, lines)."""
    fonts_or_skip()
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
