"""Task logs: task_logs, log_contents and task_instances.queued_time.

task_logs: where each try's log went; log_contents: the logs the database log store
keeps (gzip); task_instances.queued_time: when each try's pod was created.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's column types (see 0001).
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("task_instances") as batch:
        batch.add_column(sa.Column("queued_time", TIME, nullable=True))
    op.create_table(
        "task_logs",
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("task_name", sa.String(length=253), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("store", sa.String(length=16), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("pod_name", sa.String(length=253), nullable=True),
        sa.Column("node_name", sa.String(length=253), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("cut_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dag_runs.id"],
            name=op.f("fk_task_logs_run_id_dag_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "task_name", "try_number", name=op.f("pk_task_logs")),
    )
    op.create_table(
        "log_contents",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_log_contents")),
    )


def downgrade() -> None:
    op.drop_table("log_contents")
    op.drop_table("task_logs")
    with op.batch_alter_table("task_instances") as batch:
        batch.drop_column("queued_time")
