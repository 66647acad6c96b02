"""A model server's ``/metrics`` page in a few numbers: requests, errors, latency percentiles, traffic by version.

::

    summary = metrics_summary(service.metrics_text())
    summary["latency_ms"]["p95"], summary["errors"], summary["versions"]
    request_rate(earlier, summary, seconds=10.0)       # requests per second between two summaries

Percentiles come from the latency histogram's buckets as Prometheus's ``histogram_quantile``
computes them (linear within the bucket), over every request since the server started. A
request is an error when its status is not 2xx (HTTP) and not ``OK`` (gRPC).
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tidal.core._errors import TidalError

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
#: the largest metrics page read (a server's page is a few kB)
MAX_TEXT = 4 * 1024 * 1024


def is_error(status: str) -> bool:
    return not (status.startswith("2") or status == "OK")


def histogram_quantile(quantile: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``quantile`` of a histogram given as (upper bound, cumulative count) pairs; None with no observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = quantile * total
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if bound == float("inf"):  # past the last finite bucket: its bound is the best estimate
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = bound, count
    return lower


def metrics_summary(text: str) -> dict[str, Any]:
    """Requests, errors by status, latency p50/p95/p99 (ms), in-flight requests and per-version traffic."""
    if len(text) > MAX_TEXT:
        raise TidalError(f"the metrics page has {len(text)} characters; at most {MAX_TEXT} are read")
    statuses: dict[str, float] = {}
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    buckets: dict[float, float] = {}
    in_flight = 0.0
    follow: dict[str, int] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError) as error:
        raise TidalError(f"the metrics page is not Prometheus text: {error}") from None
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "tidal_requests_total":
                status = labels.get("status", "")
                statuses[status] = statuses.get(status, 0.0) + sample.value
                row = versions.setdefault((labels.get("model", ""), labels.get("version", "")),
                                          {"requests": 0.0, "errors": 0.0, "loaded": False})
                row["requests"] += sample.value
                if is_error(status):
                    row["errors"] += sample.value
            elif sample.name == "tidal_request_latency_seconds_bucket":
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == "tidal_model_loaded":
                row = versions.setdefault((labels.get("model", ""), labels.get("version", "")),
                                          {"requests": 0.0, "errors": 0.0, "loaded": False})
                row["loaded"] = sample.value >= 1
            elif sample.name == "tidal_in_flight_requests":
                in_flight = sample.value
            elif sample.name == "tidal_follow_registry_version":
                follow[labels.get("model", "")] = int(sample.value)
    latency = {name: histogram_quantile(value, list(buckets.items())) for name, value in QUANTILES.items()}
    return {
        "requests": int(sum(statuses.values())),
        "errors": int(sum(count for status, count in statuses.items() if is_error(status))),
        "statuses": {status: int(count) for status, count in sorted(statuses.items())},
        "latency_ms": {name: None if value is None else round(value * 1000, 3) for name, value in latency.items()},
        "in_flight": int(in_flight),
        "versions": [
            {"model": model, "version": version, "requests": int(row["requests"]), "errors": int(row["errors"]),
             "loaded": bool(row["loaded"])}
            for (model, version), row in sorted(versions.items())
        ],
        "follow_target": follow,
    }


def request_rate(earlier: dict[str, Any], later: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Requests per second between two summaries ``seconds`` apart: overall, errors, and per model version."""
    if seconds <= 0:
        return {"requests_per_s": None, "errors_per_s": None, "by_version": {}}
    before = {(row["model"], row["version"]): row["requests"] for row in earlier["versions"]}
    per_version = {
        f"{row['model']}/{row['version']}": round(max(0, row["requests"] - before.get((row["model"], row["version"]), 0)) / seconds, 3)
        for row in later["versions"]
    }
    return {
        "requests_per_s": round(max(0, later["requests"] - earlier["requests"]) / seconds, 3),
        "errors_per_s": round(max(0, later["errors"] - earlier["errors"]) / seconds, 3),
        "by_version": per_version,
    }
