"""The study store on SQLite and on a real PostgreSQL server: the same suite for both."""

from __future__ import annotations

import pytest

from tidal.automl import StudyRecord, StudyStore, TrialRecord
from tidal.core import NotFound
from tidal.store import MetadataStore
from tidal.store._metadata import now


def make_study(store: StudyStore, study_id: str = "20260101-000000-aaaaaa", name: str = "bc") -> StudyRecord:
    record = StudyRecord(id=study_id, name=name, status="created", direction="maximize", metric="auc", strategy="random",
                         budget=5, config={"trainer": "classification.lightgbm", "space": {"C": {"type": "float", "low": 1, "high": 2}}},
                         created_at=now())
    return store.create_study(record, pid=123)


def test_migration_creates_the_study_tables_next_to_the_core_ones(metadata_url):
    metadata = MetadataStore(metadata_url)
    assert {"automl_studies", "automl_trials", "runs", "node_runs"} <= set(metadata.tables())
    metadata.close()
    MetadataStore(metadata_url).close()  # opening again is a no-op


def test_studies_round_trip_find_by_prefix_or_name(metadata_url):
    metadata = MetadataStore(metadata_url)
    store = StudyStore(metadata.engine)
    make_study(store)
    make_study(store, "20260102-000000-bbbbbb", name="other")
    assert [s.id for s in store.list_studies()] == ["20260102-000000-bbbbbb", "20260101-000000-aaaaaa"]
    record = store.get_study("20260101-000000-aaaaaa")
    assert record.config["space"]["C"]["high"] == 2 and record.created_at.tzinfo is not None
    assert store.get_study("20260101").id == record.id
    assert store.get_study("other").id == "20260102-000000-bbbbbb"
    assert store.study_pid(record.id) == 123
    store.update_study(record.id, status="succeeded", best_trial=2, best_value=0.98, best_model_uri="file:///m.zip")
    updated = store.get_study(record.id)
    assert (updated.status, updated.best_trial, updated.best_value) == ("succeeded", 2, 0.98)
    with pytest.raises(NotFound, match="no study 'nope'"):
        store.get_study("nope")
    metadata.close()


def test_a_trial_row_is_replaced_when_the_trial_ends(metadata_url):
    metadata = MetadataStore(metadata_url)
    store = StudyStore(metadata.engine)
    study = make_study(store)
    started = TrialRecord(study.id, 0, "running", params={"C": 1.5, "kind": "a"}, meta={"round": 0}, attempts=1, started_at=now())
    store.save_trial(started)
    store.save_trial(TrialRecord(study.id, 1, "running", params={"C": 1.2}, attempts=1, started_at=now()))
    assert [t.status for t in store.trials(study.id)] == ["running", "running"]
    started.status, started.value, started.metrics = "succeeded", 0.97, {"auc": 0.97, "accuracy": 0.9}
    started.finished_at, started.duration_s, started.model_uri = now(), 1.25, "file:///objects/x.model.zip"
    store.save_trial(started)
    store.save_trial(TrialRecord(study.id, 1, "timeout", params={"C": 1.2}, error="timed out after 2 s", error_kind="timeout", attempts=1))
    trials = store.trials(study.id)
    assert [(t.number, t.status) for t in trials] == [(0, "succeeded"), (1, "timeout")]
    assert trials[0].params == {"C": 1.5, "kind": "a"} and trials[0].meta == {"round": 0}
    assert trials[0].metrics["accuracy"] == 0.9 and trials[0].finished_at.tzinfo is not None
    assert trials[1].error == "timed out after 2 s"
    assert store.trials("unknown") == []
    metadata.close()
