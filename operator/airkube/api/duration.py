"""Durations written the Kubernetes/Go way ("500ms", "30s", "5m", "1h30m"), as ``timedelta``."""

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT_SECONDS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}

DURATION_PATTERN = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$"
"""What the CRD schema accepts; :func:`parse_duration` gives the detailed message."""

_TERM = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")
_WHOLE = re.compile(DURATION_PATTERN)

_HINT = 'write a number and a unit, such as "30s", "5m" or "1h30m" (units: ms, s, m, h)'


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration; raise ``ValueError`` with an actionable message.

    Negative durations are refused: every duration in a DAG is a delay or a limit.
    Precision below a microsecond is dropped.
    """
    value = text.strip()
    if not _WHOLE.fullmatch(value):
        if re.fullmatch(r"[0-9.]+d", value):
            raise ValueError(
                f'"{text}" is not a duration: days are not a unit, write hours ("24h")'
            )
        if re.search(r"\s", value):
            raise ValueError(f'"{text}" is not a duration: write it without spaces, as "1h30m"')
        if value.startswith("-"):
            raise ValueError(f'"{text}" is not a valid duration: it must not be negative')
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
            raise ValueError(f'"{text}" is not a duration: it has no unit; {_HINT}')
        raise ValueError(f'"{text}" is not a duration: {_HINT}')
    seconds = Decimal(0)
    for number, unit in _TERM.findall(value):
        try:
            seconds += Decimal(number) * _UNIT_SECONDS[unit]
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
            raise ValueError(f'"{text}" is not a duration: {_HINT}') from exc
    microseconds = int(seconds * 1_000_000)
    if microseconds > _MAX_MICROSECONDS:
        raise ValueError(f'"{text}" is too long a duration (at most {_MAX_DAYS} days)')
    return timedelta(microseconds=microseconds)


_MAX_DAYS = 36_500
_MAX_MICROSECONDS = _MAX_DAYS * 86_400 * 1_000_000


def format_duration(value: timedelta) -> str:
    """The shortest Go-style spelling of a non-negative duration: "1h30m", "500ms", "0s"."""
    micros = value // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError(f"negative duration {value}")
    if micros == 0:
        return "0s"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros_left = divmod(rest, 1_000_000)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if micros_left == 0:
        if seconds:
            parts.append(f"{seconds}s")
    elif seconds == 0 and micros_left % 1000 == 0:
        parts.append(f"{micros_left // 1000}ms")
    elif seconds == 0 and not parts:
        parts.append(f"{micros_left}us")
    else:
        fraction = f"{micros_left:06d}".rstrip("0")
        parts.append(f"{seconds}.{fraction}s")
    return "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"{value} is not a valid duration: it must not be negative")
        return value
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool | int | float):
        raise ValueError(f"{value!r} is not a duration: it has no unit; {_HINT}")
    raise ValueError(f"{value!r} is not a duration: {_HINT}")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


_SCHEMA = {
    "type": "string",
    "pattern": DURATION_PATTERN,
}

Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_SCHEMA),
]
"""A duration of zero or more: "0s", "500ms", "30s", "5m", "1h30m"."""

PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A duration longer than zero."""
