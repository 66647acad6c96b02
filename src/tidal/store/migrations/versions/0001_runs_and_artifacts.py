"""Runs, node runs and artifacts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("pipeline_name", sa.String(200), nullable=False),
        sa.Column("pipeline_yaml", sa.Text, nullable=False),
        sa.Column("pipeline_path", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        sa.Column("options", sa.JSON),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_table(
        "node_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("component", sa.String(200), nullable=False),
        sa.Column("component_version", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("source_run_id", sa.String(40)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Float),
        sa.Column("peak_memory_bytes", sa.BigInteger),
        sa.Column("input_rows", sa.BigInteger),
        sa.Column("input_bytes", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("log_uri", sa.Text),
        sa.UniqueConstraint("run_id", "node_id", name="uq_node_runs_run_node"),
    )
    op.create_index("ix_node_runs_cache_key", "node_runs", ["cache_key"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("port", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("meta", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "node_id", "port", name="uq_artifacts_run_node_port"),
    )
    op.create_index("ix_artifacts_cache_key", "artifacts", ["cache_key"])


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_table("node_runs")
    op.drop_table("runs")
