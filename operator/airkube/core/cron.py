"""Cron in a time zone, as Airflow runs it: wall-clock times and their UTC instants
across daylight-saving changes, and croniter's next/previous fire times (cached)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]

from airkube.api.schedule import CRON_PRESETS

_MAX_TICKS = 100_000
"""A safety bound on the cron times looked at for one step (a DST hour of a minutely
schedule is 60)."""


def as_utc(value: datetime, what: str = "the time") -> datetime:
    """``value`` in UTC; a naive ``value`` is refused (ValueError naming ``what``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, not {value!r}")
    return value.astimezone(UTC)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name`` (validated by the DAG model)."""
    return ZoneInfo(name)


def _offsets(wall: datetime, tz: ZoneInfo) -> tuple[timedelta, timedelta]:
    """The UTC offsets of a naive wall-clock time at fold 0 and fold 1 (PEP 495): equal,
    except in a repeated hour (fold 0 larger) and in a skipped hour (fold 1 larger)."""
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert first is not None
    assert second is not None
    return first, second


def wall_clock_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as an instant, the way Airflow's ``make_aware``
    (fold=1, pendulum's ``convert``) reads it: a repeated time is its second occurrence; a
    time in a DST gap is moved forward by the gap."""
    before, after = _offsets(wall, tz)
    # In a gap, reading the wall time with the offset from before the change moves it
    # forward by the gap; otherwise fold=1's offset is the (second) occurrence's.
    offset = before if before < after else after
    return (wall.replace(tzinfo=None, fold=0) - offset).replace(tzinfo=UTC)


def to_utc(value: datetime, timezone: str) -> datetime:
    """``value`` as an aware UTC datetime: a naive value is wall-clock time in ``timezone``
    (how startDate, endDate and backfill bounds without an offset are read)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return wall_clock_to_utc(value, zone(timezone))
    return value.astimezone(UTC)


class Cron:
    """A cron expression (or preset) read as wall-clock time in a timezone.

    :meth:`next` and :meth:`prev` give the cron time strictly after / before an instant,
    in UTC, with Airflow's DST rules (see the module docstring).
    """

    def __init__(self, expression: str, timezone: str) -> None:
        self.expression = CRON_PRESETS.get(expression, expression)
        self.timezone = timezone
        self._tz = zone(timezone)
        # Airflow's _covers_every_hour: croniter normalises an every-hour field to "*".
        self.every_hour: bool = croniter(self.expression).expanded[1] == ["*"]

    def __repr__(self) -> str:
        return f"Cron({self.expression!r}, {self.timezone!r})"

    def _instants(self, wall: datetime) -> list[datetime]:
        """The instants at which the cron time ``wall`` (naive, local) fires."""
        before, after = _offsets(wall, self._tz)
        if before > after:  # the wall time happens twice
            first = (wall - before).replace(tzinfo=UTC)
            second = (wall - after).replace(tzinfo=UTC)
            return [first, second] if self.every_hour else [second]
        return [wall_clock_to_utc(wall, self._tz)]

    def _local(self, current: datetime) -> tuple[datetime, timedelta]:
        """The naive wall time of ``current`` and, when that wall time happens twice, the
        length of the repeated stretch (else zero)."""
        wall = as_utc(current, "the time").astimezone(self._tz).replace(tzinfo=None, fold=0)
        before, after = _offsets(wall, self._tz)
        return wall, max(before - after, timedelta(0))

    def _walls(self, start: datetime, forward: bool) -> Iterator[datetime]:
        it = croniter(self.expression, start)
        for _ in range(_MAX_TICKS):
            value = it.get_next(datetime) if forward else it.get_prev(datetime)
            assert isinstance(value, datetime)
            yield value
        raise RuntimeError(f"{self!r}: no cron time found near {start}")

    def next(self, current: datetime) -> datetime:
        """The first cron time strictly after ``current``."""
        return _cached_next(self, as_utc(current, "the time"))

    def prev(self, current: datetime) -> datetime:
        """The last cron time strictly before ``current``."""
        return _cached_prev(self, as_utc(current, "the time"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cron) and (self.expression, self.timezone) == (
            other.expression,
            other.timezone,
        )

    def __hash__(self) -> int:
        return hash((self.expression, self.timezone))

    def _next(self, current: datetime) -> datetime:
        wall, repeated = self._local(current)
        best: datetime | None = None
        # Inside a repeated hour, the other occurrence's wall times may still be ahead.
        for candidate in self._walls(wall - repeated, forward=True):
            for instant in self._instants(candidate):
                if instant > current and (best is None or instant < best):
                    best = instant
            if candidate > wall and best is not None:
                return best
        raise AssertionError("unreachable")

    def _prev(self, current: datetime) -> datetime:
        wall, repeated = self._local(current)
        best: datetime | None = None
        for candidate in self._walls(wall + repeated, forward=False):
            for instant in self._instants(candidate):
                if instant < current and (best is None or instant > best):
                    best = instant
            if candidate < wall and best is not None:
                return best
        raise AssertionError("unreachable")

    def align_next(self, current: datetime) -> datetime:
        """``current`` if it is a cron time, else the next one."""
        following = self.next(current)
        return current.astimezone(UTC) if self.prev(following) == current else following

    def align_prev(self, current: datetime) -> datetime:
        """``current`` if it is a cron time, else the previous one."""
        previous = self.prev(current)
        return current.astimezone(UTC) if self.next(previous) == current else previous


# Many DAGs share a schedule (@daily, "*/5 * * * *") and the schedule loop asks the same
# questions of each at every tick: a cron time depends only on (expression, timezone,
# instant), so the answers are cached.
@lru_cache(maxsize=8192)
def _cached_next(cron: Cron, current: datetime) -> datetime:
    return cron._next(current)


@lru_cache(maxsize=8192)
def _cached_prev(cron: Cron, current: datetime) -> datetime:
    return cron._prev(current)
