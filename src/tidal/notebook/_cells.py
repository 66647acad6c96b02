"""JSON-safe cell values and Vega-Lite figures turned into the simple charts both renderers draw."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

#: rows of a figure's data shown when it cannot be drawn as a line or bar chart
FIGURE_ROWS = 50


def cell(value: Any) -> Any:
    """A value both renderers can show: numbers, strings, booleans and None; anything else as text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return cell(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    return str(value)


def _mark(spec: dict[str, Any]) -> str:
    mark = spec.get("mark")
    return str(mark.get("type", "")) if isinstance(mark, dict) else str(mark or "")


def _field(encoding: dict[str, Any], channel: str) -> tuple[str | None, str]:
    item = encoding.get(channel) or {}
    return (item.get("field"), str(item.get("type", ""))) if isinstance(item, dict) else (None, "")


def _values(spec: dict[str, Any], inherited: list[Any]) -> list[dict[str, Any]]:
    data = spec.get("data")
    values = data.get("values") if isinstance(data, dict) else None
    rows = values if isinstance(values, list) else inherited
    return [row for row in rows if isinstance(row, dict)]


def figure_section(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A ``chart`` section for line, point, area and bar specs; else a ``table`` of the figure's data.

    Only what both renderers can draw without a charting library is kept: the x and y fields of
    each layer's data (no CDN, nothing downloaded when a notebook opens).
    """
    title = spec.get("title")
    title = str(title.get("text", name) if isinstance(title, dict) else title or name)
    top = _values(spec, [])
    layered = spec.get("layer")
    layers: list[Any] = layered if isinstance(layered, list) else [spec]
    series: list[dict[str, Any]] = []
    bars: list[list[Any]] = []
    axes: tuple[str, str] = ("", "")
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        mark, encoding = _mark(layer), layer.get("encoding") or {}
        (x, x_type), (y, y_type) = _field(encoding, "x"), _field(encoding, "y")
        rows = _values(layer, top)
        if not x or not y or not rows:
            continue
        if mark in ("line", "point", "area", "circle") and x_type == "quantitative" and y_type == "quantitative":
            points = [[row[x], row[y]] for row in rows if _number(row.get(x)) and _number(row.get(y))]
            dashed = isinstance(layer.get("mark"), dict) and "strokeDash" in layer["mark"]
            series.append({"points": points, "dashed": bool(dashed), "mark": "point" if mark in ("point", "circle") else "line"})
            axes = axes if axes[0] else (x, y)
        elif mark == "bar":
            label, value = (y, x) if x_type == "quantitative" else (x, y)
            bars.extend([cell(row.get(label)), row[value]] for row in rows if _number(row.get(value)))
            axes = axes if axes[0] else (label, value)
    if series and not bars:
        return {"type": "chart", "title": title, "mark": "line", "x": axes[0], "y": axes[1], "series": series}
    if bars and not series:
        return {"type": "chart", "title": title, "mark": "bar", "x": axes[0], "y": axes[1], "bars": bars}
    columns = sorted({key for row in top for key in row})[:12]
    return {"type": "table", "title": title, "columns": columns,
            "rows": [[cell(row.get(column)) for column in columns] for row in top[:FIGURE_ROWS]],
            "note": f"{len(top)} rows" if len(top) > FIGURE_ROWS else ""}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
