"""``metrics_summary`` and ``request_rate`` over a real server's metrics page, and ``LocalService``'s refusals."""

from __future__ import annotations

import pytest

from tidal.core._errors import TidalError
from tidal.serving import LocalService, ServiceSpec, metrics_summary, request_rate
from tidal.serving._metrics import ServerMetrics
from tidal.serving._metrics_summary import histogram_quantile


def page(observations: list[tuple[str, str, str, float]]) -> str:
    metrics = ServerMetrics()
    for version, route, status, seconds in observations:
        metrics.observe_request("churn", version, route, status, seconds)
    metrics.loaded.labels("churn", "2").set(1)
    metrics.follow_target.labels("churn").set(2)
    return metrics.render().decode()


def test_requests_errors_percentiles_and_versions():
    # 90 fast answers (3 ms, in the 2.5-5 ms bucket), 8 slow ones (0.3 s), 2 refusals (gRPC and HTTP)
    observations = [("1", "v2", "200", 0.003)] * 90 + [("2", "json", "200", 0.3)] * 8
    observations += [("2", "v2", "400", 0.001), ("2", "grpc", "INVALID_ARGUMENT", 0.001)]
    summary = metrics_summary(page(observations))
    assert summary["requests"] == 100 and summary["errors"] == 2
    assert summary["statuses"] == {"200": 98, "400": 1, "INVALID_ARGUMENT": 1}
    # as histogram_quantile: p50 is rank 50 of the 90 in (0.0025, 0.005], linear inside it
    assert summary["latency_ms"]["p50"] == pytest.approx(2.5 + 2.5 * (50 - 2) / 90, abs=1e-3)  # rounded to a microsecond
    assert 250 < summary["latency_ms"]["p95"] <= 500 and summary["latency_ms"]["p99"] <= 500
    versions = {row["version"]: row for row in summary["versions"]}
    assert (versions["1"]["requests"], versions["1"]["errors"], versions["1"]["loaded"]) == (90, 0, False)
    assert (versions["2"]["requests"], versions["2"]["errors"], versions["2"]["loaded"]) == (10, 2, True)
    assert summary["follow_target"] == {"churn": 2}


def test_no_requests_yet_and_rates():
    empty = metrics_summary(page([]))
    assert empty["requests"] == 0 and empty["latency_ms"] == {"p50": None, "p95": None, "p99": None}
    later = metrics_summary(page([("1", "v2", "200", 0.01)] * 20 + [("1", "v2", "500", 0.01)] * 5))
    rates = request_rate(empty, later, seconds=5.0)
    assert rates == {"requests_per_s": 5.0, "errors_per_s": 1.0, "by_version": {"churn/1": 5.0, "churn/2": 0.0}}
    assert request_rate(empty, later, seconds=0)["requests_per_s"] is None


def test_quantiles_past_the_last_bucket_and_bad_pages():
    assert histogram_quantile(0.99, [(0.1, 1.0), (1.0, 1.0), (float("inf"), 10.0)]) == 1.0
    assert histogram_quantile(0.5, []) is None
    with pytest.raises(TidalError, match="not Prometheus text"):
        metrics_summary("tidal_requests_total{model=\"x\" 1\n")


@pytest.mark.parametrize("server,words", [({"admin": True}, "server.admin must be off"),
                                          ({"workers": 2}, "runs one worker")])
def test_a_background_service_refuses_what_it_cannot_run(tmp_path, server, words):
    from tidal.store import Workspace

    spec = ServiceSpec.model_validate({"name": "churn", "models": [{"name": "churn", "versions": [{"source": "models:/churn/1"}]}],
                                       "server": server})
    with pytest.raises(TidalError, match=words):
        LocalService.start(spec, Workspace.open(tmp_path))
    assert not (tmp_path / ".tidal" / "services").exists()  # nothing written, nothing started
