"""The Studies page in headless Chromium: a finished study's trials and charts; start one from the open
pipeline's automl.tune node, watch its trials appear, stop it. The screenshot goes to docs/images/."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def status_is(page, status: str, timeout: float = 120_000) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-testid=study-status]')?.textContent === '{status}'",
        timeout=timeout,
    )


def test_a_finished_study_then_start_and_stop_one(studies_studio_server, browser):
    url, _ = studies_studio_server
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)  # the workspace's only pipeline opens: read, tune_small, tune_long
    page.get_by_test_id("node-tune_long").wait_for(timeout=30_000)

    page.get_by_test_id("view-studies").click()
    page.get_by_test_id("study-row-small").click()
    status_is(page, "succeeded")
    assert page.get_by_test_id("study-title").inner_text() == "small"
    for number in range(6):
        row = page.get_by_test_id(f"trial-{number}")
        row.wait_for()
        assert "succeeded" in row.inner_text()
    assert page.get_by_test_id("study-count").inner_text() == "6 of 6 trials"
    headers = page.get_by_test_id("study-trials").locator("thead th").all_inner_texts()
    assert headers[:3] == ["trial", "status", "auc"] and {
        "C",
        "max_iter",
        "standardize",
        "seconds",
    } <= set(headers)
    for chart in ("best_so_far", "parallel_coordinates", "parameter_importance"):
        page.get_by_test_id(f"chart-{chart}").locator("svg").first.wait_for(timeout=30_000)
    assert page.get_by_test_id(
        "study-stop"
    ).is_disabled()  # finished: nothing to stop, nothing to resume
    assert page.get_by_test_id("study-resume").is_disabled()
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "studio-studies.png"))

    # start a study from the pipeline's other tune node; its trials appear as they finish
    page.get_by_test_id("study-node").select_option("tune_long")
    page.get_by_test_id("study-start").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=study-title]')?.textContent === 'long'",
        timeout=120_000,
    )
    status_is(page, "running")
    page.get_by_test_id("trial-2").wait_for(timeout=120_000)
    page.get_by_test_id("study-row-long").wait_for()
    stop = page.get_by_test_id("study-stop")
    page.wait_for_function("!document.querySelector('[data-testid=study-stop]').disabled")
    stop.click()
    status_is(page, "cancelled")
    page.wait_for_function("!document.querySelector('[data-testid=study-resume]').disabled")
    assert "stopped from the Studio" in page.get_by_test_id("study-detail").inner_text()
    assert errors == []
