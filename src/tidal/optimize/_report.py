"""The search's report: a JSON document, and what every face shows of it.

One set of functions here decides the words and the layout, so the terminal table, the HTML page
(``_report_html.py``) and the Studio (the ``summary`` Metrics of ``model.optimize``) read the same:
:func:`headline` (the outcome and the pick's reason), :func:`report_columns` and
:func:`rows_for_table` (one row per variant, its verdict split from the reason), :func:`cpu_facts`
and :func:`charts` (two Vega-Lite specs: latency against accuracy loss, with the baseline's latency
and the bound drawn as rules, and file size per variant).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tidal.core import Metrics
from tidal.optimize._cpu import CpuInfo
from tidal.optimize._data import LossBound
from tidal.optimize._pick import BASELINE, Measurement, Pick
from tidal.optimize._variants import Skipped

VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
#: the first word(s) of every verdict :func:`tidal.optimize.pick` writes
VERDICTS = ("won", "lost", "failed", "not packaged", "not scored", "not timed")
#: the marker (and format version) a ``summary`` Metrics carries, as report.json does
REPORT_FORMAT = "tidal_optimize"


def build_report(package: Any, source: str, chosen: Pick, measurements: list[Measurement], skipped: list[Skipped],
                 cpu: CpuInfo, *, metric: str, bound: LossBound, batch_sizes: list[int], rows: int, seconds: float,
                 budget_minutes: float) -> dict[str, Any]:
    from tidal.optimize._output import source_of

    return {
        REPORT_FORMAT: 1,
        "model": {"source": source_of(package, source), "flavor": package.flavor, "task": package.task,
                  "features": len(package.features)},
        "metric": metric, "max_loss": bound.describe(), "allowed_loss": chosen.allowed_loss,
        "batch_sizes": batch_sizes, "pick_batch": chosen.batch, "validation_rows": rows,
        "winner": chosen.winner, "kept_original": chosen.kept_original, "reason": chosen.reason,
        "cpu": cpu.to_dict(), "seconds": round(seconds, 2), "budget_minutes": budget_minutes,
        "variants": [item.to_dict() for item in measurements],
        "skipped": [item.to_dict() for item in skipped],
    }


def split_verdict(text: str) -> tuple[str, str]:
    """``"lost: slower than ..."`` -> ``("lost", "slower than ...")``; a text that is no verdict is all reason."""
    head, colon, rest = text.partition(": ")
    if colon and head in VERDICTS:
        return head, rest
    for word in VERDICTS:
        if text.startswith(word):
            return word, text[len(word):].strip()
    return "", text


def headline(report: dict[str, Any]) -> tuple[str, str]:
    """The outcome in a few words (``Picked NAME`` or ``Kept the original model``) and the pick's reason."""
    reason = split_verdict(report["reason"])[1]
    if report["kept_original"]:
        return "Kept the original model", reason
    served = (report.get("served") or {}).get("batch_sizes") or {}
    ratios = [f"{figures['speedup']:.2f}x at batch {size}" for size, figures in served.items() if figures.get("speedup")]
    if ratios:  # what tidal serve gets: the graph's speed-up less the package's own checks (see _served)
        reason += f"; as served, through the packages' predict: {', '.join(ratios)}"
    return f"Picked {report['winner']}", reason


def report_columns(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The variants table's columns in order, each with its title: (name, title)."""
    columns = [("variant", "variant"), ("family", "family")]
    for size in report["batch_sizes"]:
        columns += [(f"p50_ms_b{size}", f"p50 ms b{size}"), (f"p99_ms_b{size}", f"p99 ms b{size}"),
                    (f"rows_per_s_b{size}", f"rows/s b{size}")]
    return columns + [("size_bytes", "size (bytes)"), ("score", report["metric"]), ("loss", "loss"),
                      ("cosine_mean", "mean cosine"), ("cosine_min", "min cosine"), ("verdict", "verdict"),
                      ("reason", "reason")]


def rows_for_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per variant, in :func:`report_columns`' order: latency at every batch size, size, score, loss,
    the verdict (``won``, ``lost``, ``failed`` ...) and the reason it won or lost."""
    rows = []
    for item in report["variants"]:
        row: dict[str, Any] = {"variant": item["name"], "family": item["family"]}
        for size in report["batch_sizes"]:
            latency = item["latency"].get(str(size)) or {}
            row[f"p50_ms_b{size}"] = latency.get("p50_ms")
            row[f"p99_ms_b{size}"] = latency.get("p99_ms")
            row[f"rows_per_s_b{size}"] = latency.get("throughput")
        text = item["verdict"] or (f"failed: {item['error']}" if item["error"] else "")
        verdict, reason = split_verdict(text)
        row.update({"size_bytes": item["size_bytes"], "score": item["score"], "loss": item["loss"],
                    "cosine_mean": item["cosine_mean"], "cosine_min": item["cosine_min"], "verdict": verdict,
                    "reason": reason})
        rows.append(row)
    return rows


def cpu_facts(report: dict[str, Any]) -> dict[str, Any]:
    """The machine the variants were timed on, in words: its CPU, the recorded instruction sets it has and lacks."""
    cpu = report["cpu"]
    flags = cpu["flags"]
    load = cpu.get("load_average")
    return {"cpu": f"{cpu['model']} ({cpu['machine']}), {cpu['usable_cpus']} usable CPUs",
            "cpu_flags": ", ".join(name for name, present in flags.items() if present) or "none recorded",
            "cpu_flags_absent": ", ".join(name for name, present in flags.items() if not present) or "none",
            "vnni": bool(cpu["vnni"]),
            "load_average": ", ".join(str(value) for value in load) if load else "unknown"}


def cpu_line(report: dict[str, Any]) -> str:
    """The CPU in one line, as the HTML page and the Studio write it."""
    facts = cpu_facts(report)
    vnni = "yes" if facts["vnni"] else "no (INT8 uses reduce_range)"
    return (f"CPU: {facts['cpu']} · flags: {facts['cpu_flags']} · without: {facts['cpu_flags_absent']} · VNNI: {vnni} "
            f"· load average {facts['load_average']}")


def settings_line(report: dict[str, Any]) -> str:
    """What the search was asked and what it cost, in one line."""
    model = report["model"]
    source = f"{model['source']}, " if model["source"] else ""
    bound = report.get("cosine_bound")  # sentence encoders: their embeddings' cosine to the original's is bounded
    cosine = f"; embeddings' cosine mean >= {bound['mean']:g}, min >= {bound['min']:g}" if bound else ""
    return (f"{report['metric']}, max loss {report['max_loss']} (allowed {report['allowed_loss']:.4g}){cosine}; "
            f"{report['validation_rows']} validation rows; batch sizes {', '.join(map(str, report['batch_sizes']))} "
            f"(the pick at {report['pick_batch']}); model {source}{model['flavor']} {model['task']}; "
            f"{report['seconds']} s of a {report['budget_minutes']:g} min budget")


def _role(name: str, report: dict[str, Any]) -> str:
    return "picked" if name == report["winner"] else "original" if name == BASELINE else "other"


def chart_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants scored and timed at the pick's batch size: the scatter's points (the pick last, drawn on top)."""
    batch = str(report["pick_batch"])
    points = [{"variant": item["name"], "family": item["family"], "loss": item["loss"],
               "p50_ms": item["latency"][batch]["p50_ms"], "role": _role(item["name"], report),
               "verdict": split_verdict(item["verdict"])[0]}
              for item in report["variants"] if item["loss"] is not None and (item["latency"].get(batch) or {}).get("p50_ms")]
    return sorted(points, key=lambda point: point["role"] == "picked")


def chart_sizes(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants with a file: the bars (the pick labelled)."""
    return [{"variant": item["name"], "label": f"{item['name']} (picked)" if item["name"] == report["winner"] else item["name"],
             "family": item["family"], "size_bytes": item["size_bytes"], "role": _role(item["name"], report)}
            for item in report["variants"] if item["size_bytes"]]


def baseline_latency(report: dict[str, Any]) -> float | None:
    base = next((item for item in report["variants"] if item["name"] == BASELINE), None)
    timed = (base or {}).get("latency", {}).get(str(report["pick_batch"])) or {}
    return timed.get("p50_ms")


def charts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Vega-Lite specs: latency at the pick's batch size against accuracy loss, and file size per variant."""
    batch, metric = report["pick_batch"], report["metric"]
    points: dict[str, Any] = {
        "data": {"values": chart_points(report)}, "mark": {"type": "point", "filled": True, "size": 110, "opacity": 0.9},
        "encoding": {
            "x": {"field": "loss", "type": "quantitative", "title": f"{metric} loss against the original"},
            "y": {"field": "p50_ms", "type": "quantitative", "title": f"p50 latency at batch {batch} (ms)"},
            "color": {"field": "family", "type": "nominal"},
            "shape": {"field": "role", "type": "nominal", "title": None,
                      "scale": {"domain": ["picked", "original", "other"], "range": ["diamond", "square", "circle"]}},
            "tooltip": [{"field": "variant"}, {"field": "family"}, {"field": "p50_ms", "title": "p50 ms"},
                        {"field": "loss"}, {"field": "verdict"}]}}
    picked = [point for point in points["data"]["values"] if point["role"] == "picked"]
    label = {"data": {"values": picked}, "mark": {"type": "text", "align": "left", "dx": 9, "dy": -9, "fontWeight": "bold"},
             "encoding": {"x": {"field": "loss", "type": "quantitative"}, "y": {"field": "p50_ms", "type": "quantitative"},
                          "text": {"field": "variant"}}}
    layers = [points, label]
    base = baseline_latency(report)
    if base:
        layers.append({"data": {"values": [{"p50_ms": base, "rule": "the original's latency"}]},
                       "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#6b7485"},
                       "encoding": {"y": {"field": "p50_ms", "type": "quantitative"}, "tooltip": [{"field": "rule"}]}})
    layers.append({"data": {"values": [{"loss": report["allowed_loss"], "rule": "the accuracy bound"}]},
                   "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#dc2626"},
                   "encoding": {"x": {"field": "loss", "type": "quantitative"}, "tooltip": [{"field": "rule"}]}})
    scatter: dict[str, Any] = {
        "$schema": VEGA_LITE, "width": 250, "height": 180, "layer": layers,
        "title": {"text": f"latency at batch {batch} against {metric} loss",
                  "subtitle": "dashed: the original's latency (grey), the bound (red)"}}
    bars: dict[str, Any] = {
        "$schema": VEGA_LITE, "title": {"text": "file size", "subtitle": "bytes on disk of each variant"}, "width": 170,
        "data": {"values": chart_sizes(report)}, "mark": "bar",
        "encoding": {"y": {"field": "label", "type": "nominal", "sort": "-x", "title": None},
                     "x": {"field": "size_bytes", "type": "quantitative", "title": "bytes",
                           "axis": {"format": "~s", "tickCount": 4}},
                     "color": {"field": "family", "type": "nominal", "legend": None},
                     "tooltip": [{"field": "variant"}, {"field": "family"}, {"field": "size_bytes", "title": "bytes"}]}}
    return {"latency_vs_loss": scatter, "size": bars}


def report_metrics(report: dict[str, Any]) -> Metrics:
    """The whole report as one Metrics (what the Studio shows as a page): the outcome and its reason, the settings,
    the CPU, both charts, the variants table with its column order and titles, and what was skipped."""
    outcome, reason = headline(report)
    values = {REPORT_FORMAT: report[REPORT_FORMAT], "outcome": outcome, "reason": reason, "winner": report["winner"],
              "kept_original": report["kept_original"], "settings": settings_line(report), "metric": report["metric"],
              "max_loss": report["max_loss"], "allowed_loss": report["allowed_loss"], "pick_batch": report["pick_batch"],
              "batch_sizes": ", ".join(map(str, report["batch_sizes"])), "validation_rows": report["validation_rows"],
              "seconds": report["seconds"], **cpu_facts(report)}
    tables = {"variants": rows_for_table(report),
              "columns": [{"name": name, "title": title} for name, title in report_columns(report)],
              "skipped": [{"variant": item["name"], "reason": item["reason"]} for item in report["skipped"]]}
    return Metrics(values, figures=charts(report), tables=tables)


def write_report(report: dict[str, Any], folder: Path) -> None:
    from tidal.optimize._report_html import html_page

    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (folder / "report.html").write_text(html_page(report))


def cell_text(name: str, value: Any) -> str:
    """A table cell as every face writes it: sizes and rows/s whole with thousands separators, other numbers to 4
    significant digits, nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and (name == "size_bytes" or name.startswith("rows_per_s")):
        return f"{round(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def rich_table(report: dict[str, Any]) -> Any:
    """The report for the terminal: the variants' figures in one table, then each variant's family, verdict and
    reason (a terminal is too narrow for them as columns), the outcome and the CPU; the pick in bold green."""
    from rich import box
    from rich.console import Group
    from rich.table import Table

    outcome, reason = headline(report)
    figures = Table(title=f"tidal optimize — {report['metric']}, max loss {report['max_loss']}, pick at batch "
                          f"{report['pick_batch']}", box=box.SIMPLE_HEAD)
    words = ("family", "verdict", "reason")
    shown = [(name, title) for name, title in report_columns(report) if not name.startswith("rows_per_s") and name not in words]
    for name, title in shown:
        figures.add_column(title, justify="left" if name == "variant" else "right", no_wrap=name == "variant")
    why = Table(box=None, caption=f"{outcome}: {reason}\n{cpu_line(report)}", caption_justify="left")
    why.add_column("variant", no_wrap=True)
    for name in words:
        why.add_column(name, overflow="fold")
    for row in rows_for_table(report):
        style = "bold green" if row["variant"] == report["winner"] else "dim" if row["verdict"] not in ("won", "lost") else None
        figures.add_row(*[cell_text(name, row[name]) for name, _ in shown], style=style)
        why.add_row(row["variant"], *[row[name] for name in words], style=style)
    return Group(figures, why)
