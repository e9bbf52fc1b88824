"""Schedule (cron or preset) and timezone checks."""

import pytest

from airkube.api.schedule import schedule_problem, timezone_problem


@pytest.mark.parametrize(
    "expr",
    [
        "@once",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "0 2 * * *",
        "*/15 * * * *",
        "0 0 1 */3 *",
        "30 6 * * MON-FRI",
        "0 9 1,15 JAN,jul *",
        "0 0 L * *",
        "0 0 * * 1#2",
        "0   2  *  *  7",
        "0-59/5 0-23 1-31 1-12 0-6",
        "0 0 15W * *",
        "0 0 29 2 *",
    ],
)
def test_valid_schedules(expr: str) -> None:
    assert schedule_problem(expr) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("@fortnightly", 'schedule "@fortnightly" is not a known preset (use one of @once,'),
        ("0 2 * *", 'schedule "0 2 * *" has 4 fields; a cron schedule has 5'),
        ("0 2 * * * *", "has 6 fields"),
        ("61 * * * *", 'schedule "61 * * * *": minute "61" is out of range (allowed: 0-59)'),
        ("0 24 * * *", 'hour "24" is out of range (allowed: 0-23)'),
        ("0 0 0 * *", 'day of month "0" is out of range (allowed: 1-31)'),
        ("0 0 * 13 *", 'month "13" is out of range (allowed: 1-12 or JAN-DEC)'),
        ("0 0 * * 8", 'day of week "8" is out of range (allowed: 0-7 or SUN-SAT)'),
        ("0 0 * FOO *", 'month "FOO" is out of range'),
        ("*/0 * * * *", 'minute "*/0" has a step of 0'),
        ("30-10 * * * *", 'minute "30-10" is a range that ends before it starts'),
        ("a b c d e", 'minute "a" is out of range'),
        ("1-2-3 * * * *", 'minute "1-2-3" is not a valid value'),
        # Forms the syntax allows but croniter, which computes the fire times, refuses.
        ("0 0 * * 5L", 'schedule "0 0 * * 5L": day of week "5L" is not supported'),
        ("? * * * *", 'schedule "? * * * *": minute "?" is not supported'),
        ("0 0 LW * *", 'schedule "0 0 LW * *": day of month "LW" is not supported'),
        ("0 0 30 2 *", 'schedule "0 0 30 2 *" never fires: no date matches it'),
        ("0 0 31 4 *", "never fires"),
    ],
)
def test_invalid_schedules(expr: str, message: str) -> None:
    problem = schedule_problem(expr)
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_valid_timezones(name: str) -> None:
    assert timezone_problem(name) is None


@pytest.mark.parametrize("name", ["Mars/Base", "", "../../etc/passwd", "Europe", "CEST+2"])
def test_invalid_timezones(name: str) -> None:
    problem = timezone_problem(name)
    assert problem == (
        f'timezone "{name}" is not an IANA timezone name (for example "Europe/Paris", "UTC")'
    )
