"""Plain records of studies and trials, as stored in the metadata database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: statuses a trial ends in; "running" and "pending" are not final
FINISHED = ("succeeded", "failed", "pruned", "timeout", "crashed")


@dataclass
class TrialRecord:
    study_id: str
    number: int
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: strategy bookkeeping: round, generation, member, parent, steps, intermediate values
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    attempts: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    model_uri: str | None = None
    log_uri: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "value": self.value,
            "params": self.params,
            "metrics": self.metrics,
            "meta": self.meta,
            "error": self.error,
            "error_kind": self.error_kind,
            "attempts": self.attempts,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "model_uri": self.model_uri,
            "log_uri": self.log_uri,
        }


@dataclass
class StudyRecord:
    id: str
    name: str
    status: str
    direction: str
    metric: str
    strategy: str
    budget: int
    #: everything needed to resume: objective, space, strategy options, data URIs, seed, workers
    config: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    best_trial: int | None = None
    best_value: float | None = None
    best_model_uri: str | None = None
    error: str | None = None
