"""Timestamps as the API server and kopf write them (RFC 3339, "Z" for UTC)."""

from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """``value`` (a timestamp string or a datetime) as a datetime; None when empty."""
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
