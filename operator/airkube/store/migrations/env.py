"""Alembic's environment: runs the migrations on the connection airkube hands over.

:func:`airkube.store.migrate.upgrade` passes an open connection in
``config.attributes["connection"]``; there is no ini file and no offline mode.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, text

from airkube.store.columns import UTCDateTime
from airkube.store.migrate import ADVISORY_LOCK_KEY, VERSION_TABLE
from airkube.store.models import Base


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Draft migrations with plain SQLAlchemy types, so they stay frozen."""
    if kind != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON):
        autogen.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through airkube.store.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    compare_type=True,
    render_item=render_item,
    # SQLite cannot ALTER most things: let autogenerate draft batch (copy-and-move) operations.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends: concurrent replicas migrate one at a time,
        # and the later ones find the version table already at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    context.run_migrations()
