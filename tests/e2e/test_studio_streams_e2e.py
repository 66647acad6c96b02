"""The Studio's stream jobs tab in headless Chromium: a job's progress and its gate's metric, refreshed while it runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tidal.stream import parse_job
from tidal.stream._runner import StreamJob

pytestmark = pytest.mark.slow


def _append_events(root, start: int, rows: int) -> None:
    rng = np.random.default_rng(start)
    X = rng.normal(size=(rows, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    with open(root / "events.jsonl", "a") as handle:
        for (a, b), label in zip(X, y, strict=True):
            handle.write(json.dumps({"x1": a, "x2": b, "y": int(label)}) + "\n")


def _run(root) -> None:
    data = {"tidal-stream": 1, "name": "clicks", "source": {"kind": "file", "path": "events.jsonl"}, "batch": {"max_rows": 500},
            "steps": [{"id": "learn", "component": "stream.learn_ftrl",
                       "params": {"label": "y", "features": ["x1", "x2"], "snapshot_every": 1000}}],
            "sinks": [{"kind": "files", "path": "out"}], "model": {"name": "clicks"}}
    job = StreamJob(parse_job(data, root))
    try:
        job.run(until_idle=True)
    finally:
        job.close()


def test_the_streams_tab_shows_a_job_and_follows_its_progress(studio_server, browser, artifacts_dir):
    url, workspace = studio_server
    _append_events(workspace, 0, 2000)
    _run(workspace)
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.get_by_test_id("tab-streams").click()
    row = page.get_by_test_id("stream-clicks")
    row.wait_for(timeout=20_000)
    assert "stopped" in row.inner_text() and "2,000" in row.inner_text()
    metric = page.get_by_test_id("stream-clicks-metric")
    assert metric.inner_text().startswith("log loss 0.") and "snapshot 2, v2" in metric.inner_text()
    page.screenshot(path=str(artifacts_dir / "studio-streams.png"))
    _append_events(workspace, 1, 1000)       # the job runs again on new events: the tab refreshes by itself
    _run(workspace)
    page.wait_for_function("document.querySelector('[data-testid=stream-clicks]').innerText.includes('3,000')", timeout=20_000)
    assert "snapshot 3, v3" in metric.inner_text()
    assert errors == []
