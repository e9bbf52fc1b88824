"""The CLI's one reader of times: without a zone a time is wall-clock time in the DAG's
timezone (UTC when the DAG has none), with a zone it is taken as given, and bad input is
one line naming the value and the accepted forms — the same for every command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

import airkube.cli.main as cli_main
from airkube.cli.common import TIME_FORMS, dag_time, parse_time
from airkube.cli.main import main

PARIS = "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "timezone", "expected"),
    [
        ("2026-11-01", None, datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01", "UTC", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01", PARIS, datetime(2026, 10, 31, 23, tzinfo=UTC)),  # CET, +01:00
        ("2026-07-01", PARIS, datetime(2026, 6, 30, 22, tzinfo=UTC)),  # CEST, +02:00
        ("2026-11-01T06:00", PARIS, datetime(2026, 11, 1, 5, tzinfo=UTC)),
        ("2026-11-01 06:00:00", PARIS, datetime(2026, 11, 1, 5, tzinfo=UTC)),
        ("2026-11-01T06:00:00Z", PARIS, datetime(2026, 11, 1, 6, tzinfo=UTC)),
        ("2026-11-01T06:00:00+01:00", "UTC", datetime(2026, 11, 1, 5, tzinfo=UTC)),
        ("2026-11-01T06:00:00-05:00", PARIS, datetime(2026, 11, 1, 11, tzinfo=UTC)),
        ("  2026-11-01T06:00Z ", None, datetime(2026, 11, 1, 6, tzinfo=UTC)),
        # In the spring-forward gap: moved on by the gap, as the DAG's startDate is read.
        ("2026-03-29T02:30", PARIS, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # Twice in the autumn: the second occurrence (Airflow's fold=1).
        ("2026-10-25T02:30", PARIS, datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_a_time_is_read_in_the_dag_timezone_unless_it_names_a_zone(
    text: str, timezone: str | None, expected: datetime
) -> None:
    when = dag_time(parse_time(text, "--logical-date"), timezone)
    assert when == expected
    assert when.utcoffset() is not None


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2026-13-01", "2026-11-01T25:00", "01/11/2026", "2026-11-01T06:00+"]
)
def test_a_bad_time_is_one_line_naming_the_value_and_the_forms(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_time(text, "--start")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == f"airkube: --start: {text!r} is not a time; give {TIME_FORMS}\n"


def test_a_dag_with_a_bad_timezone_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        dag_time(datetime(2026, 11, 1), "Mars/Olympus")
    assert capsys.readouterr().err.splitlines() == [
        'airkube: the DAG\'s timezone "Mars/Olympus" is not an IANA timezone name '
        '(for example "Europe/Paris", "UTC")'
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["trigger", "etl", "--logical-date", "tomorrow"],
        ["render-task", "etl", "extract", "--logical-date", "tomorrow"],
        ["backfill", "etl", "--start", "tomorrow", "--end", "2026-11-02"],
        ["backfill", "etl", "--start", "2026-11-01", "--end", "tomorrow"],
    ],
    ids=["trigger", "render-task", "backfill-start", "backfill-end"],
)
def test_every_command_refuses_a_bad_time_in_one_line_before_calling_the_cluster(
    args: list[str],
) -> None:
    result = CliRunner().invoke(main, [*args, "--kubeconfig", "/nonexistent"])
    assert result.exit_code == 1, result.output
    option = next(a for a in args if a.startswith("--"))
    if args[0] == "backfill" and args[-1] == "tomorrow":
        option = "--end"
    assert result.stderr.splitlines() == [
        f"airkube: {option}: 'tomorrow' is not a time; give {TIME_FORMS}"
    ]


@pytest.mark.parametrize("command", ["trigger", "render-task", "backfill"])
def test_the_help_says_how_a_time_without_a_zone_is_read(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "DAG's timezone" in " ".join(result.output.split())


# trigger and render-task agree ---------------------------------------------------------


class FakeCustom:
    """The CustomObjectsApi calls trigger and render-task make."""

    def __init__(self, dag: dict[str, Any]) -> None:
        self.dag = dag
        self.created: list[dict[str, Any]] = []

    def get_namespaced_custom_object(self, *args: Any) -> dict[str, Any]:
        return self.dag

    def create_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert kwargs == {"field_validation": "Strict"}  # never a field silently dropped
        body: dict[str, Any] = args[-1]
        self.created.append(body)
        return body


def dag_body(timezone: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedule": "@daily",
        "tasks": [{"name": "extract", "image": "busybox:1.36", "command": ["echo", "{{ ds }}"]}],
    }
    if timezone:
        spec["timezone"] = timezone
    return {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAG",
        "metadata": {"name": "etl", "namespace": "ns"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("timezone", "text", "expected"),
    [
        (PARIS, "2026-11-01", "2026-10-31T23:00:00+00:00"),
        (PARIS, "2026-11-01T06:00:00+00:00", "2026-11-01T06:00:00+00:00"),
        (None, "2026-11-01", "2026-11-01T00:00:00+00:00"),
    ],
)
def test_trigger_and_render_task_read_a_time_alike(
    monkeypatch: pytest.MonkeyPatch, timezone: str | None, text: str, expected: str
) -> None:
    custom = FakeCustom(dag_body(timezone))
    monkeypatch.setattr(cli_main, "custom_api", lambda *_: custom)
    runner = CliRunner()
    common = ["-n", "ns", "-o", "json"]

    triggered = runner.invoke(main, ["trigger", "etl", "--logical-date", text, *common])
    assert triggered.exit_code == 0, triggered.output
    (created,) = custom.created
    logical = datetime.fromisoformat(created["spec"]["logicalDate"].replace("Z", "+00:00"))
    assert logical == datetime.fromisoformat(expected)

    rendered = runner.invoke(
        main, ["render-task", "etl", "extract", "--logical-date", text, *common]
    )
    assert rendered.exit_code == 0, rendered.output
    assert json.loads(rendered.output)["logicalDate"] == expected
