"""The initial schema: dags, dag_versions, dag_runs, task_instances.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's column types (airkube.store.columns): a migration must
# not change when the models do. UTCDateTime's DDL is DateTime(timezone=True).
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dags",
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("current_spec_hash", sa.String(length=128), nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("deleted_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("namespace", "name", name=op.f("pk_dags")),
    )
    op.create_table(
        "dag_versions",
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("dag_name", sa.String(length=253), nullable=False),
        sa.Column("spec_hash", sa.String(length=128), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace", "dag_name"],
            ["dags.namespace", "dags.name"],
            name=op.f("fk_dag_versions_namespace_dag_name_dags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace", "dag_name", "spec_hash", name=op.f("pk_dag_versions")),
    )
    op.create_table(
        "dag_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("dag_name", sa.String(length=253), nullable=False),
        sa.Column("run_type", sa.String(length=16), nullable=False),
        sa.Column("logical_date", TIME, nullable=False),
        sa.Column("data_interval_start", TIME, nullable=True),
        sa.Column("data_interval_end", TIME, nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("clear_number", sa.Integer(), nullable=False),
        sa.Column("dag_version", sa.String(length=128), nullable=True),
        sa.Column("start_time", TIME, nullable=True),
        sa.Column("end_time", TIME, nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("resource_deleted_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_runs")),
        sa.UniqueConstraint(
            "namespace", "name", "uid", name=op.f("uq_dag_runs_namespace_name_uid")
        ),
    )
    op.create_index(
        op.f("ix_dag_runs_namespace_dag_name_logical_date"),
        "dag_runs",
        ["namespace", "dag_name", "logical_date"],
    )
    op.create_table(
        "task_instances",
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("task_name", sa.String(length=253), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("pod_name", sa.String(length=253), nullable=True),
        sa.Column("start_time", TIME, nullable=True),
        sa.Column("end_time", TIME, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dag_runs.id"],
            name=op.f("fk_task_instances_run_id_dag_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "task_name", "try_number", name=op.f("pk_task_instances")
        ),
    )


def downgrade() -> None:
    op.drop_table("task_instances")
    op.drop_index(op.f("ix_dag_runs_namespace_dag_name_logical_date"), table_name="dag_runs")
    op.drop_table("dag_runs")
    op.drop_table("dag_versions")
    op.drop_table("dags")
