"""One store test suite, run on SQLite and on a real PostgreSQL server (STYLE rule 6)."""

from __future__ import annotations

import pytest

import tidal
from tidal.core import NotFound
from tidal.store import ArtifactRecord, MetadataStore, NodeRunRecord, RunRecord, Workspace
from tidal.store._metadata import now


def make_run(store: MetadataStore, run_id: str = "r1", status: str = "running") -> RunRecord:
    return store.create_run(RunRecord(id=run_id, pipeline_name="p", pipeline_yaml="tidal: 1", status=status, created_at=now(),
                                      options={"workers": 2}))


def artifact(run_id: str, node: str, port: str = "output", key: str = "k1") -> ArtifactRecord:
    return ArtifactRecord(run_id=run_id, node_id=node, port=port, type="Table", uri=f"file:///x/{node}", content_hash="h" * 64,
                          size_bytes=10, cache_key=key, meta={"rows": 3})


def test_schema_is_created_by_migrations(metadata_url):
    store = MetadataStore(metadata_url)
    assert {"runs", "node_runs", "artifacts", "alembic_version"} <= set(store.tables())
    MetadataStore(metadata_url).close()  # opening again is a no-op migration
    store.close()


def _open_when_told(url: str, start, failures) -> None:
    start.wait(30)
    try:
        MetadataStore(url).close()
    except Exception as error:  # reported to the test, which names it
        failures.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_new_database_at_once_migrate_it_one_after_another(metadata_url):
    """A CLI run and the Studio may open a new workspace at the same moment: each migration takes the
    database's write lock first, so the later ones find the schema there instead of creating it again."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    start, failures = context.Event(), context.Queue()
    openers = [context.Process(target=_open_when_told, args=(metadata_url, start, failures)) for _ in range(4)]
    for process in openers:
        process.start()
    start.set()
    for process in openers:
        process.join(60)
    errors = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert not errors and all(process.exitcode == 0 for process in openers), errors
    store = MetadataStore(metadata_url)
    assert {"runs", "node_runs", "artifacts", "alembic_version"} <= set(store.tables())
    store.close()


def test_runs_round_trip_and_list_newest_first(metadata_url):
    store = MetadataStore(metadata_url)
    make_run(store, "r1")
    make_run(store, "r2", status="failed")
    assert [run.id for run in store.list_runs()] == ["r2", "r1"]
    assert [run.id for run in store.list_runs(status="failed")] == ["r2"]
    store.update_run("r1", status="succeeded")
    record = store.get_run("r1")
    assert record.status == "succeeded" and record.options == {"workers": 2} and record.created_at.tzinfo is not None
    with pytest.raises(NotFound, match="no run 'nope'"):
        store.get_run("nope")
    store.close()


def test_node_run_and_outputs_are_written_together(metadata_url):
    store = MetadataStore(metadata_url)
    make_run(store)
    record = NodeRunRecord(run_id="r1", node_id="a", component="data.split", component_version="1", status="running", attempts=1)
    store.save_node_run(record)
    record.status, record.cache_key, record.duration_s = "succeeded", "k1", 0.5
    store.save_node_run(record, [artifact("r1", "a", "train"), artifact("r1", "a", "test")])
    assert [r.status for r in store.node_runs("r1")] == ["succeeded"]
    assert {a.port for a in store.artifacts("r1", "a")} == {"train", "test"}
    cached = store.cached_outputs("k1")
    assert len(cached) == 1 and {a.port for a in cached[0]} == {"train", "test"}
    assert store.cached_outputs("unknown") == []
    store.close()


def test_several_node_runs_saved_at_once_read_as_if_saved_one_by_one(metadata_url):
    """A scheduling round's records in one call: each node ends with its last record, keeps the place of its
    first, and keeps the outputs it was last saved with (a later record without outputs leaves them)."""
    from dataclasses import replace

    store = MetadataStore(metadata_url)
    make_run(store)
    store.save_node_run(NodeRunRecord(run_id="r1", node_id="z", component="c", component_version="1", status="succeeded"),
                        [artifact("r1", "z", "old")])
    running = {node: NodeRunRecord(run_id="r1", node_id=node, component="c", component_version="1", status="running")
               for node in ("b", "a", "z")}
    store.save_node_runs([
        (running["b"], None), (running["a"], None),
        (replace(running["b"], status="succeeded", cache_key="kb"), [artifact("r1", "b", "first")]),
        (replace(running["b"], status="succeeded", cache_key="kb"), [artifact("r1", "b", "second")]),
        (replace(running["a"], status="failed", error="boom"), None),
        (running["z"], None),
    ])
    assert [(r.node_id, r.status) for r in store.node_runs("r1")] == [("z", "running"), ("b", "succeeded"), ("a", "failed")]
    assert [a.port for a in store.artifacts("r1", "b")] == ["second"]
    assert [a.port for a in store.artifacts("r1", "z")] == ["old"]  # saved again without outputs: kept
    assert store.artifacts("r1", "a") == [] and store.node_run("r1", "a").error == "boom"
    store.save_node_runs([])
    store.close()


def test_failed_node_runs_are_not_cache_hits(metadata_url):
    store = MetadataStore(metadata_url)
    make_run(store)
    failed = NodeRunRecord(run_id="r1", node_id="a", component="c.x", component_version="1", status="failed", cache_key="k9")
    store.save_node_run(failed, [artifact("r1", "a", key="k9")])
    assert store.cached_outputs("k9") == []
    store.close()


def test_a_pipeline_runs_on_this_backend(metadata_url, tmp_path):
    ws = Workspace.open(tmp_path, db=metadata_url)
    pipeline = tidal.Pipeline("on-backend")
    pipeline.add("testing.source", "src")
    pipeline.add("testing.score", "m", inputs={"data": "src"})
    first = tidal.run(pipeline, workspace=ws, workers=0)
    second = tidal.run(pipeline, workspace=ws, workers=0)
    assert first.ok and all(record.cached for record in second.nodes.values())
    ws.close()


def test_the_schema_heads_known_without_alembic_are_alembics_heads(tmp_path):
    """Opening a store skips alembic when the database is at SCHEMA_HEADS: they must be the migrations' heads."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tidal.store._metadata import MIGRATIONS, SCHEMA_HEADS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert set(ScriptDirectory.from_config(config).get_heads()) == SCHEMA_HEADS
    store = MetadataStore(f"sqlite:///{tmp_path / 'fresh.db'}")  # a new database goes through alembic
    assert {"runs", "node_runs", "alembic_version"} <= set(store.tables())
    store.close()
