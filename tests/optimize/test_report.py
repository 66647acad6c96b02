"""The report's faces, from given measurements: the same outcome, reason, columns and verdicts in the
Studio's ``summary`` Metrics, the HTML page and the terminal table."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from rich.console import Console

from tidal.optimize import CpuInfo, LossBound, Measurement, pick, report_headline, report_table
from tidal.optimize._measure import Latency
from tidal.optimize._report import (
    build_report,
    charts,
    report_columns,
    report_metrics,
    rows_for_table,
    split_verdict,
)
from tidal.optimize._report_html import html_page
from tidal.optimize._variants import Skipped

PACKAGE = SimpleNamespace(flavor="sklearn", task="multiclass", features=["a", "b"], metadata={}, lineage={})
CPU = CpuInfo("Test CPU 9000", ("avx2", "avx512_vnni"), 2, "x86_64")


def measured(name: str, p50: dict[int, float], *, loss_value: float = 0.0, family: str = "onnx-fp32", size: int = 1000,
             **extra) -> Measurement:
    latency = {batch: Latency(value, value * 2, batch / value * 1000) for batch, value in p50.items()}
    return Measurement(name, family, latency=latency, score=0.9 - loss_value, loss=loss_value, size_bytes=size, **extra)


def report_of(items: list[Measurement], sizes=(1, 32), skipped=()) -> dict:
    bound = LossBound.parse("1%")
    chosen = pick(items, batch=sizes[0], bound=bound)
    report = build_report(PACKAGE, "models:/iris/1", chosen, items, list(skipped), CPU, metric="accuracy", bound=bound,
                          batch_sizes=list(sizes), rows=45, seconds=3.2, budget_minutes=1.0)
    return json.loads(json.dumps(report))  # as report.json holds it


def picked_report() -> dict:
    return report_of([measured("baseline", {1: 1.0, 32: 10.0}, family="baseline", size=4000),
                      measured("onnx-fp32", {1: 0.5, 32: 4.0}), measured("int8", {1: 0.4, 32: 3.0}, loss_value=0.05, size=300),
                      measured("broken", {}, error="quantizer failed")],
                     skipped=[Skipped("pruning", "not built yet")])


def kept_report() -> dict:
    return report_of([measured("baseline", {1: 1.0}, family="baseline"), measured("onnx-fp32", {1: 1.2})], sizes=(1,))


def test_verdicts_split_into_a_word_and_a_reason():
    assert split_verdict("lost: within the bound, but slower") == ("lost", "within the bound, but slower")
    assert split_verdict("not packaged: no package") == ("not packaged", "no package")
    assert split_verdict("not timed at batch size(s) 32") == ("not timed", "at batch size(s) 32")
    assert split_verdict("not scored") == ("not scored", "")
    assert split_verdict("something else: entirely") == ("", "something else: entirely")


def test_a_pick_reads_as_picked_with_its_reason_and_one_row_marked_won():
    report = picked_report()
    outcome, reason = report_headline(report)
    assert outcome == "Picked onnx-fp32" and reason.startswith("fastest within the bound at batch 1, 2.00x the baseline")
    rows = {row["variant"]: row for row in rows_for_table(report)}
    assert [name for name, row in rows.items() if row["verdict"] == "won"] == ["onnx-fp32"]
    assert rows["int8"]["verdict"] == "lost" and "more than the" in rows["int8"]["reason"]
    assert rows["baseline"]["verdict"] == "lost" and rows["baseline"]["reason"] == "onnx-fp32 is 2.00x faster within the bound"
    assert rows["broken"]["verdict"] == "failed" and rows["broken"]["reason"] == "quantizer failed"
    assert [name for name, _ in report_columns(report)] == list(rows["int8"])  # every row has the declared columns, in order


def test_keeping_the_original_says_so_and_marks_the_baseline():
    report = kept_report()
    outcome, reason = report_headline(report)
    assert outcome == "Kept the original model"
    assert reason == "no variant was faster than the baseline within the bound; the original model is kept"
    rows = {row["variant"]: row for row in rows_for_table(report)}
    assert rows["baseline"]["verdict"] == "won" and rows["onnx-fp32"]["verdict"] == "lost"
    assert "slower than the baseline at batch 1" in rows["onnx-fp32"]["reason"]


def test_the_summary_metrics_hold_the_whole_report_as_the_studio_reads_it():
    report = picked_report()
    summary = report_metrics(report)
    stored = json.loads(json.dumps(summary.to_json(), sort_keys=True))  # as the artifact store writes a Metrics
    values, tables = stored["metrics"], stored["tables"]
    assert values["tidal_optimize"] == 1 and values["winner"] == "onnx-fp32" and values["kept_original"] is False
    assert (values["outcome"], values["reason"]) == report_headline(report)
    assert values["cpu"] == "Test CPU 9000 (x86_64), 2 usable CPUs" and values["vnni"] is True
    assert values["cpu_flags"] == "avx2, avx512_vnni" and "amx_int8" in values["cpu_flags_absent"]
    assert "accuracy, max loss 1% of the baseline's score" in values["settings"] and "models:/iris/1" in values["settings"]
    assert [item["name"] for item in tables["columns"]] == [name for name, _ in report_columns(report)]
    assert [item["title"] for item in tables["columns"]][2:4] == ["p50 ms b1", "p99 ms b1"]
    assert [row["variant"] for row in tables["variants"]] == ["baseline", "onnx-fp32", "int8", "broken"]
    assert tables["skipped"] == [{"variant": "pruning", "reason": "not built yet"}]
    assert sorted(stored["figures"]) == ["latency_vs_loss", "size"]


def test_the_charts_mark_the_pick_the_original_s_latency_and_the_bound():
    report = picked_report()
    scatter, bars = charts(report)["latency_vs_loss"], charts(report)["size"]
    points = scatter["layer"][0]["data"]["values"]
    assert {point["variant"]: point["role"] for point in points} == {"baseline": "original", "onnx-fp32": "picked", "int8": "other"}
    assert [point["variant"] for point in scatter["layer"][1]["data"]["values"]] == ["onnx-fp32"]  # the pick, labelled
    rules = [layer["data"]["values"][0] for layer in scatter["layer"][2:]]
    assert rules == [{"p50_ms": 1.0, "rule": "the original's latency"},
                     {"loss": report["allowed_loss"], "rule": "the accuracy bound"}]
    labels = [item["label"] for item in bars["data"]["values"]]
    assert "onnx-fp32 (picked)" in labels and "int8" in labels and len(labels) == 4


def test_the_html_page_reads_as_the_studio_does():
    report = picked_report()
    page = html_page(report)
    outcome, reason = report_headline(report)
    assert f"<h2>{outcome}</h2><p>{reason}</p>" in page
    titles = re.findall(r"<th>(.*?)</th>", page)
    assert titles == [title for _, title in report_columns(report)]
    assert re.search(r'<tr class="picked"><td>onnx-fp32</td>', page)
    assert page.count('<tr class="picked">') == 1 and '<tr class="not-run"><td>broken</td>' in page
    assert 'data-chart="latency_vs_loss"' in page and 'data-chart="size"' in page
    assert "flags: avx2, avx512_vnni · without: fma, avx512f" in page and "VNNI: yes" in page
    assert "pruning</b>: not built yet" in page
    kept = html_page(kept_report())
    assert '<div class="outcome kept" id="outcome"><h2>Kept the original model</h2>' in kept


def test_the_terminal_table_marks_the_pick_and_states_the_outcome():
    report = picked_report()
    console = Console(width=250, record=True)
    console.print(report_table(report))
    text = console.export_text()
    assert "Picked onnx-fp32: fastest within the bound" in text
    assert "quantizer failed" in text and "p50 ms b32" in text
    assert "CPU: Test CPU 9000 (x86_64), 2 usable CPUs · flags: avx2, avx512_vnni · without: fma" in text
