"""The optimization report in headless Chromium: run examples/optimize.yaml from the Studio, open the optimize
node's ``summary`` output and read the report page (outcome, reason, CPU flags, both charts drawn, every variant
with its verdict, the pick's row marked) against what the API serves. The screenshot goes to docs/images/."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def summary_of(url: str) -> dict:
    """The optimize node's summary, as the Studio's API serves it (the latest run of the pipeline)."""
    runs = httpx.get(f"{url}/api/runs", params={"pipeline": "optimize-iris", "limit": 1}).json()
    detail = httpx.get(f"{url}/api/runs/{runs[0]['id']}").json()
    output = detail["nodes"]["optimize"]["outputs"]["summary"]
    assert output["type"] == "Metrics"
    return httpx.get(f"{url}/api/artifacts/{output['id']}").json()


def test_run_the_optimize_example_and_read_its_report(optimize_studio_server, browser):
    url, _ = optimize_studio_server
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(url)  # the workspace's only pipeline opens
    page.get_by_test_id("node-optimize").wait_for(timeout=30_000)
    page.get_by_test_id("no-issues").wait_for(timeout=30_000)

    page.get_by_test_id("run").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=node-optimize]').dataset.status === 'succeeded'", timeout=180_000)
    served = summary_of(url)
    metrics, tables, figures = served["metrics"], served["tables"], served["figures"]

    page.locator("[data-testid=output-optimize-summary].has-output").click()
    page.get_by_test_id("toggle-panel-size").click()
    report = page.get_by_test_id("optimize-report")
    report.wait_for()

    # the outcome and the pick's reason, as the server words them
    headline = page.get_by_test_id("report-headline").inner_text()
    outcome = page.get_by_test_id("report-outcome")
    if metrics["kept_original"]:
        assert headline == "Kept the original model" and "kept" in outcome.get_attribute("class")
    else:
        assert headline == f"Picked {metrics['winner']}" and "picked" in outcome.get_attribute("class")
    reason = page.get_by_test_id("report-reason").inner_text()
    assert reason == metrics["reason"] and "within the bound" in reason
    cpu = page.get_by_test_id("report-cpu").inner_text()
    assert metrics["cpu_flags"] in cpu and "usable CPUs" in cpu and "VNNI:" in cpu
    assert "accuracy, max loss 1%" in page.get_by_test_id("report-settings").inner_text()

    # the table: the declared columns in order (the reason on a line under each row), one row per variant with its
    # verdict; the pick's row marked
    table = page.get_by_test_id("report-variants")
    headers = table.locator("thead th").all_inner_texts()
    assert headers + ["reason"] == [column["title"] for column in tables["columns"]]
    assert headers[:5] == ["variant", "family", "p50 ms b1", "p99 ms b1", "rows/s b1"] and headers[-1] == "verdict"
    rows = tables["variants"]
    assert len(rows) >= 4 and {row["family"] for row in rows} >= {"baseline", "onnx-fp32"}
    assert table.locator("tbody").count() == len(rows)
    for row in rows:
        cells = page.get_by_test_id(f"variant-{row['variant']}").locator("tr.variant-cells td").all_inner_texts()
        assert cells[0] == row["variant"] and cells[-1] == row["verdict"] and len(cells) == len(headers)
        assert page.get_by_test_id(f"reason-{row['variant']}").inner_text() == row["reason"] != ""
        assert row["verdict"] in ("won", "lost", "failed", "not packaged", "not scored", "not timed")
    picked = table.locator("tbody[data-kind=picked]")
    assert picked.count() == 1 and picked.locator("td").first.inner_text() == metrics["winner"]
    assert picked.locator("tr.variant-cells td").last.inner_text() == "won"

    # both charts drawn by vega-embed: one symbol per timed variant, one bar per file, the two dashed rules
    points = figures["latency_vs_loss"]["layer"][0]["data"]["values"]
    bars = figures["size"]["data"]["values"]
    scatter, sizes = page.get_by_test_id("chart-latency_vs_loss"), page.get_by_test_id("chart-size")
    scatter.locator(".mark-symbol.role-mark path").first.wait_for(timeout=60_000)
    sizes.locator(".mark-rect.role-mark path").first.wait_for(timeout=60_000)
    assert scatter.locator(".mark-symbol.role-mark path").count() == len(points) >= 3
    assert scatter.locator(".mark-rule.role-mark line").count() == 2
    assert scatter.locator(".mark-text.role-mark text").all_text_contents() == [metrics["winner"]]
    assert sizes.locator(".mark-rect.role-mark path").count() == len(bars) == len([row for row in rows if row["size_bytes"]])
    assert f"{metrics['winner']} (picked)" in sizes.text_content()
    for chart in (scatter, sizes):
        box = chart.locator("svg").first.bounding_box()
        assert box["width"] > 200 and box["height"] > 100

    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "studio-optimize-report.png"))
    assert errors == []
