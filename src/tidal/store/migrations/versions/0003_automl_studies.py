"""AutoML studies and trials.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "automl_studies",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("strategy", sa.String(40), nullable=False),
        sa.Column("budget", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("best_trial", sa.Integer),
        sa.Column("best_value", sa.Float),
        sa.Column("best_model_uri", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("pid", sa.Integer),
    )
    op.create_index("ix_automl_studies_created_at", "automl_studies", ["created_at"])
    op.create_table(
        "automl_trials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON),
        sa.Column("value", sa.Float),
        sa.Column("metrics", sa.JSON),
        sa.Column("meta", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Float),
        sa.Column("model_uri", sa.Text),
        sa.Column("log_uri", sa.Text),
        sa.UniqueConstraint("study_id", "number", name="uq_automl_trials_study_number"),
    )


def downgrade() -> None:
    op.drop_table("automl_trials")
    op.drop_index("ix_automl_studies_created_at", "automl_studies")
    op.drop_table("automl_studies")
