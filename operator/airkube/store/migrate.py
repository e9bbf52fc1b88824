"""Bringing a database's schema up to date with the Alembic migrations in this package.

The migrations ship inside the package (``airkube/store/migrations``) and run
programmatically, without an ``alembic.ini``. Upgrading is idempotent and safe when
several operator replicas start at once: on PostgreSQL the upgrade holds a
transaction-scoped advisory lock, on SQLite a ``BEGIN IMMEDIATE`` write lock, so one
replica migrates while the others wait and then find nothing to do.

For developers, ``python -m airkube.store.migrate revision "what changed"`` drafts
the next migration by comparing the models with a scratch database at head.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from .engine import create_store_engine, writing

SCRIPT_LOCATION: Final = str(Path(__file__).resolve().parent / "migrations")
VERSION_TABLE: Final = "airkube_alembic_version"
# pg_advisory_xact_lock key: "airkube" in ASCII, then 1 for "schema migrations".
ADVISORY_LOCK_KEY: Final = 0x61_69_72_6B_75_62_65_01
# Alembic keeps the running migration in module globals (alembic.context, alembic.op):
# one upgrade at a time per process. Other processes are held off by the database locks.
_UPGRADE_LOCK: Final = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of airkube."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest); a no-op when there."""
    with _UPGRADE_LOCK, writing(engine).connect() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()


def _draft_revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_store_engine(f"sqlite:///{scratch}/draft.db")
        try:
            upgrade(engine)
            with writing(engine).connect() as conn:
                config = alembic_config(conn)
                count = sum(1 for _ in ScriptDirectory.from_config(config).walk_revisions())
                command.revision(
                    config, message=message, autogenerate=True, rev_id=f"{count + 1:04d}"
                )
                conn.commit()
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airkube.store.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate a database to the newest schema")
    up.add_argument("url")
    cur = sub.add_parser("current", help="print the revision a database is at")
    cur.add_argument("url")
    rev = sub.add_parser("revision", help="draft the next migration from the models")
    rev.add_argument("message")
    args = parser.parse_args(argv)
    if args.command == "revision":
        _draft_revision(args.message)
        return 0
    engine = create_store_engine(args.url)
    try:
        if args.command == "upgrade":
            upgrade(engine)
        print(current_revision(engine) or "(empty)")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
