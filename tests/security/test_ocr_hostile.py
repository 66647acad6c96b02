"""Hostile images for vision.ocr: every one is refused by name before it costs memory or reaches the models."""

from __future__ import annotations

import struct
import zlib

import pandas as pd
import pytest

pytest.importorskip("rapidocr_onnxruntime")
PIL = pytest.importorskip("PIL")

from tidal.components.vision_ocr import ocr  # noqa: E402
from tidal.core import DataError, registry  # noqa: E402


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit grey) and whose data is a few bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    fake = tmp_path / "invoice.png"
    fake.write_text("name,total\nacme,12\n")
    with pytest.raises(DataError, match=r"row 0 \(file .*invoice\.png\) is not an image"):
        ocr(pd.DataFrame({"image": [str(fake)]}))
    with pytest.raises(DataError, match=r"file .*invoice\.png is not an image"):
        ocr(path=str(fake))


def test_a_missing_file_and_a_missing_cell_are_named(tmp_path):
    with pytest.raises(DataError, match=r"row 1 \(file scans/gone\.png\) does not exist"):
        ocr(pd.DataFrame({"image": [_png_header(4, 4), "scans/gone.png"]}))
    with pytest.raises(DataError, match=r"column 'image', row 0: expected an image file path or image bytes, got a missing value"):
        ocr(pd.DataFrame({"image": [None]}))
    with pytest.raises(DataError, match=r"no column 'picture'"):
        ocr(pd.DataFrame({"image": [b""]}), column="picture")


@pytest.mark.parametrize(("width", "height"), [(10_000, 9_000), (100_000, 100_000), (2**31 - 1, 2**31 - 1)])
def test_a_dimension_bomb_is_refused_from_its_header(width, height):
    """Over Pillow's MAX_IMAGE_PIXELS the image is refused before a pixel is decoded, whatever the header claims."""
    with pytest.raises(DataError, match=r"row 0 \(bytes\).*(more than|over the limit of) 89,478,485"):
        ocr(pd.DataFrame({"image": [_png_header(width, height)]}))


def test_a_truncated_image_is_named(tmp_path):
    from PIL import Image

    page = tmp_path / "page.png"
    Image.effect_noise((300, 300), 64).convert("RGB").save(page)
    cut = tmp_path / "cut.png"
    cut.write_bytes(page.read_bytes()[: page.stat().st_size // 2])
    with pytest.raises(DataError, match=r"file .*cut\.png: the image cannot be decoded .* is the file complete\?"):
        ocr(path=str(cut))


def test_no_parameter_chooses_a_model_file_or_configuration():
    """The models come from the installed package only: no parameter can point the engine elsewhere."""
    names = {param.name for param in registry.get("vision.ocr").params}
    assert names == {"column", "path", "pixel_threshold", "box_threshold", "unclip_ratio", "text_score",
                     "use_angle_classifier", "threads"}
    with pytest.raises(Exception, match="det_model_path"):
        registry.get("vision.ocr").execute({"data": pd.DataFrame({"image": []})}, {"det_model_path": "/tmp/evil.onnx"})
