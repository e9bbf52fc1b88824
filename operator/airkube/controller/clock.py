"""The controller's clock: every decision takes the time from an injected ``Clock`` (the
tests pass a fake one); this is the real one."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
