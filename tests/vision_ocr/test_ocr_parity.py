"""vision.ocr equals rapidocr called directly, on Latin and Chinese text rendered in Debian's fonts."""

from __future__ import annotations

import pandas as pd
import pytest
from ocr_pages import LATIN_FONT, render, require_fonts

from tidal.components.vision_ocr import OCR_COLUMNS, ocr


def _direct(engine, path) -> list[tuple[str, float, list[float]]]:
    result, _ = engine(str(path))
    return [(text, float(score), [float(v) for point in box for v in point]) for box, text, score in (result or [])]


def _ours(lines: pd.DataFrame) -> list[tuple[str, float, list[float]]]:
    return [(row.text, row.score, [row.x1, row.y1, row.x2, row.y2, row.x3, row.y3, row.x4, row.y4])
            for row in lines.itertuples()]


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def read(pages) -> pd.DataFrame:
    """The three pages in one call: two as paths, one as bytes."""
    names = list(pages)
    cells: list[object] = [str(pages[name][0]) for name in names]
    cells[1] = pages[names[1]][0].read_bytes()
    return ocr(pd.DataFrame({"name": names, "image": cells}), threads=2)


def test_the_text_boxes_and_scores_equal_rapidocrs_own_call(pages, read, rapidocr_direct):
    assert list(read.columns) == OCR_COLUMNS
    for row, (path, _) in enumerate(pages.values()):
        ours = read[read["row"] == row]
        assert _ours(ours) == _direct(rapidocr_direct, path), path.name
        assert ours["line"].tolist() == list(range(len(ours)))


def test_latin_and_chinese_lines_are_read_correctly(pages, read):
    for row, (name, (path, lines)) in enumerate(pages.items()):
        found = read[read["row"] == row]
        assert _squeezed("".join(found["text"])) == _squeezed("".join(lines)), name
        assert (found["score"] > 0.8).all()
        if row == 1:  # the second page went in as bytes
            assert found["image"].isna().all()
        else:
            assert found["image"].tolist() == [str(path)] * len(found)


def test_boxes_lie_on_the_page_in_reading_order(pages, read):
    latin = read[read["row"] == 0]
    width, height = 380, 285
    assert latin[["x1", "x2", "x3", "x4"]].to_numpy().max() <= width and latin[["y1", "y2", "y3", "y4"]].to_numpy().max() <= height
    tops = latin["y1"].tolist()
    assert tops[-1] > tops[0] + 20  # the second line is below the first


def test_thresholds_reach_the_engine(pages, rapidocr_direct):
    from rapidocr_onnxruntime import RapidOCR

    path = pages["latin"][0]
    settings = {"pixel_threshold": 0.5, "box_threshold": 0.7, "unclip_ratio": 2.0, "text_score": 0.9}
    ours = ocr(path=str(path), threads=2, **settings)
    direct = RapidOCR(det_thresh=0.5, det_box_thresh=0.7, det_unclip_ratio=2.0, text_score=0.9)
    assert _ours(ours) == _direct(direct, path)
    assert ours["row"].unique().tolist() == [0]
    assert _ours(ours) != _direct(rapidocr_direct, path)  # the boxes grew with unclip_ratio


def test_a_blank_page_and_an_empty_table_give_no_rows(tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 120), "white").save(blank)
    assert ocr(path=str(blank)).empty
    empty = ocr(pd.DataFrame({"image": pd.Series([], dtype=object)}))
    assert empty.empty and list(empty.columns) == OCR_COLUMNS


def test_the_angle_classifier_turns_an_upside_down_line(tmp_path):
    require_fonts()
    upside_down = tmp_path / "upside_down.png"
    render(["Harbour 2024"], LATIN_FONT, size=32).rotate(180).save(upside_down)  # type: ignore[attr-defined]
    turned = ocr(path=str(upside_down), threads=2)
    assert _squeezed("".join(turned["text"])) == "Harbour2024"
    as_is = ocr(path=str(upside_down), threads=2, use_angle_classifier=False)
    assert _squeezed("".join(as_is["text"])) != "Harbour2024"
