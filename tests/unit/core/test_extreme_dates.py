"""Extreme dates (issue 15): the spec models refuse dates outside years 1970 to 9000 with one
message naming the field, the value and the range; the CRD's pattern refuses the same
strings; at the range's ends the timetables and the admission order compute without
overflow."""

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from airkube.api.crdgen import dag_crd, dagrun_crd
from airkube.api.dag import DAGSpec
from airkube.api.dagrun import DAGRunSpec
from airkube.api.dates import AWARE_DATE_TIME_PATTERN, DATE_TIME_PATTERN
from airkube.core.rules.admission import QueuedRun, runs_allowed_to_start
from airkube.core.timetables import DataInterval, infer_manual_data_interval, next_runs
from airkube.core.validation import check_dag

TASKS = [{"name": "a", "image": "busybox"}]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

OUT_OF_RANGE_AWARE = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T12:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "9001-01-01T00:00:00Z",
]
IN_RANGE_AWARE = [
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:00+23:59",
    "9000-12-31T23:59:59Z",
    "9000-12-31T23:59:59-23:59",
    "2026-11-28T12:00:00.123456+05:30",
]


def run_spec(**dates: str) -> dict[str, Any]:
    return {"dagRef": {"name": "d"}, **dates}


@pytest.mark.parametrize("value", OUT_OF_RANGE_AWARE)
@pytest.mark.parametrize("field", ["logicalDate", "dataIntervalStart"])
def test_a_run_date_out_of_range_is_refused_naming_field_value_and_range(
    field: str, value: str
) -> None:
    dates = {field: value}
    if field == "dataIntervalStart":
        dates["dataIntervalEnd"] = value
    with pytest.raises(ValidationError) as info:
        DAGRunSpec.model_validate(run_spec(**dates))
    text = str(info.value)
    assert field in text
    assert value[:4] in text
    assert "years 1970 to 9000" in text


@pytest.mark.parametrize("value", ["0000-01-01T00:00:00Z", "2026-01-01T00:00:00+25:00"])
def test_a_run_date_no_datetime_can_hold_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        DAGRunSpec.model_validate(run_spec(logicalDate=value))


@pytest.mark.parametrize("value", IN_RANGE_AWARE)
def test_a_run_date_at_the_range_ends_is_accepted(value: str) -> None:
    spec = DAGRunSpec.model_validate(
        run_spec(logicalDate=value, dataIntervalStart=value, dataIntervalEnd=value)
    )
    assert spec.logical_date is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startDate", "9999-12-31"),
        ("startDate", "0000-01-01"),
        ("startDate", "0001-01-01T00:00:00Z"),
        ("startDate", "2026-01-01T00:00:00+25:00"),
        ("endDate", "9999-12-31T23:59:59"),
        ("endDate", "1900-01-01"),
    ],
)
def test_a_dag_date_out_of_range_is_one_clear_problem(field: str, value: str) -> None:
    spec, problems = check_dag({"schedule": "@daily", field: value, "tasks": TASKS})
    assert spec is None
    assert len(problems) == 1
    message = problems[0].message
    assert field in message
    assert "\n" not in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "9999-12-31",
            "startDate: 9999-12-31 is outside the dates airkube accepts (years 1970 to 9000)",
        ),
        (
            "0000-01-01",
            "startDate: 0000-01-01 is outside the dates airkube accepts (years 1970 to 9000)",
        ),
        (
            "2026-01-01T00:00:00+25:00",
            "startDate: 2026-01-01T00:00:00+25:00 has an offset of 24 hours or more",
        ),
    ],
)
def test_the_message_names_the_field_the_value_and_the_range(value: str, expected: str) -> None:
    _, problems = check_dag({"schedule": "@daily", "startDate": value, "tasks": TASKS})
    assert [p.message for p in problems] == [expected]


def test_a_python_datetime_out_of_range_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="years 1970 to 9000"):
        DAGSpec(tasks=TASKS, start_date=datetime(1, 1, 1))  # type: ignore[arg-type]


def _schema_pattern(crd: dict[str, Any], kind_path: list[str]) -> str:
    node = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in kind_path:
        node = node["properties"][part]
    return str(node["pattern"])


def test_the_crds_carry_the_patterns() -> None:
    assert _schema_pattern(dag_crd(), ["spec", "startDate"]) == DATE_TIME_PATTERN
    assert _schema_pattern(dag_crd(), ["spec", "endDate"]) == DATE_TIME_PATTERN
    for field in ("logicalDate", "dataIntervalStart", "dataIntervalEnd"):
        assert _schema_pattern(dagrun_crd(), ["spec", field]) == AWARE_DATE_TIME_PATTERN


LOCAL_CASES = [
    "1970-01-01",
    "9000-12-31",
    "2026-11-28T02:00",
    "2026-11-28 02:00:00",
    "2026-11-28T02:00:00.5Z",
    "2026-11-28T02:00:00+14:00",
    "1969-12-31",
    "9001-01-01",
    "0000-01-01",
    "9999-12-31",
    "2026-13-01",
    "2026-11-28T24:00",
    "2026-11-28T02:00:00+25:00",
    "2026-11-28T02:00:00+01:60",
]


@pytest.mark.parametrize("value", LOCAL_CASES)
def test_the_dag_pattern_refuses_what_the_model_refuses(value: str) -> None:
    by_crd = re.search(DATE_TIME_PATTERN, value) is not None
    spec, _ = check_dag({"startDate": value, "tasks": TASKS})
    assert by_crd == (spec is not None)


OTHER_AWARE = [
    "2026-01-01T00:00:00+25:00",
    "2026-01-01T00:00:00-24:00",
    "2026-01-01T00:00:00+0100",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00Z",
    "2026-01-01T00:00:00",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE_AWARE + IN_RANGE_AWARE + OTHER_AWARE)
def test_the_run_pattern_refuses_what_the_model_refuses(value: str) -> None:
    by_crd = re.search(AWARE_DATE_TIME_PATTERN, value) is not None
    try:
        DAGRunSpec.model_validate(run_spec(logicalDate=value))
        by_model = True
    except ValidationError:
        by_model = False
    assert by_crd == by_model


SCHEDULES: list[dict[str, Any]] = [
    {},
    {"schedule": "@once"},
    {"schedule": "@hourly"},
    {"schedule": "@daily", "timezone": "Pacific/Kiritimati"},
    {"schedule": "@weekly", "timezone": "Pacific/Pago_Pago"},
    {"schedule": "@monthly"},
    {"schedule": "@yearly", "timezone": "Europe/Berlin"},
    {"schedule": "30 1 * * 1"},
    {"schedule": "0 0 29 2 *"},
    {"schedule": "@yearly", "timetable": "trigger"},
]
EDGES = [
    datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    datetime(9000, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
]


@pytest.mark.parametrize("extra", SCHEDULES)
@pytest.mark.parametrize("edge", EDGES)
def test_manual_data_intervals_at_the_range_ends(extra: dict[str, Any], edge: datetime) -> None:
    spec = DAGSpec.model_validate({**extra, "tasks": TASKS})
    interval = infer_manual_data_interval(spec, edge)
    assert interval.start <= edge <= interval.end or interval.end <= edge


@pytest.mark.parametrize("extra", SCHEDULES[1:])
@pytest.mark.parametrize("catchup", [True, False])
def test_a_start_date_at_the_end_of_the_range_schedules_nothing_yet(
    extra: dict[str, Any], catchup: bool
) -> None:
    spec = DAGSpec.model_validate(
        {**extra, "startDate": "9000-12-31T23:59:59", "catchup": catchup, "tasks": TASKS}
    )
    decision = next_runs("d", spec, last=None, now=NOW, active_runs=0)
    assert decision.runs == ()
    assert decision.next_run_time is None or decision.next_run_time.year >= 9000
    late = datetime(9005, 1, 1, tzinfo=UTC)
    later = next_runs("d", spec, last=None, now=late, active_runs=0)
    assert all(r.logical_date.year >= 9000 for r in later.runs)


@pytest.mark.parametrize("extra", [s for s in SCHEDULES[1:] if s["schedule"] != "0 0 29 2 *"])
def test_a_start_date_at_the_start_of_the_range_catches_up(extra: dict[str, Any]) -> None:
    spec = DAGSpec.model_validate(
        {**extra, "startDate": "1970-01-01", "endDate": "1970-03-01", "catchup": True}
        | {"tasks": TASKS, "timezone": extra.get("timezone", "Pacific/Kiritimati")}
    )
    decision = next_runs("d", spec, last=None, now=NOW, active_runs=0, limit=5)
    assert decision.runs
    first = decision.runs[0]
    assert first.logical_date >= datetime(1969, 12, 31, tzinfo=UTC)
    assert DataInterval(first.data_interval_start, first.data_interval_end)


def test_admission_orders_any_date_without_overflow() -> None:
    plus14 = timezone(timedelta(hours=14))
    queued = [
        QueuedRun("none", None),
        QueuedRun("max", datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23)))),
        QueuedRun("min", datetime(1, 1, 1, 12, tzinfo=plus14)),
        QueuedRun("naive", datetime(2026, 1, 1)),
        QueuedRun("now", NOW),
    ]
    assert runs_allowed_to_start(10, 0, queued) == ["min", "naive", "now", "max", "none"]
    assert runs_allowed_to_start(1, 0, queued[3:]) == ["naive"]
