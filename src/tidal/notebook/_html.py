"""Views as self-contained HTML: inline CSS and SVG, no script, every string escaped.

This is what nbconvert, GitHub and any viewer without a kernel show; names, column headers and
cell values come from other people's data, so nothing is written unescaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

STATUS_COLOURS = {"succeeded": "#d3f2dc", "cached": "#dbe8fb", "running": "#fff2c2", "failed": "#f9d2d2",
                  "skipped": "#eeeeee", "cancelled": "#eeeeee", "queued": "#f5f5f5", "": "#ffffff"}
CSS = (
    ".tidal-view{font-family:system-ui,sans-serif;font-size:13px;color:#222;max-width:100%;overflow-x:auto}"
    ".tidal-view h3{font-size:14px;margin:6px 0}.tidal-view h4{font-size:13px;margin:8px 0 4px}"
    ".tidal-view table{border-collapse:collapse;margin:2px 0 6px}"
    ".tidal-view td,.tidal-view th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}"
    ".tidal-view th{background:#f6f6f6}.tidal-view .tidal-note{color:#777}"
)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    return escape(str(value), quote=True)


def render(view: dict[str, Any]) -> str:
    parts = [f'<div class="tidal-view" data-tidal-kind="{text(view["kind"])}"><style>{CSS}</style>',
             f"<h3>{text(view['title'])}</h3>"]
    for section in view["sections"]:
        parts.append(SECTIONS[section["type"]](section))
    parts.append("</div>")
    return "".join(parts)


def _title(section: dict[str, Any]) -> str:
    return f"<h4>{text(section['title'])}</h4>" if section.get("title") else ""


def _kv(section: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{text(key)}</th><td>{text(value)}</td></tr>" for key, value in section["items"])
    return f"{_title(section)}<table>{rows}</table>" if rows else ""


def _table(section: dict[str, Any]) -> str:
    head = "".join(f"<th>{text(column)}</th>" for column in section["columns"])
    body = "".join("<tr>" + "".join(f"<td>{text(value)}</td>" for value in row) + "</tr>" for row in section["rows"])
    note = f'<div class="tidal-note">{text(section["note"])}</div>' if section.get("note") else ""
    return f"{_title(section)}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _graph(section: dict[str, Any]) -> str:
    width, height = section["node_width"], section["node_height"]
    where = {node["id"]: node for node in section["nodes"]}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{section["width"]}" height="{section["height"]}" '
             f'viewBox="0 0 {section["width"]} {section["height"]}" font-family="system-ui,sans-serif">']
    for edge in section["edges"]:
        start, end = where[edge["from"]], where[edge["to"]]
        x1, y1 = start["x"] + width, start["y"] + height / 2
        x2, y2 = end["x"], end["y"] + height / 2
        middle = (x1 + x2) / 2
        parts.append(f'<path d="M{x1:.0f},{y1:.0f} C{middle:.0f},{y1:.0f} {middle:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
                     'fill="none" stroke="#888" stroke-width="1.5"/>')
    for node in section["nodes"]:
        fill = STATUS_COLOURS.get(node["status"], "#ffffff")
        status = f" · {node['status']}" if node["status"] else ""
        parts.append(
            f'<g data-node="{text(node["id"])}"><rect x="{node["x"]:.0f}" y="{node["y"]:.0f}" width="{width}" height="{height}" '
            f'rx="6" fill="{fill}" stroke="#555"/>'
            f'<text x="{node["x"] + 8:.0f}" y="{node["y"] + 18:.0f}" font-size="13" font-weight="600">{text(node["id"])}</text>'
            f'<text x="{node["x"] + 8:.0f}" y="{node["y"] + 34:.0f}" font-size="10" fill="#555">'
            f"{text(_short(node['component'] + status))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: str, limit: int = 26) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _params(section: dict[str, Any]) -> str:
    rows = []
    for node in section["nodes"]:
        for param in node["params"]:
            value = text(param["value"]) if param["set"] else f'<span class="tidal-note">{text(param["value"])} (default)</span>'
            rows.append(f"<tr><td>{text(node['id'])}</td><td>{text(param['name'])}</td><td>{value}</td></tr>")
    return f"<h4>Parameters</h4><table><thead><tr><th>node</th><th>parameter</th><th>value</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"


CHART_WIDTH, CHART_HEIGHT, PAD = 380, 220, 52


def _scale(values: list[float], low: float, high: float) -> tuple[float, float]:
    smallest, largest = min(values), max(values)
    if smallest == largest:
        smallest, largest = smallest - 1, largest + 1
    factor = (high - low) / (largest - smallest)
    return factor, low - smallest * factor


def _axis(value: float) -> str:
    return escape(f"{value:.3g}")


def _chart(section: dict[str, Any]) -> str:
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" font-size="10" '
           'font-family="system-ui,sans-serif">']
    if section["mark"] == "bar":
        bars = section["bars"][:40]
        values = [float(value) for _, value in bars] + [0.0]
        factor, offset = _scale(values, PAD + 70, CHART_WIDTH - 10)
        step = (CHART_HEIGHT - 20) / max(len(bars), 1)
        for index, (label, value) in enumerate(bars):
            y = 10 + index * step
            x0, x1 = sorted((offset, float(value) * factor + offset))
            svg.append(f'<text x="{PAD + 66}" y="{y + step * 0.7:.1f}" text-anchor="end">{text(_short(str(label), 16))}</text>'
                       f'<rect x="{x0:.1f}" y="{y + 1:.1f}" width="{max(x1 - x0, 1):.1f}" height="{max(step - 2, 1):.1f}" fill="#4c78a8">'
                       f"<title>{text(label)}: {text(value)}</title></rect>")
    else:
        every = [point for series in section["series"] for point in series["points"]]
        if every:
            fx, ox = _scale([float(p[0]) for p in every], PAD, CHART_WIDTH - 10)
            fy, oy = _scale([float(p[1]) for p in every], CHART_HEIGHT - PAD, 10)
            svg.append(f'<line x1="{PAD}" y1="{CHART_HEIGHT - PAD}" x2="{CHART_WIDTH - 10}" y2="{CHART_HEIGHT - PAD}" stroke="#999"/>'
                       f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{CHART_HEIGHT - PAD}" stroke="#999"/>')
            xs, ys = [float(p[0]) for p in every], [float(p[1]) for p in every]
            svg.append(f'<text x="{PAD}" y="{CHART_HEIGHT - PAD + 12}">{_axis(min(xs))}</text>'
                       f'<text x="{CHART_WIDTH - 10}" y="{CHART_HEIGHT - PAD + 12}" text-anchor="end">{_axis(max(xs))}</text>'
                       f'<text x="{PAD - 3}" y="{CHART_HEIGHT - PAD}" text-anchor="end">{_axis(min(ys))}</text>'
                       f'<text x="{PAD - 3}" y="18" text-anchor="end">{_axis(max(ys))}</text>')
            colours = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]
            for index, series in enumerate(section["series"]):
                colour = "#999" if series["dashed"] else colours[index % len(colours)]
                coords = [(float(x) * fx + ox, float(y) * fy + oy) for x, y in series["points"]]
                if series["mark"] == "point":
                    svg.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords)
                elif coords:
                    dash = ' stroke-dasharray="4 4"' if series["dashed"] else ""
                    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
                    svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
        svg.append(f'<text x="{CHART_WIDTH / 2:.0f}" y="{CHART_HEIGHT - 6}" text-anchor="middle">{text(section["x"])}</text>'
                   f'<text x="10" y="{CHART_HEIGHT / 2:.0f}" transform="rotate(-90 10 {CHART_HEIGHT / 2:.0f})" '
                   f'text-anchor="middle">{text(section["y"])}</text>')
    svg.append("</svg>")
    return _title(section) + "".join(svg)


SECTIONS = {"kv": _kv, "table": _table, "graph": _graph, "params": _params, "chart": _chart}
