"""Optical character recognition with PP-OCR (text detection, direction, recognition), offline.

The models are those of ``rapidocr-onnxruntime`` (PP-OCRv4 detection and Chinese/English
recognition, run by onnxruntime), loaded only from the installed package: ``pip install
'tidal-ml[ocr]'``; nothing downloads. Results equal rapidocr called directly on the same image with
the same thresholds. See ``docs/ocr.md``.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd

from tidal.core import InputFile, Param, component

#: one line of printed text per sample image (rendered by the conformance samples)
_SAMPLE = {"sample": "text_images", "sample_params": {"path": None, "threads": 1}}
OCR_COLUMNS = ["row", "image", "line", "text", "score", "x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"]


@component("vision.ocr", title="OCR (PP-OCR)", tags=_SAMPLE, resources={"memory": "1GiB"})
def ocr(
    data: pd.DataFrame | None = None,
    *,
    column: Annotated[str, Param(help="the image column: file paths (relative to the workspace) or encoded image "
                                      "bytes (PNG, JPEG, TIFF, BMP, WebP ...)")] = "image",
    path: Annotated[InputFile | None, Param(help="one image file, instead of a table on 'data'")] = None,
    pixel_threshold: Annotated[float, Param(gt=0, lt=1, help="detection: a pixel whose text probability is above this "
                                                             "belongs to text")] = 0.3,
    box_threshold: Annotated[float, Param(gt=0, lt=1, help="detection: a box is kept when its mean text probability is "
                                                           "above this")] = 0.5,
    unclip_ratio: Annotated[float, Param(ge=1, le=4, help="detection: how far a box grows around its text (larger: "
                                                          "looser boxes)")] = 1.6,
    text_score: Annotated[float, Param(ge=0, le=1, help="recognition: lines recognised with a lower confidence are "
                                                        "dropped")] = 0.5,
    use_angle_classifier: Annotated[bool, Param(help="turn lines printed upside down before reading them")] = True,
    threads: Annotated[int | None, Param(ge=1, le=256, help="CPU threads for onnxruntime; empty: all cores")] = None,
) -> pd.DataFrame:
    """Find and read the lines of text in images: one row per line, with its text, confidence and box.

    Each image goes through PP-OCR's three models as rapidocr runs them: the detector marks text
    pixels (``pixel_threshold``) and outlines lines (``box_threshold``, ``unclip_ratio``), the
    direction classifier turns upside-down lines, and the recogniser reads each line (Chinese and
    English characters, digits, punctuation); lines read with a confidence under ``text_score``
    are dropped. Rows come in reading order (top to bottom, left to right): ``row`` is the
    position of the image in ``data`` (0 for ``path``), ``image`` its path (empty for bytes),
    ``line`` the line's number in its image, ``score`` the recogniser's confidence (0 to 1) and
    ``x1, y1 ... x4, y4`` the corners of the line's box in pixels (top-left, top-right,
    bottom-right, bottom-left). An image without text adds no rows. An image that cannot be read
    or is over 89.5 million pixels fails the node, naming it.

    Examples
    --------
    >>> import io
    >>> from PIL import Image, ImageDraw, ImageFont
    >>> page = Image.new("RGB", (240, 120), "white")
    >>> draw = ImageDraw.Draw(page)
    >>> draw.text((12, 10), "Invoice", fill="black", font=ImageFont.load_default(size=36))
    >>> draw.text((12, 62), "2024", fill="black", font=ImageFont.load_default(size=36))
    >>> encoded = io.BytesIO()
    >>> page.save(encoded, format="PNG")
    >>> lines = ocr(pd.DataFrame({"image": [encoded.getvalue()]}))
    >>> lines["text"].tolist(), lines[["row", "line"]].values.tolist()
    (['Invoice', '2024'], [[0, 0], [0, 1]])
    >>> bool(lines["score"].min() > 0.9), bool(lines["y1"].iloc[1] > lines["y3"].iloc[0] - 5)
    (True, True)
    """
    from tidal.components._media_inputs import media_inputs
    from tidal.components._ocr_engine import BOX_COLUMNS, OcrSettings, engine, read_image, recognise

    inputs = media_inputs(data, path, column, "image")
    settings = OcrSettings(pixel_threshold=pixel_threshold, box_threshold=box_threshold, unclip_ratio=unclip_ratio,
                           text_score=text_score, use_angle_classifier=use_angle_classifier, threads=threads)
    rows: list[list[object]] = []
    if inputs:
        reader = engine(settings)
        for item in inputs:
            image = read_image(item)
            for line, (box, text, score) in enumerate(recognise(reader, image)):
                corners = [float(value) for point in box for value in point]
                rows.append([max(item.row, 0), item.path, line, text, score, *corners])
    table = pd.DataFrame(rows, columns=OCR_COLUMNS)
    types = {"row": "int64", "line": "int64", "score": "float64", **dict.fromkeys(BOX_COLUMNS, "float64")}
    return table.astype(types)
