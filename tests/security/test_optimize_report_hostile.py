"""The optimization report's HTML page against hostile text: a model source, a variant name or an error message
(which can quote a user's column names or file contents) never becomes markup or script in report.html, and
cannot close the script elements that hold the Vega-Lite specs."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from tidal.optimize import CpuInfo, LossBound, Measurement, pick
from tidal.optimize._measure import Latency
from tidal.optimize._report import build_report, report_metrics
from tidal.optimize._report_html import html_page
from tidal.optimize._variants import Skipped

ATTACK = '</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def hostile_report() -> dict:
    def measured(name: str, p50: float, **extra) -> Measurement:
        return Measurement(name, "onnx-fp32", latency={1: Latency(p50, p50, 1000 / p50)}, score=0.9, loss=0.0,
                           size_bytes=100, **extra)

    items = [measured("baseline", 1.0), measured(f"fp32{ATTACK}", 0.5), measured("broken", 0.4, error=f"column {ATTACK} is bad")]
    items[0].family = "baseline"
    bound = LossBound.parse("1%")
    chosen = pick(items, batch=1, bound=bound)
    package = SimpleNamespace(flavor="sklearn", task="binary", features=["a"], metadata={}, lineage={})
    cpu = CpuInfo(f"cpu {ATTACK}", ("avx2",), 1, "x86_64")
    return build_report(package, f"models:/{ATTACK}/1", chosen, items, [Skipped(f"skip{ATTACK}", ATTACK)], cpu,
                        metric="accuracy", bound=bound, batch_sizes=[1], rows=10, seconds=1.0, budget_minutes=1.0)


def test_hostile_text_is_escaped_everywhere_in_the_html_page():
    page = html_page(hostile_report())
    assert re.findall(r"<(img|script)\b", page) == ["script", "script"]  # the two spec elements, nothing injected
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 6  # title, outcome, rows, reason, cpu, skipped ...
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="application/vnd.vegalite+json" id="spec-latency_vs_loss">',
                       '<script type="application/vnd.vegalite+json" id="spec-size">']
    assert page.count("</script>") == 2  # the specs cannot be closed early by a name inside them
    for name in ("latency_vs_loss", "size"):
        body = re.search(rf'id="spec-{name}">(.*?)</script>', page, re.S).group(1)
        assert json.loads(body)["$schema"].startswith("https://vega.github.io/")  # still valid JSON, names intact


def test_the_studio_summary_carries_hostile_text_as_plain_data():
    summary = report_metrics(hostile_report())
    names = [row["variant"] for row in summary.tables["variants"]]
    assert f"fp32{ATTACK}" in names  # the Studio renders it as text (React escapes), never as markup
    assert summary["outcome"] == f"Picked fp32{ATTACK}"
    assert json.loads(json.dumps(summary.to_json(), sort_keys=True))["metrics"]["cpu"].startswith("cpu </script>")
