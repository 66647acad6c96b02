"""The search's report: a JSON document, a Rich table for the terminal, and an HTML page.

The HTML page works offline: Tidal ships no Vega-Lite runtime outside the Studio's bundle, so the
page holds the two Vega-Lite specs (latency against accuracy loss, file size per variant) as JSON
(``<script type="application/vnd.vegalite+json">``, ready for any Vega-Lite viewer and shown by
the Studio when the same specs come out of the ``model.optimize`` node), draws the same two
charts as plain inline SVG, and lists every variant in an HTML table with its verdict.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from tidal.optimize._cpu import CpuInfo
from tidal.optimize._data import LossBound
from tidal.optimize._pick import Measurement, Pick
from tidal.optimize._variants import Skipped

VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"


def build_report(package: Any, source: str, chosen: Pick, measurements: list[Measurement], skipped: list[Skipped],
                 cpu: CpuInfo, *, metric: str, bound: LossBound, batch_sizes: list[int], rows: int, seconds: float,
                 budget_minutes: float) -> dict[str, Any]:
    from tidal.optimize._output import source_of

    return {
        "tidal_optimize": 1,
        "model": {"source": source_of(package, source), "flavor": package.flavor, "task": package.task,
                  "features": len(package.features)},
        "metric": metric, "max_loss": bound.describe(), "allowed_loss": chosen.allowed_loss,
        "batch_sizes": batch_sizes, "pick_batch": chosen.batch, "validation_rows": rows,
        "winner": chosen.winner, "kept_original": chosen.kept_original, "reason": chosen.reason,
        "cpu": cpu.to_dict(), "seconds": round(seconds, 2), "budget_minutes": budget_minutes,
        "variants": [item.to_dict() for item in measurements],
        "skipped": [item.to_dict() for item in skipped],
    }


def rows_for_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per variant (latency at every batch size, size, score, loss, verdict)."""
    rows = []
    for item in report["variants"]:
        row: dict[str, Any] = {"variant": item["name"], "family": item["family"]}
        for size in report["batch_sizes"]:
            latency = item["latency"].get(str(size)) or {}
            row[f"p50_ms_b{size}"] = latency.get("p50_ms")
            row[f"p99_ms_b{size}"] = latency.get("p99_ms")
            row[f"rows_per_s_b{size}"] = latency.get("throughput")
        row.update({"size_bytes": item["size_bytes"], "score": item["score"], "loss": item["loss"],
                    "cosine_min": item["cosine_min"], "verdict": item["verdict"] or (item["error"] or "")})
        rows.append(row)
    return rows


def charts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Vega-Lite specs: latency at the pick's batch size against accuracy loss, and file size per variant."""
    batch = report["pick_batch"]
    points = [{"variant": item["name"], "family": item["family"], "loss": item["loss"],
               "p50_ms": (item["latency"].get(str(batch)) or {}).get("p50_ms"), "won": item["name"] == report["winner"]}
              for item in report["variants"] if item["loss"] is not None and item["latency"]]
    sizes = [{"variant": item["name"], "family": item["family"], "size_bytes": item["size_bytes"]}
             for item in report["variants"] if item["size_bytes"]]
    scatter = {"$schema": VEGA_LITE, "title": f"latency at batch {batch} against {report['metric']} loss",
               "data": {"values": points}, "mark": {"type": "point", "filled": True, "size": 80},
               "encoding": {"x": {"field": "loss", "type": "quantitative", "title": f"{report['metric']} loss vs baseline"},
                            "y": {"field": "p50_ms", "type": "quantitative", "title": "p50 latency (ms)"},
                            "color": {"field": "family", "type": "nominal"},
                            "shape": {"field": "won", "type": "nominal"},
                            "tooltip": [{"field": "variant"}, {"field": "p50_ms"}, {"field": "loss"}]}}
    bars = {"$schema": VEGA_LITE, "title": "file size", "data": {"values": sizes}, "mark": "bar",
            "encoding": {"y": {"field": "variant", "type": "nominal", "sort": "-x"},
                         "x": {"field": "size_bytes", "type": "quantitative", "title": "bytes"},
                         "color": {"field": "family", "type": "nominal"}}}
    return {"latency_vs_loss": scatter, "size": bars}


def write_report(report: dict[str, Any], folder: Path) -> None:
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (folder / "report.html").write_text(html_page(report))


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _svg_scatter(spec: dict[str, Any]) -> str:
    points = [point for point in spec["data"]["values"] if point["p50_ms"] is not None]
    if not points:
        return "<p>no timed variants</p>"
    width, height, pad = 520, 300, 50
    xs = [point["loss"] for point in points]
    ys = [point["p50_ms"] for point in points]
    x_low, x_high = min(xs + [0.0]), max(xs + [0.0])
    y_high = max(ys) * 1.1 or 1.0
    x_span = (x_high - x_low) or 1.0
    marks = []
    for point in points:
        x = pad + (point["loss"] - x_low) / x_span * (width - 2 * pad)
        y = height - pad - point["p50_ms"] / y_high * (height - 2 * pad)
        colour = "#d62728" if point["won"] else "#1f77b4"
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"><title>{html.escape(point["variant"])}: '
                     f'{point["p50_ms"]:.3g} ms, loss {point["loss"]:.3g}</title></circle>')
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>'
            f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">{html.escape(spec["encoding"]["x"]["title"])} '
            f'({x_low:.3g} .. {x_high:.3g})</text>'
            f'<text x="12" y="{pad - 15}">p50 ms (0 .. {y_high:.3g})</text>')
    return f'<svg width="{width}" height="{height}" role="img">{axes}{"".join(marks)}</svg>'


def _svg_bars(spec: dict[str, Any]) -> str:
    items = sorted(spec["data"]["values"], key=lambda item: -item["size_bytes"])
    if not items:
        return "<p>no files</p>"
    largest = items[0]["size_bytes"]
    bar, label = 18, 220
    rows = []
    for index, item in enumerate(items):
        y = index * (bar + 4)
        length = item["size_bytes"] / largest * 300
        rows.append(f'<text x="0" y="{y + 13}">{html.escape(item["variant"])}</text>'
                    f'<rect x="{label}" y="{y}" width="{length:.1f}" height="{bar}" fill="#1f77b4"/>'
                    f'<text x="{label + length + 4:.1f}" y="{y + 13}">{item["size_bytes"]:,} B</text>')
    return f'<svg width="{label + 420}" height="{len(items) * (bar + 4)}" role="img">{"".join(rows)}</svg>'


def _script_json(spec: dict[str, Any]) -> str:
    """JSON safe inside a script element: no ``</`` can close it early."""
    return json.dumps(spec).replace("</", "<\\/")


def html_page(report: dict[str, Any]) -> str:
    specs = charts(report)
    table_rows = rows_for_table(report)
    header = "".join(f"<th>{html.escape(name)}</th>" for name in table_rows[0]) if table_rows else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_number(value))}</td>" for value in row.values()) + "</tr>"
                   for row in table_rows)
    skipped = "".join(f"<li><b>{html.escape(item['name'])}</b>: {html.escape(item['reason'])}</li>" for item in report["skipped"])
    cpu = report["cpu"]
    flags = ", ".join(name for name, present in cpu["flags"].items() if present) or "none recorded"
    embedded = "".join(f'<script type="application/vnd.vegalite+json" id="spec-{name}">{_script_json(spec)}</script>'
                       for name, spec in specs.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>tidal optimize: {html.escape(report['model']['source'] or report['model']['flavor'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}td{{text-align:right}}td:last-child{{text-align:left}}</style></head>
<body><h1>Model optimization</h1>
<p><b>{html.escape(report['winner'])}</b> won at batch {report['pick_batch']}: {html.escape(report['reason'])}</p>
<p>metric {html.escape(report['metric'])}, max loss {html.escape(report['max_loss'])} (allowed {report['allowed_loss']:.4g}),
{report['validation_rows']} validation rows, {report['seconds']} s.</p>
<p>CPU: {html.escape(cpu['model'])} ({html.escape(cpu['machine'])}), {cpu['usable_cpus']} usable CPUs, flags: {html.escape(flags)};
VNNI: {'yes' if cpu['vnni'] else 'no (INT8 uses reduce_range)'}; load average {html.escape(str(cpu['load_average']))}.</p>
<h2>Latency against accuracy loss</h2>{_svg_scatter(specs['latency_vs_loss'])}
<h2>File size</h2>{_svg_bars(specs['size'])}
<h2>Variants</h2><table><tr>{header}</tr>{body}</table>
<h2>Skipped</h2><ul>{skipped or '<li>nothing</li>'}</ul>
<p>The charts' Vega-Lite specifications are embedded in this page (script elements of type
application/vnd.vegalite+json); the page itself loads nothing from the network.</p>
{embedded}</body></html>
"""


def rich_table(report: dict[str, Any]) -> Any:
    """The report as a Rich table for the terminal."""
    from rich.table import Table

    batch = report["pick_batch"]
    table = Table(title=f"tidal optimize — {report['metric']}, max loss {report['max_loss']}, pick at batch {batch}")
    table.add_column("variant")
    for size in report["batch_sizes"]:
        table.add_column(f"p50 ms b{size}", justify="right")
        table.add_column(f"p99 ms b{size}", justify="right")
    table.add_column("size", justify="right")
    table.add_column(report["metric"], justify="right")
    table.add_column("loss", justify="right")
    table.add_column("verdict")
    for item in report["variants"]:
        cells = [item["name"]]
        for size in report["batch_sizes"]:
            latency = item["latency"].get(str(size)) or {}
            cells += [_number(latency.get("p50_ms"), 3), _number(latency.get("p99_ms"), 3)]
        cells += [_number(item["size_bytes"]), _number(item["score"]), _number(item["loss"], 3),
                  item["verdict"] or (item["error"] or "")]
        style = "bold green" if item["name"] == report["winner"] else None
        table.add_row(*cells, style=style)
    return table
