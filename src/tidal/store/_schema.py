"""Metadata tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create and evolve them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("pipeline_name", String(200), nullable=False),
    Column("pipeline_yaml", Text, nullable=False),
    Column("pipeline_path", Text),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("options", JSON),
    Index("ix_runs_created_at", "created_at"),
)

node_runs = Table(
    "node_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("node_id", String(200), nullable=False),
    Column("component", String(200), nullable=False),
    Column("component_version", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("cached", Boolean, nullable=False, default=False),
    Column("cache_key", String(64)),
    Column("source_run_id", String(40)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("duration_s", Float),
    Column("peak_memory_bytes", BigInteger),
    Column("input_rows", BigInteger),
    Column("input_bytes", BigInteger),
    Column("error", Text),
    Column("log_uri", Text),
    UniqueConstraint("run_id", "node_id", name="uq_node_runs_run_node"),
    Index("ix_node_runs_cache_key", "cache_key"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("node_id", String(200), nullable=False),
    Column("port", String(100), nullable=False),
    Column("type", String(20), nullable=False),
    Column("uri", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("cache_key", String(64)),
    Column("meta", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "node_id", "port", name="uq_artifacts_run_node_port"),
    Index("ix_artifacts_cache_key", "cache_key"),
)
