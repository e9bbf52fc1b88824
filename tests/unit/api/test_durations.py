"""Go-style durations: parsing, messages, canonical formatting."""

import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from airkube.api.duration import Duration, PositiveDuration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2h45m10s", timedelta(hours=2, minutes=45, seconds=10)),
        ("90m", timedelta(minutes=90)),
        ("1m1m", timedelta(minutes=2)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("250us", timedelta(microseconds=250)),
        ("1500ns", timedelta(microseconds=1)),
        (" 10s ", timedelta(seconds=10)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5 minutes", 'is not a duration: write it without spaces, as "1h30m"'),
        ("1h 30m", "without spaces"),
        ("1d", 'days are not a unit, write hours ("24h")'),
        ("-5s", "must not be negative"),
        ("10", "it has no unit"),
        ("", "is not a duration"),
        ("h", "is not a duration"),
        ("5x", 'such as "30s", "5m" or "1h30m"'),
        ("1.s", "is not a duration"),
        ("PT5M", "is not a duration"),
        ("100000000h", "too long a duration"),
    ],
)
def test_garbage_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_duration(text)
    assert f'"{text}"' in str(info.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(microseconds=7), "7us"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(days=2), "48h"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@settings(max_examples=200, deadline=None)
@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_format_then_parse_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


class Limits(BaseModel):
    delay: Duration | None = None
    timeout: PositiveDuration | None = None


def test_as_a_model_field() -> None:
    limits = Limits.model_validate({"delay": "90m", "timeout": "1s"})
    assert limits.delay == timedelta(minutes=90)
    assert limits.model_dump(mode="json") == {"delay": "1h30m", "timeout": "1s"}
    assert Limits(delay=timedelta(seconds=3)).delay == timedelta(seconds=3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"delay": 300}, "it has no unit"),
        ({"delay": "soon"}, "is not a duration"),
        ({"timeout": "0s"}, "must be longer than zero"),
        ({"delay": timedelta(seconds=-1)}, "must not be negative"),
    ],
)
def test_model_field_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Limits.model_validate(data)
