"""The dates airkube accepts in a spec: years 1970 to 9000, as written.

Every date a person writes (a DAG's startDate and endDate, a DAGRun's logicalDate and data
interval) is one of the two types here, so the model, ``airkube validate`` and the CRD (a
pattern on the string, which costs nothing in the API server's CEL budget) refuse the same
dates. Within the range, with any offset a datetime can carry (under 24 h), the scheduler's
arithmetic (the interval before the first, the one after the last, sort keys) stays far from
the limits of Python's datetime (years 1 to 9999).
"""

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

MIN_YEAR = 1970
MAX_YEAR = 9000
DATE_RANGE = f"years {MIN_YEAR} to {MAX_YEAR}"
"""The range, as messages and the documentation name it."""

_YEAR = r"(19[7-9][0-9]|[2-8][0-9]{3}|9000)"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
_OFFSET = r"(Z|z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"

DATE_TIME_PATTERN = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]{_TIME}{_OFFSET}?)?$"
"""A date, or a date-time with or without an offset, in the range (the CRD's pattern)."""

AWARE_DATE_TIME_PATTERN = rf"^{_YEAR}-.*(Z|z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
"""What the CRD adds to ``format: date-time``: a year in the range, and an offset under
24 hours (the format alone lets +25:00 through)."""

_WRITTEN_YEAR = re.compile(r"([0-9]{4})-")
_WRITTEN_OFFSET = re.compile(r"[T ].*[+-]([0-9]{2}):?[0-9]{2}$")


def date_range_problem(value: datetime) -> str | None:
    """Why ``value`` (as written: its own year, whatever its offset) is out of range."""
    if MIN_YEAR <= value.year <= MAX_YEAR:
        return None
    return f"{value.isoformat()} is outside the dates airkube accepts ({DATE_RANGE})"


def _written_problem(value: object) -> str | None:
    """What is wrong with a date as written that no datetime could even hold (year 0,
    an offset of 24 hours or more), said as the range says it."""
    if not isinstance(value, str):
        return None
    year = _WRITTEN_YEAR.match(value)
    if year is not None and not MIN_YEAR <= int(year.group(1)) <= MAX_YEAR:
        return f"{value} is outside the dates airkube accepts ({DATE_RANGE})"
    offset = _WRITTEN_OFFSET.search(value)
    if offset is not None and int(offset.group(1)) >= 24:
        return f"{value} has an offset of 24 hours or more"
    return None


def _written_in_range(value: object) -> object:
    problem = _written_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _in_range(value: datetime) -> datetime:
    problem = date_range_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_written_in_range),
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "pattern": DATE_TIME_PATTERN}),
]
"""A date or date-time in the range, with or without an offset (without one, it is read in
the DAG's timezone, as Airflow reads a naive start_date)."""

DateTimeInRange = Annotated[
    AwareDatetime,
    BeforeValidator(_written_in_range),
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": AWARE_DATE_TIME_PATTERN}),
]
"""An RFC 3339 date-time with an offset, in the range."""
