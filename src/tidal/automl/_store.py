"""The study store: studies and their trials in the workspace's metadata database.

Two tables (created by migration ``0003``), written through SQLAlchemy Core so that SQLite and
PostgreSQL behave the same. A trial row is written when it starts and replaced when it ends,
so a study killed at any moment knows which trials finished and which must run again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)

from tidal.automl._records import StudyRecord, TrialRecord
from tidal.core._errors import NotFound

metadata = MetaData()

studies = Table(
    "automl_studies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("strategy", String(40), nullable=False),
    Column("budget", Integer, nullable=False),
    Column("config", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("best_trial", Integer),
    Column("best_value", Float),
    Column("best_model_uri", Text),
    Column("error", Text),
    Column("pid", Integer),
    Index("ix_automl_studies_created_at", "created_at"),
)

trials = Table(
    "automl_trials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", String(40), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("params", JSON),
    Column("value", Float),
    Column("metrics", JSON),
    Column("meta", JSON),
    Column("error", Text),
    Column("error_kind", String(20)),
    Column("attempts", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("duration_s", Float),
    Column("model_uri", Text),
    Column("log_uri", Text),
    UniqueConstraint("study_id", "number", name="uq_automl_trials_study_number"),
)


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _record(cls: type, row: Any) -> Any:
    names = {item.name for item in fields(cls)}
    return cls(**{key: _utc(value) for key, value in row._mapping.items() if key in names})


def _values(record: Any) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record)}


class StudyStore:
    """Studies and trials over one SQLAlchemy engine (the workspace's metadata database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- studies --------------------------------------------------------------------------------
    def create_study(self, record: StudyRecord, pid: int | None = None) -> StudyRecord:
        with self.engine.begin() as connection:
            connection.execute(studies.insert().values(**_values(record), pid=pid))
        return record

    def update_study(self, study_id: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(studies).where(studies.c.id == study_id).values(**values))

    def get_study(self, study_id: str) -> StudyRecord:
        with self.engine.connect() as connection:
            row = connection.execute(select(studies).where(studies.c.id == study_id)).first()
            if row is None:
                matches = connection.execute(
                    select(studies.c.id).where(studies.c.id.startswith(study_id, autoescape=True) | (studies.c.name == study_id))
                    .order_by(studies.c.created_at.desc())
                ).all()
                if matches and (len(matches) == 1 or not matches[0][0].startswith(study_id)):
                    row = connection.execute(select(studies).where(studies.c.id == matches[0][0])).first()
        if row is None:
            raise NotFound(f"no study '{study_id}' in this workspace; see `tidal studies list`")
        return _record(StudyRecord, row)  # type: ignore[no-any-return]

    def study_pid(self, study_id: str) -> int | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(studies.c.pid).where(studies.c.id == study_id)).first()
        return None if row is None else row[0]

    def list_studies(self, limit: int = 50) -> list[StudyRecord]:
        query = select(studies).order_by(studies.c.created_at.desc(), studies.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [_record(StudyRecord, row) for row in connection.execute(query)]

    def trial_counts(self, study_ids: list[str]) -> dict[str, dict[str, int]]:
        """Trials of each study by status (``{"succeeded": 5, "running": 1}``), in one query."""
        found: dict[str, dict[str, int]] = {study_id: {} for study_id in study_ids}
        if not study_ids:
            return found
        query = (select(trials.c.study_id, trials.c.status, func.count()).where(trials.c.study_id.in_(study_ids))
                 .group_by(trials.c.study_id, trials.c.status))
        with self.engine.connect() as connection:
            for study_id, status, count in connection.execute(query):
                found[study_id][status] = int(count)
        return found

    # -- trials ---------------------------------------------------------------------------------
    def save_trial(self, record: TrialRecord) -> None:
        """Insert or replace the trial ``(study, number)``."""
        values = _values(record)
        with self.engine.begin() as connection:
            existing = connection.execute(
                select(trials.c.id).where(trials.c.study_id == record.study_id, trials.c.number == record.number)
            ).first()
            if existing is None:
                connection.execute(trials.insert().values(**values))
            else:
                connection.execute(update(trials).where(trials.c.id == existing[0]).values(**values))

    def trials(self, study_id: str) -> list[TrialRecord]:
        query = select(trials).where(trials.c.study_id == study_id).order_by(trials.c.number)
        with self.engine.connect() as connection:
            return [_record(TrialRecord, row) for row in connection.execute(query)]
