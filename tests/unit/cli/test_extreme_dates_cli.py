"""A time typed on the command line (trigger's --logical-date, backfill's --start and
--end, render-task) outside the dates airkube accepts is one line, not a traceback."""

import pytest

from airkube.cli.common import parse_time


@pytest.mark.parametrize(
    "text", ["0001-01-01T12:00:00+14:00", "9999-12-31T23:59:59Z", "1969-12-31", "9001-01-01"]
)
def test_a_time_out_of_range_is_one_line(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_time(text, "--logical-date")
    assert exited.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("airkube: --logical-date: ")
    assert err[0].endswith("is outside the dates airkube accepts (years 1970 to 9000)")


@pytest.mark.parametrize("text", ["1970-01-01T00:00:00+14:00", "9000-12-31T23:59:59-12:00"])
def test_a_time_at_the_range_ends_is_read(text: str) -> None:
    assert parse_time(text, "--start").year in (1970, 9000)
