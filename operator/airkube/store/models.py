"""The tables of the metadata database, as SQLAlchemy 2 declarative models.

These describe the schema the migrations in ``migrations/versions`` build; a unit test
checks that the two agree. Change both together (``python -m airkube.store.migrate
revision "what changed"`` drafts the migration).

Rows here outlive the Kubernetes resources: a DAGRun deleted by a history limit keeps
its ``dag_runs`` row and its ``task_instances``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .columns import BigID, JSONDocument, UTCDateTime
from .records import HASH_MAX, NAME_MAX, NAMESPACE_MAX, UID_MAX

# Explicit constraint names, identical on every backend, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
STATE_MAX = 32
RUN_TYPE_MAX = 16
STORE_MAX = 16
LOG_KEY_MAX = 1024


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
    }


class Dag(Base):
    """A DAG resource, by namespace and name, and the spec version last seen."""

    __tablename__ = "dags"

    namespace: Mapped[str] = mapped_column(String(NAMESPACE_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    current_spec_hash: Mapped[str] = mapped_column(String(HASH_MAX))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class DagVersion(Base):
    """One distinct spec of a DAG, by its hash; runs pin one of these."""

    __tablename__ = "dag_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["namespace", "dag_name"], ["dags.namespace", "dags.name"], ondelete="CASCADE"
        ),
    )

    namespace: Mapped[str] = mapped_column(String(NAMESPACE_MAX), primary_key=True)
    dag_name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    spec_hash: Mapped[str] = mapped_column(String(HASH_MAX), primary_key=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class DagRun(Base):
    """One DAGRun resource (one incarnation of a run name: keyed by its uid too).

    ``dag_name`` and ``dag_version`` are plain values, not foreign keys: a run is
    recorded even if its DAG was never seen by this database (e.g. it was deleted
    before the operator started).
    """

    __tablename__ = "dag_runs"
    __table_args__ = (
        UniqueConstraint("namespace", "name", "uid"),
        Index(None, "namespace", "dag_name", "logical_date"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(NAMESPACE_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    uid: Mapped[str] = mapped_column(String(UID_MAX))
    dag_name: Mapped[str] = mapped_column(String(NAME_MAX))
    run_type: Mapped[str] = mapped_column(String(RUN_TYPE_MAX))
    logical_date: Mapped[datetime]
    data_interval_start: Mapped[datetime | None]
    data_interval_end: Mapped[datetime | None]
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(STATE_MAX))
    clear_number: Mapped[int] = mapped_column(Integer)
    dag_version: Mapped[str | None] = mapped_column(String(HASH_MAX))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resource_deleted_at: Mapped[datetime | None]


class TaskInstance(Base):
    """One try of one task of a run."""

    __tablename__ = "task_instances"

    run_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("dag_runs.id", ondelete="CASCADE"), primary_key=True
    )
    task_name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    try_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(STATE_MAX))
    pod_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    queued_time: Mapped[datetime | None]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskLog(Base):
    """Where the log of one try of one task went, captured when the try ended (before
    pod GC): stored (in which log store, under which key), or why not."""

    __tablename__ = "task_logs"

    run_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("dag_runs.id", ondelete="CASCADE"), primary_key=True
    )
    task_name: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    try_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(STATE_MAX))
    store: Mapped[str | None] = mapped_column(String(STORE_MAX))
    key: Mapped[str | None] = mapped_column(Text)
    pod_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    node_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    size: Mapped[int | None] = mapped_column(BigInteger)
    cut_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LogContent(Base):
    """A log kept by the database log store: gzip-compressed, by its key
    (``namespace/dag/run/task/try``)."""

    __tablename__ = "log_contents"

    key: Mapped[str] = mapped_column(String(LOG_KEY_MAX), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
