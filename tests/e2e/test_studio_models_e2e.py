"""The Models page in headless Chromium: register a run's model under an alias, deploy it, send a request from
the form built from its signature and see it counted in the service's metrics; register a second version,
promote the alias and see the traffic move to it. The screenshot goes to docs/images/."""

from __future__ import annotations

from pathlib import Path

import pytest
from models_workspace import ROW

pytestmark = pytest.mark.slow
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def text_is(page, test_id: str, text: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-testid={test_id}]')?.textContent === {text!r}", timeout=timeout)


def send_row(page) -> None:
    for name, value in ROW.items():
        page.get_by_test_id(f"field-{name}").fill(str(value))
    page.get_by_test_id("infer-send").click()


def test_register_deploy_send_and_promote(models_studio_server, browser):
    url, workspace = models_studio_server
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.get_by_test_id("view-models").click()

    # register the first run's model as "cancer", alias production
    outputs = page.get_by_test_id("register-output").locator("option")
    outputs.nth(1).wait_for(state="attached", timeout=30_000)
    labels = outputs.all_inner_texts()
    assert len(labels) == 2 and all("train.output" in label for label in labels), labels
    page.get_by_test_id("register-output").select_option(index=1)  # newest first: index 1 is the first run
    page.get_by_test_id("register-name").fill("cancer")
    page.get_by_test_id("register-alias").fill("production")
    page.get_by_test_id("register-submit").click()
    page.get_by_test_id("model-row-cancer").wait_for()
    text_is(page, "alias-production", "production → 1")
    row = page.get_by_test_id("version-1").inner_text()
    assert "node train" in row and "eval." in row  # the metrics of the run that made it
    assert "mean_radius: float64" in page.get_by_test_id("signature").inner_text()

    # deploy the alias, then send a request from the form
    page.get_by_test_id("deploy-target").select_option("alias:production")
    page.get_by_test_id("deploy-submit").click()
    text_is(page, "service-state-cancer-production", "ready", timeout=90_000)
    page.get_by_test_id("service-row-cancer-production").click()
    page.get_by_test_id("field-mean_radius").wait_for()
    send_row(page)
    page.get_by_test_id("infer-answer").wait_for()
    assert page.get_by_test_id("infer-answer").inner_text().startswith("version 1 answered 200")
    text_is(page, "metric-requests", "1")
    page.get_by_test_id("traffic-1").wait_for()
    assert page.get_by_test_id("metric-p50").inner_text().endswith("ms")

    # a second version from the other run; promote production to it: the service follows, traffic moves
    page.get_by_test_id("register-output").select_option(index=0)
    page.get_by_test_id("register-alias").fill("")
    page.get_by_test_id("register-submit").click()
    page.get_by_test_id("version-2").wait_for()
    page.get_by_test_id("promote-alias").fill("production")
    page.get_by_test_id("promote-version").select_option("2")
    page.get_by_test_id("promote-submit").click()
    text_is(page, "alias-production", "production → 2")
    page.wait_for_function("document.querySelector('[data-testid=service-detail]')?.textContent.includes('serving version 2')",
                           timeout=30_000)
    send_row(page)
    page.wait_for_function("document.querySelector('[data-testid=infer-answer]')?.textContent.startsWith('version 2 answered 200')")
    page.get_by_test_id("traffic-2").wait_for(timeout=30_000)
    text_is(page, "metric-requests", "2")
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "studio-models.png"))

    # the version links to the run that made it: its pipeline opens with that run's statuses
    made_by = page.get_by_test_id("version-run-1").inner_text()  # "run RUN_ID · node train"
    run_id = made_by.split()[1]
    page.get_by_test_id("version-run-1").click()
    page.get_by_test_id("node-train").wait_for(timeout=30_000)
    text_is(page, "run-id", f"run {run_id} · succeeded")
    assert (workspace / ".tidal" / "services" / "cancer-production.yaml").exists()
    assert errors == []
