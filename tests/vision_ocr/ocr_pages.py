"""Text pages rendered in Debian's fonts for the OCR tests."""

from __future__ import annotations

from pathlib import Path

import pytest

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def require_fonts() -> None:
    missing = [str(font) for font in (LATIN_FONT, CJK_FONT) if not font.is_file()]
    if missing:
        pytest.fail(f"missing fonts {missing}: run scripts/system-deps.sh (fonts-dejavu-core, fonts-wqy-zenhei; make test does)")


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
