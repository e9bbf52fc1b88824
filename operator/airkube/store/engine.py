"""Turning a database URL into a configured SQLAlchemy engine.

Two backends:

* SQLite, the embedded default: ``sqlite:////var/lib/airkube/airkube.db`` (four
  slashes for an absolute path, three for a relative one; ``~`` is expanded). The
  parent directory is created. Each connection turns on WAL (readers never block the
  writer), foreign keys and a busy timeout; transactions are begun by us so that a
  writing one takes the write lock up front (``BEGIN IMMEDIATE``) instead of failing
  to upgrade its lock later.
* PostgreSQL through psycopg 3: ``postgresql+psycopg://user:pw@host:5432/db``. A plain
  ``postgresql://`` or ``postgres://`` URL is accepted and given the psycopg driver.

Any problem with the URL raises :class:`StoreError` naming it (password masked).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from .errors import StoreError, mask_url

SQLITE_BUSY_TIMEOUT_S: Final = 15.0
PG_CONNECT_TIMEOUT_S: Final = 10
# The execution option that makes the next SQLite transaction a writing one.
SQLITE_BEGIN_OPTION: Final = "airkube_sqlite_begin"
EXAMPLES: Final = (
    "sqlite:////var/lib/airkube/airkube.db or postgresql://user:password@host:5432/airkube"
)


def parse_url(url: str | URL) -> URL:
    """The URL parsed and normalised to a driver we ship (psycopg 3 for PostgreSQL)."""
    raw = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: e.g. a port that is not a number
        detail = "" if isinstance(e, ArgumentError) else f" ({e})"
        raise StoreError(
            f"cannot parse the metadata database URL {mask_url(raw)!r}{detail}: use {EXAMPLES}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise StoreError(
                f"metadata database URL {masked(parsed)}: driver {driver!r} is not shipped "
                "with airkube; use postgresql:// or postgresql+psycopg://"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise StoreError(
                f"metadata database URL {masked(parsed)}: use sqlite:///path (driver {driver!r} "
                "is not supported)"
            )
        if (
            not parsed.database
            or parsed.database == ":memory:"
            or parsed.query.get("mode") == "memory"
        ):
            raise StoreError(
                f"metadata database URL {masked(parsed)} is an in-memory SQLite database, which "
                "would lose the history at every restart; give a file, e.g. "
                "sqlite:////var/lib/airkube/airkube.db"
            )
        return parsed.set(drivername="sqlite+pysqlite")
    raise StoreError(
        f"metadata database URL {masked(parsed)}: backend {backend!r} is not supported; "
        f"use {EXAMPLES}"
    )


def masked(url: URL) -> str:
    """The URL as text, with its password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: str | URL, **engine_args: Any) -> Engine:
    """A configured engine for a SQLite file or a PostgreSQL server (no connection yet)."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, engine_args)
        return _postgresql_engine(parsed, engine_args)
    except (ArgumentError, NoSuchModuleError, ImportError, TypeError) as e:
        raise StoreError(f"metadata database URL {masked(parsed)}: {e}") from None


def _sqlite_engine(url: URL, engine_args: dict[str, Any]) -> Engine:
    assert url.database is not None
    path = Path(url.database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(
            f"metadata database {masked(url)}: cannot create directory {path.parent}: "
            f"{e.strerror}; choose a writable path"
        ) from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"metadata database {masked(url)}: {path} is not readable and writable by this user"
        )
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **engine_args.pop("connect_args", {})}
    engine = create_engine(url.set(database=str(path)), connect_args=connect_args, **engine_args)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgresql_engine(url: URL, engine_args: dict[str, Any]) -> Engine:
    connect_args = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "application_name": "airkube",
        **engine_args.pop("connect_args", {}),
    }
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}
    options.update(engine_args)
    return create_engine(url, connect_args=connect_args, **options)


def writing(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock at BEGIN (no-op on PG)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
