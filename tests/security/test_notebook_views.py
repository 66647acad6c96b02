"""Names and values shown in notebook views come from other people's data: always text, never markup."""

from __future__ import annotations

import pandas as pd

import tidal
from tidal.notebook import static_html, view_of
from tidal.notebook._cells import figure_section

HOSTILE = "<script>alert(1)</script>"


def test_a_column_named_script_is_shown_as_text():
    frame = pd.DataFrame({"<script>": [HOSTILE, "<img src=x onerror=alert(2)>"], "ok": [1, 2]})
    html = static_html(frame)
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<img" not in html and "<script" not in html
    # the widget gets the same strings as data (its front end writes them with textContent)
    view = view_of(frame)
    preview = next(section for section in view["sections"] if section["type"] == "table")
    assert preview["columns"][0] == "<script>" and preview["rows"][0][0] == HOSTILE


def test_hostile_pipeline_metrics_and_figure_strings_are_escaped():
    pipeline = tidal.Pipeline(f"p{HOSTILE}", description=HOSTILE)
    pipeline.add("io.dataset", "read", params={"name": HOSTILE})
    metrics = tidal.Metrics({HOSTILE: 1.0}, figures={HOSTILE: {"title": HOSTILE, "mark": "bar", "data": {"values": [
        {"label": HOSTILE, "value": 2.0}]}, "encoding": {"x": {"field": "value", "type": "quantitative"},
                                                          "y": {"field": "label", "type": "nominal"}}}},
                            tables={HOSTILE: [{HOSTILE: HOSTILE}]})
    for html in (static_html(pipeline), static_html(metrics)):
        assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_figure_with_odd_data_becomes_a_table_of_text():
    section = figure_section("x", {"data": {"values": [{"a": HOSTILE}, "not a row", 3]}, "mark": {"type": HOSTILE}})
    assert section["type"] == "table" and section["rows"] == [[HOSTILE]]
