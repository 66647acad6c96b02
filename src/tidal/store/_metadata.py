"""The metadata store: runs, node runs and artifacts in SQLite (default) or PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.engine import Connection

from tidal.core._errors import NotFound, TidalError
from tidal.store._schema import artifacts, node_runs, runs

MIGRATIONS = Path(__file__).parent / "migrations"
FINISHED = ("succeeded", "cached")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class RunRecord:
    id: str
    pipeline_name: str
    pipeline_yaml: str
    status: str
    created_at: dt.datetime
    pipeline_path: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeRunRecord:
    run_id: str
    node_id: str
    component: str
    component_version: str
    status: str
    cached: bool = False
    cache_key: str | None = None
    source_run_id: str | None = None
    attempts: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    peak_memory_bytes: int | None = None
    input_rows: int | None = None
    input_bytes: int | None = None
    error: str | None = None
    log_uri: str | None = None


@dataclass
class ArtifactRecord:
    run_id: str
    node_id: str
    port: str
    type: str
    uri: str
    content_hash: str
    size_bytes: int
    cache_key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    id: int | None = None


def _record(cls: type, row: Any) -> Any:
    names = {item.name for item in fields(cls)}
    values = {key: value for key, value in row._mapping.items() if key in names}
    for key in ("created_at", "started_at", "finished_at"):
        stamp = values.get(key)
        if isinstance(stamp, dt.datetime) and stamp.tzinfo is None:
            values[key] = stamp.replace(tzinfo=dt.UTC)
    return cls(**values)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as error:
        raise TidalError(f"the database driver for {url.split(':', 1)[0]} is not installed ({error.name}); "
                         "for PostgreSQL install tidal-ml[postgres]") from None


#: the newest migration of each branch; a test checks this against alembic's own reading of the
#: migrations folder, so adding a migration without updating it fails the suite
SCHEMA_HEADS = frozenset({"0002", "0003"})


def _current_heads(connection: Connection) -> set[str] | None:
    """The revisions recorded in ``alembic_version``; None where that table does not exist yet."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


#: the PostgreSQL advisory lock that one process at a time holds while it migrates the schema
_MIGRATION_LOCK = 0x7469_6461_6C00


def _hold_for_migration(connection: Connection) -> None:
    """Take the database's write lock for the rest of this transaction, so that two processes opening a new
    workspace at once (a CLI run and the Studio, say) migrate it one after the other: the second then finds
    it migrated. SQLite: ``BEGIN IMMEDIATE`` (waits up to the busy timeout); PostgreSQL: an advisory lock."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif dialect == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_schema(connection: Connection) -> None:
    """Bring the schema to the newest migration (a no-op when already there).

    A database already at :data:`SCHEMA_HEADS` is recognised with one query, without importing
    alembic (about 0.2 s of every command's start-up); anything else goes through alembic.
    """
    if _current_heads(connection) == SCHEMA_HEADS:
        return
    _hold_for_migration(connection)
    if _current_heads(connection) == SCHEMA_HEADS:  # another process migrated it while this one waited
        return
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return
    from alembic import command

    config.attributes["connection"] = connection
    # each part of Tidal (runs, registry, studies) may add its own branch of migrations from 0001
    command.upgrade(config, "heads")


class MetadataStore:
    """Runs, node runs and artifacts. One implementation over SQLAlchemy serves every backend."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._upsert = _node_run_upsert(self.engine.dialect.name)
        try:
            with self.engine.begin() as connection:
                upgrade_schema(connection)
        except TidalError:
            raise
        except Exception as error:
            raise TidalError(f"cannot open the metadata database {_safe_url(url)}: {error}") from None

    def close(self) -> None:
        self.engine.dispose()

    def tables(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    # -- runs ----------------------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> RunRecord:
        with self.engine.begin() as connection:
            connection.execute(runs.insert().values(**_values(record)))
        return record

    def update_run(self, run_id: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def get_run(self, run_id: str) -> RunRecord:
        with self.engine.connect() as connection:
            row = connection.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None and len(run_id) >= 4:
                matches = connection.execute(select(runs.c.id).where(runs.c.id.startswith(run_id)).limit(6)).all()
                if len(matches) > 1:
                    shown = ", ".join(match[0] for match in matches[:5])
                    raise NotFound(f"run id prefix '{run_id}' matches several runs ({shown}); give more of the id")
                if matches:
                    row = connection.execute(select(runs).where(runs.c.id == matches[0][0])).first()
        if row is None:
            raise NotFound(f"no run '{run_id}' in this workspace; see `tidal runs list`")
        return _record(RunRecord, row)  # type: ignore[no-any-return]

    def list_runs(self, limit: int = 50, status: str | None = None, pipeline: str | None = None) -> list[RunRecord]:
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
        if status:
            query = query.where(runs.c.status == status)
        if pipeline:
            query = query.where(runs.c.pipeline_name == pipeline)
        with self.engine.connect() as connection:
            return [_record(RunRecord, row) for row in connection.execute(query)]

    # -- node runs -------------------------------------------------------------------------------
    def save_node_run(self, record: NodeRunRecord, outputs: list[ArtifactRecord] | None = None) -> None:
        """Insert or replace a node run, with its output artifacts, in one transaction."""
        self.save_node_runs([(record, outputs)])

    def save_node_runs(self, items: list[tuple[NodeRunRecord, list[ArtifactRecord] | None]]) -> None:
        """Insert or replace several node runs (each with its output artifacts), in order, in one transaction."""
        with self.engine.begin() as connection:
            if self._upsert is None:
                for record, outputs in items:
                    self._save_node_run(connection, record, outputs)
                return
            # as if saved one by one, in three statements: each node's last record (a node keeps the place, and so
            # the id, of its first one), and the outputs each node was last saved with
            latest: dict[tuple[str, str], dict[str, Any]] = {}
            outputs_of: dict[tuple[str, str], list[ArtifactRecord]] = {}
            for record, outputs in items:
                key = (record.run_id, record.node_id)
                latest[key] = _values(record)
                if outputs:
                    outputs_of[key] = outputs
            if not latest:
                return
            connection.execute(self._upsert, list(latest.values()))
            if outputs_of:
                nodes_by_run: dict[str, list[str]] = {}
                for run_id, node_id in outputs_of:
                    nodes_by_run.setdefault(run_id, []).append(node_id)
                for run_id, node_ids in nodes_by_run.items():
                    connection.execute(artifacts.delete().where(artifacts.c.run_id == run_id,
                                                                artifacts.c.node_id.in_(node_ids)))
                created = now()
                connection.execute(artifacts.insert(), [
                    {**_values(item, skip=("id",)), "created_at": item.created_at or created}
                    for outputs in outputs_of.values() for item in outputs])

    def _save_node_run(self, connection: Connection, record: NodeRunRecord, outputs: list[ArtifactRecord] | None) -> None:
        values = _values(record)
        if self._upsert is not None:
            connection.execute(self._upsert, values)
        else:
            existing = connection.execute(
                select(node_runs.c.id).where(node_runs.c.run_id == record.run_id, node_runs.c.node_id == record.node_id)
            ).first()
            if existing is None:
                connection.execute(node_runs.insert().values(**values))
            else:
                connection.execute(update(node_runs).where(node_runs.c.id == existing[0]).values(**values))
        if outputs:
            connection.execute(
                artifacts.delete().where(artifacts.c.run_id == record.run_id, artifacts.c.node_id == record.node_id)
            )
            created = now()
            connection.execute(
                artifacts.insert(),
                [{**_values(item, skip=("id",)), "created_at": item.created_at or created} for item in outputs],
            )

    def node_runs(self, run_id: str) -> list[NodeRunRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(node_runs).where(node_runs.c.run_id == run_id).order_by(node_runs.c.id))
            return [_record(NodeRunRecord, row) for row in rows]

    def measured_node_runs(self, component: str, limit: int = 200) -> list[tuple[NodeRunRecord, str]]:
        """The latest computed (not cached) successful runs of ``component`` whose peak memory was measured,
        newest first, each with its pipeline's name: what resource estimates learn from."""
        query = (select(node_runs, runs.c.pipeline_name).join(runs, runs.c.id == node_runs.c.run_id)
                 .where(node_runs.c.component == component, node_runs.c.status == "succeeded",
                        node_runs.c.cached.is_(False), node_runs.c.peak_memory_bytes.is_not(None))
                 .order_by(node_runs.c.id.desc()).limit(limit))
        with self.engine.connect() as connection:
            return [(_record(NodeRunRecord, row), row.pipeline_name) for row in connection.execute(query)]

    def node_run(self, run_id: str, node_id: str) -> NodeRunRecord:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(node_runs).where(node_runs.c.run_id == run_id, node_runs.c.node_id == node_id)
            ).first()
        if row is None:
            raise NotFound(f"run '{run_id}' has no node '{node_id}'")
        return _record(NodeRunRecord, row)  # type: ignore[no-any-return]

    def node_history(self, component: str | None = None, limit: int = 1000) -> list[NodeRunRecord]:
        query = select(node_runs).where(node_runs.c.status == "succeeded").order_by(node_runs.c.id.desc()).limit(limit)
        if component:
            query = query.where(node_runs.c.component == component)
        with self.engine.connect() as connection:
            return [_record(NodeRunRecord, row) for row in connection.execute(query)]

    # -- artifacts -------------------------------------------------------------------------------
    def artifacts(self, run_id: str, node_id: str | None = None) -> list[ArtifactRecord]:
        query = select(artifacts).where(artifacts.c.run_id == run_id)
        if node_id is not None:
            query = query.where(artifacts.c.node_id == node_id)
        with self.engine.connect() as connection:
            return [_record(ArtifactRecord, row) for row in connection.execute(query.order_by(artifacts.c.id))]

    def artifact(self, artifact_id: int) -> ArtifactRecord:
        with self.engine.connect() as connection:
            row = connection.execute(select(artifacts).where(artifacts.c.id == artifact_id)).first()
        if row is None:
            raise NotFound(f"no artifact {artifact_id}")
        return _record(ArtifactRecord, row)  # type: ignore[no-any-return]

    def cached_outputs(self, cache_key: str) -> list[list[ArtifactRecord]]:
        """Output sets recorded under ``cache_key`` by finished node runs, newest first."""
        query = (
            select(node_runs.c.run_id, node_runs.c.node_id)
            .where(node_runs.c.cache_key == cache_key, node_runs.c.status.in_(FINISHED))
            .order_by(node_runs.c.id.desc())
            .limit(5)
        )
        with self.engine.connect() as connection:
            sources = connection.execute(query).all()
            found = []
            for run_id, node_id in sources:
                rows = connection.execute(
                    select(artifacts).where(artifacts.c.run_id == run_id, artifacts.c.node_id == node_id)
                ).all()
                if rows:
                    found.append([_record(ArtifactRecord, row) for row in rows])
        return found


def _node_run_upsert(dialect: str) -> Any:
    """One statement that inserts a node run or replaces the one with its (run, node), built once per store so
    SQLAlchemy compiles it once (a run saves each node two or three times); None for other databases."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:
        return None
    inserted = dialect_insert(node_runs)
    changed = {column.name: inserted.excluded[column.name] for column in node_runs.columns if column.name != "id"}
    return inserted.on_conflict_do_update(index_elements=["run_id", "node_id"], set_=changed)


def _values(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record) if item.name not in skip}


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
