"""The report as one HTML page that works offline.

Tidal ships no Vega-Lite runtime outside the Studio's bundle, so the page holds the two Vega-Lite
specs of :func:`tidal.optimize._report.charts` as JSON (``<script type="application/vnd.vegalite+json">``,
ready for any Vega-Lite viewer) and draws the same two charts as plain inline SVG. Its words and
layout are the Studio's: the outcome and the pick's reason, the settings, the CPU, the charts, the
variants table (the pick's row marked) and what was skipped. Every text taken from the report is
escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

from tidal.optimize._report import (
    baseline_latency,
    cell_text,
    chart_points,
    chart_sizes,
    charts,
    cpu_line,
    headline,
    report_columns,
    rows_for_table,
    settings_line,
)

_ROLE_COLOURS = {"picked": "#16a34a", "original": "#6b7485", "other": "#2563eb"}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#1f2633}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #dfe3ea;padding:3px 7px;text-align:left;white-space:nowrap}td.num{text-align:right}
td.reason{white-space:normal;min-width:24em}tr.picked td{background:#dcfce7;font-weight:600}
tr.not-run td{color:#6b7485}.outcome{border-left:5px solid #16a34a;background:#f0fdf4;padding:6px 12px;margin:1em 0}
.outcome.kept{border-color:#d97706;background:#fffbeb}.outcome h2{margin:0 0 4px;font-size:18px}.outcome p{margin:0}
.verdict{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;background:#e5e7eb}
.verdict.won{background:#16a34a;color:#fff}.verdict.failed,.verdict.not-packaged,.verdict.not-scored,
.verdict.not-timed{background:#fef3c7;color:#92400e}
.charts{display:flex;gap:2em;flex-wrap:wrap}svg text{font-size:11px}"""


def _svg_scatter(report: dict[str, Any]) -> str:
    points = chart_points(report)
    if not points:
        return "<p>no timed variants</p>"
    width, height, pad = 460, 280, 50
    base, allowed = baseline_latency(report), report["allowed_loss"]
    xs = [point["loss"] for point in points] + [0.0, allowed]
    ys = [point["p50_ms"] for point in points] + ([base] if base else [])
    x_low, x_high = min(xs), max(xs)
    y_high = max(ys) * 1.1 or 1.0
    x_span = (x_high - x_low) or 1.0

    def x_of(loss: float) -> float:
        return pad + (loss - x_low) / x_span * (width - 2 * pad)

    def y_of(ms: float) -> float:
        return height - pad - ms / y_high * (height - 2 * pad)

    marks = []
    for point in points:
        colour = _ROLE_COLOURS[point["role"]]
        radius = 7 if point["role"] == "picked" else 5
        x, y = x_of(point["loss"]), y_of(point["p50_ms"])
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}" '
                     f'fill-opacity="0.85"><title>{html.escape(point["variant"])} ({point["role"]}): '
                     f'{point["p50_ms"]:.3g} ms, loss {point["loss"]:.3g}</title></circle>')
        if point["role"] == "picked":
            marks.append(f'<text x="{x + 9:.1f}" y="{y - 9:.1f}" font-weight="bold">{html.escape(point["variant"])}</text>')
    rules = f'<line x1="{x_of(allowed):.1f}" y1="{pad}" x2="{x_of(allowed):.1f}" y2="{height - pad}" stroke="#dc2626" stroke-dasharray="4 3"/>'
    if base:
        rules += f'<line x1="{pad}" y1="{y_of(base):.1f}" x2="{width - pad}" y2="{y_of(base):.1f}" stroke="#6b7485" stroke-dasharray="4 3"/>'
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>'
            f'<text x="{width / 2}" y="{height - 18}" text-anchor="middle">{html.escape(report["metric"])} loss against the '
            f'original ({x_low:.3g} .. {x_high:.3g})</text>'
            f'<text x="{pad}" y="{pad - 12}">p50 ms at batch {report["pick_batch"]} (0 .. {y_high:.3g})</text>'
            f'<text x="{pad}" y="{height + 14}">green: picked · grey: the original · blue: other variants</text>'
            f'<text x="{pad}" y="{height + 30}">dashed: the original\'s latency (grey), the bound (red)</text>')
    return (f'<svg width="{width}" height="{height + 36}" role="img" data-chart="latency_vs_loss">'
            f'{axes}{rules}{"".join(marks)}</svg>')


def _svg_bars(report: dict[str, Any]) -> str:
    items = sorted(chart_sizes(report), key=lambda item: -item["size_bytes"])
    if not items:
        return "<p>no files</p>"
    largest = items[0]["size_bytes"]
    bar, label = 18, 220
    rows = []
    for index, item in enumerate(items):
        y = index * (bar + 4)
        length = item["size_bytes"] / largest * 220
        rows.append(f'<text x="0" y="{y + 13}">{html.escape(item["label"])}</text>'
                    f'<rect x="{label}" y="{y}" width="{length:.1f}" height="{bar}" fill="{_ROLE_COLOURS[item["role"]]}"/>'
                    f'<text x="{label + length + 4:.1f}" y="{y + 13}">{item["size_bytes"]:,} B</text>')
    return f'<svg width="{label + 330}" height="{len(items) * (bar + 4)}" role="img" data-chart="size">{"".join(rows)}</svg>'


def _script_json(spec: dict[str, Any]) -> str:
    """JSON safe inside a script element: no ``<``, ``>`` or ``&`` at all (JSON escapes them back), so no text in a
    spec can close the element early or read as markup."""
    return json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cell(name: str, value: Any) -> str:
    if name == "verdict":
        return f'<td><span class="verdict {html.escape(str(value).replace(" ", "-"))}">{html.escape(cell_text(name, value))}</span></td>'
    if name == "reason":
        return f'<td class="reason">{html.escape(cell_text(name, value))}</td>'
    kind = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{kind}>{html.escape(cell_text(name, value))}</td>"


def _table(report: dict[str, Any]) -> str:
    columns = report_columns(report)
    header = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for row in rows_for_table(report):
        kind = "picked" if row["variant"] == report["winner"] else "" if row["verdict"] in ("won", "lost") else "not-run"
        body.append(f'<tr class="{kind}">' + "".join(_cell(name, row[name]) for name, _ in columns) + "</tr>")
    return f'<table id="variants"><tr>{header}</tr>{"".join(body)}</table>'


def html_page(report: dict[str, Any]) -> str:
    outcome, reason = headline(report)
    skipped = "".join(f"<li><b>{html.escape(item['name'])}</b>: {html.escape(item['reason'])}</li>" for item in report["skipped"])
    embedded = "".join(f'<script type="application/vnd.vegalite+json" id="spec-{name}">{_script_json(spec)}</script>'
                       for name, spec in charts(report).items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>tidal optimize: {html.escape(report['model']['source'] or report['model']['flavor'])}</title>
<style>{_STYLE}</style></head>
<body><h1>Model optimization</h1>
<div class="outcome{' kept' if report['kept_original'] else ''}" id="outcome"><h2>{html.escape(outcome)}</h2><p>{html.escape(reason)}</p></div>
<p id="settings">{html.escape(settings_line(report))}</p>
<p id="cpu">{html.escape(cpu_line(report))}</p>
<div class="charts"><div><h3>Latency against accuracy loss</h3>{_svg_scatter(report)}</div>
<div><h3>File size</h3>{_svg_bars(report)}</div></div>
<h3>Variants</h3>{_table(report)}
<h3>Skipped</h3><ul>{skipped or '<li>nothing</li>'}</ul>
<p>The charts' Vega-Lite specifications are embedded in this page (script elements of type
application/vnd.vegalite+json); the page itself loads nothing from the network.</p>
{embedded}</body></html>
"""
