"""Small builders for Vega-Lite specs, so components return figures a person would rather look at."""

from __future__ import annotations

from typing import Any

import numpy as np

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def thin(xs: np.ndarray, ys: np.ndarray, limit: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``limit`` points of a curve, always keeping both ends."""
    if len(xs) <= limit:
        return xs, ys
    index = np.unique(np.linspace(0, len(xs) - 1, limit).round().astype(int))
    return xs[index], ys[index]


def line_chart(
    xs: Any, ys: Any, *, x: str, y: str, title: str, diagonal: bool = False, limit: int = 200
) -> dict[str, Any]:
    xs, ys = thin(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), limit)
    values = [{x: round(float(a), 6), y: round(float(b), 6)} for a, b in zip(xs, ys, strict=True)]
    line = {
        "mark": {"type": "line", "interpolate": "step-after"},
        "encoding": {
            "x": {"field": x, "type": "quantitative", "scale": {"domain": [0, 1]}},
            "y": {"field": y, "type": "quantitative", "scale": {"domain": [0, 1]}},
        },
    }
    layers: list[dict[str, Any]] = [line]
    if diagonal:
        layers.append(
            {
                "data": {"values": [{x: 0, y: 0}, {x: 1, y: 1}]},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "#999"},
                "encoding": {"x": {"field": x, "type": "quantitative"}, "y": {"field": y, "type": "quantitative"}},
            }
        )
    return {"$schema": SCHEMA, "title": title, "width": 320, "height": 320, "data": {"values": values}, "layer": layers}


def bar_chart(labels: list[str], values: list[float], *, x: str, y: str, title: str) -> dict[str, Any]:
    rows = [{x: str(label), y: float(value)} for label, value in zip(labels, values, strict=True)]
    return {
        "$schema": SCHEMA,
        "title": title,
        "data": {"values": rows},
        "mark": "bar",
        "encoding": {
            "x": {"field": y, "type": "quantitative"},
            "y": {"field": x, "type": "nominal", "sort": "-x"},
        },
    }


def heatmap(rows: list[dict[str, Any]], *, x: str, y: str, value: str, title: str) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": title,
        "data": {"values": rows},
        "mark": "rect",
        "encoding": {
            "x": {"field": x, "type": "nominal"},
            "y": {"field": y, "type": "nominal"},
            "color": {"field": value, "type": "quantitative"},
            "tooltip": [{"field": x}, {"field": y}, {"field": value}],
        },
    }


def xy_chart(
    xs: Any,
    ys: Any,
    *,
    x: str,
    y: str,
    title: str,
    reference: list[tuple[float, float]] | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """A line over free (not 0-1) axes, with an optional dashed reference line through ``reference`` points."""
    xs, ys = thin(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), limit)
    values = [{x: round(float(a), 6), y: round(float(b), 6)} for a, b in zip(xs, ys, strict=True)]
    encoding = {"x": {"field": x, "type": "quantitative"}, "y": {"field": y, "type": "quantitative"}}
    layers: list[dict[str, Any]] = [{"mark": {"type": "line", "point": len(values) <= 20}, "encoding": encoding}]
    if reference:
        layers.append(
            {
                "data": {"values": [{x: float(a), y: float(b)} for a, b in reference]},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "#999"},
                "encoding": encoding,
            }
        )
    return {"$schema": SCHEMA, "title": title, "width": 320, "height": 320, "data": {"values": values}, "layer": layers}


def series_chart(rows: list[dict[str, Any]], *, x: str, y: str, series: str, title: str, facet: bool = False) -> dict[str, Any]:
    """Several lines from long-format rows, one colour per ``series`` (or one small chart each, ``facet=True``)."""
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": "quantitative"},
        "y": {"field": y, "type": "quantitative"},
        "tooltip": [{"field": series}, {"field": x}, {"field": y}],
    }
    if not facet:
        encoding["color"] = {"field": series, "type": "nominal"}
        return {"$schema": SCHEMA, "title": title, "width": 320, "height": 320, "data": {"values": rows}, "mark": "line", "encoding": encoding}
    return {
        "$schema": SCHEMA,
        "title": title,
        "data": {"values": rows},
        "facet": {"field": series, "type": "nominal"},
        "columns": 3,
        "resolve": {"scale": {"x": "independent"}},
        "spec": {"width": 200, "height": 160, "mark": "line", "encoding": encoding},
    }


def scatter_chart(xs: Any, ys: Any, *, x: str, y: str, title: str, limit: int = 500, zero_line: bool = False) -> dict[str, Any]:
    """Points (at most ``limit``, evenly picked so the chart stays small), optionally with a y = 0 rule."""
    xs, ys = thin(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), limit)
    values = [{x: round(float(a), 6), y: round(float(b), 6)} for a, b in zip(xs, ys, strict=True)]
    points = {
        "mark": {"type": "point", "opacity": 0.6},
        "encoding": {"x": {"field": x, "type": "quantitative"}, "y": {"field": y, "type": "quantitative"}},
    }
    layers: list[dict[str, Any]] = [points]
    if zero_line:
        layers.append({"data": {"values": [{"zero": 0}]}, "mark": {"type": "rule", "color": "#999"}, "encoding": {"y": {"field": "zero", "type": "quantitative"}}})
    return {"$schema": SCHEMA, "title": title, "width": 320, "height": 320, "data": {"values": values}, "layer": layers}


def histogram_chart(rows: list[dict[str, Any]], *, start: str, end: str, y: str, title: str) -> dict[str, Any]:
    """Bars over numeric intervals: each row gives an interval (``start``, ``end``) and its height ``y``."""
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": 320,
        "height": 240,
        "data": {"values": rows},
        "mark": {"type": "bar", "binSpacing": 0},
        "encoding": {
            "x": {"field": start, "type": "quantitative", "bin": {"binned": True}, "title": title},
            "x2": {"field": end},
            "y": {"field": y, "type": "quantitative"},
            "tooltip": [{"field": start}, {"field": end}, {"field": y}],
        },
    }
