"""Checks of a DAG's ``schedule`` (5-field cron or a preset) and ``timezone`` (IANA name).

croniter computes the fire times (:mod:`airkube.core.timetables`), so it is the judge of
what a valid cron expression is. A syntactic check of each field comes first, for messages
that name the field and say what is allowed; then croniter must accept the expression and
find a time it fires at (``0 0 30 2 *`` never does).
"""

import re
import zoneinfo
from datetime import datetime

from croniter import (  # type: ignore[import-untyped]
    CroniterBadCronError,
    CroniterBadDateError,
    croniter,
)

PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}
"""The cron expression of each periodic preset (Airflow's ``cron_presets``)."""

SCHEDULE_PATTERN = r"^(@(once|hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$"
"""The loose form the CRD schema checks; :func:`schedule_problem` checks the details."""

# As the API server reads the pattern (Go's RE2: ASCII classes, "$" only at the very end).
_PATTERN = re.compile(SCHEDULE_PATTERN, re.ASCII)

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# (field name, lowest, highest, names for lowest.., special forms accepted as they are)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    ("minute", 0, 59, (), r""),
    ("hour", 0, 23, (), r""),
    ("day of month", 1, 31, (), r"L|LW|[0-9]{1,2}W"),
    ("month", 1, 12, _MONTHS, r""),
    ("day of week", 0, 7, _DAYS, r"[0-7]L|[0-7]#[1-5]|L"),
)

_ITEM = re.compile(r"^(?P<base>\*|\?|[^/-]+(-[^/-]+)?)(/(?P<step>[0-9]+))?$")


def _value(text: str, lowest: int, highest: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        number = int(text)
        return number if lowest <= number <= highest else None
    if text.lower() in names:
        return lowest + names.index(text.lower())
    return None


def _field_problem(
    field: str, lowest: int, highest: int, names: tuple[str, ...], special: str
) -> str | None:
    for item in field.split(","):
        if special and re.fullmatch(special, item, flags=re.IGNORECASE):
            continue
        match = _ITEM.fullmatch(item)
        if not match:
            return f'"{item}" is not a valid value'
        step = match.group("step")
        if step is not None and int(step) == 0:
            return f'"{item}" has a step of 0'
        base = match.group("base")
        if base in ("*", "?"):
            continue
        bounds = base.split("-")
        values = [_value(b, lowest, highest, names) for b in bounds]
        if any(v is None for v in values):
            allowed = f"{lowest}-{highest}"
            if names:
                allowed += f" or {names[0].upper()}-{names[-1].upper()}"
            return f'"{item}" is out of range (allowed: {allowed})'
        low, high = values[0], values[-1]
        if low is not None and high is not None and low > high:
            return f'"{item}" is a range that ends before it starts'
    return None


def schedule_problem(expr: str) -> str | None:
    """Why ``expr`` is not a valid schedule, or None when it is."""
    text = expr.strip()
    if text != expr:
        return f'schedule "{expr}" has spaces around it; remove them'
    if text.startswith("@"):
        if text in PRESETS:
            return None
        return f'schedule "{expr}" is not a known preset (use one of {", ".join(PRESETS)})'
    fields = text.split()
    if len(fields) != 5:
        return (
            f'schedule "{expr}" has {len(fields)} fields; a cron schedule has 5 '
            "(minute hour day-of-month month day-of-week), or use a preset such as @daily"
        )
    for (name, lowest, highest, names, special), field in zip(_FIELDS, fields, strict=True):
        problem = _field_problem(field, lowest, highest, names, special)
        if problem:
            return f'schedule "{expr}": {name} {problem}'
    if not _PATTERN.fullmatch(expr):
        return f'schedule "{expr}": separate its 5 fields with spaces'
    return _croniter_problem(expr, fields)


def _croniter_accepts(expr: str) -> bool:
    try:
        croniter(expr)
    except (CroniterBadCronError, ValueError, KeyError):
        return False
    return True


def _croniter_problem(expr: str, fields: list[str]) -> str | None:
    text = " ".join(fields)
    if not _croniter_accepts(text):
        # Name the field croniter refuses: try each alone, with "*" everywhere else.
        for i, (name, *_) in enumerate(_FIELDS):
            alone = " ".join(field if j == i else "*" for j, field in enumerate(fields))
            if not _croniter_accepts(alone):
                return f'schedule "{expr}": {name} "{fields[i]}" is not supported'
        return f'schedule "{expr}" is not a valid cron expression'
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return f'schedule "{expr}" never fires: no date matches it'
    return None


def check_schedule(expr: str) -> str:
    """Pydantic validator form of :func:`schedule_problem`."""
    problem = schedule_problem(expr)
    if problem:
        raise ValueError(problem)
    return expr


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA timezone, or None when it is."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f'timezone "{name}" is not an IANA timezone name (for example "Europe/Paris", "UTC")'
    return None


def check_timezone(name: str) -> str:
    """Pydantic validator form of :func:`timezone_problem`."""
    problem = timezone_problem(name)
    if problem:
        raise ValueError(problem)
    return name
