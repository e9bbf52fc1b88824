"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime`: timezone-aware UTC datetimes in and out. PostgreSQL keeps the
  zone (``timestamptz``); SQLite has no zone, so values are stored as naive UTC and
  get their zone back when read. Naive datetimes are refused rather than guessed at.
* :data:`JSONDocument`: portable JSON, stored as ``jsonb`` on PostgreSQL.
* :data:`BigID`: a 64-bit key on PostgreSQL that is still SQLite's auto-incrementing
  ``INTEGER PRIMARY KEY`` (a ``BIGINT`` key is not a rowid alias there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, normalised to UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware (UTC) one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument: Any = JSON().with_variant(postgresql.JSONB(), "postgresql")

BigID: Any = BigInteger().with_variant(Integer(), "sqlite")
