"""Schedules: cron in a timezone with Airflow's DST rules, the interval, trigger and @once
timetables, catchup, startDate/endDate, maxActiveRuns and paused. The clock is passed in."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from airkube.api import DAGSpec, RunType
from airkube.core.cron import Cron, to_utc
from airkube.core.timetables import (
    DataInterval,
    ScheduleDecision,
    ScheduledRun,
    infer_manual_data_interval,
    next_runs,
)


def u(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def dag(schedule: str | None, **fields: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"schedule": schedule, "defaults": {"image": "busybox"}, "tasks": [{"name": "a"}], **fields}
    )


def decide(
    spec: DAGSpec,
    now: datetime,
    last: DataInterval | ScheduledRun | None = None,
    *,
    active_runs: int = 0,
    limit: int = 10_000,
    created: datetime | None = None,
) -> ScheduleDecision:
    if isinstance(last, ScheduledRun):
        last = last.data_interval
    return next_runs(
        "etl", spec, last=last, now=now, active_runs=active_runs, limit=limit, created=created
    )


def logical_dates(decision: ScheduleDecision) -> list[datetime]:
    return [run.logical_date for run in decision.runs]


def intervals(decision: ScheduleDecision) -> list[tuple[datetime, datetime]]:
    return [(run.data_interval_start, run.data_interval_end) for run in decision.runs]


# -- hourly, daily and monthly crons -------------------------------------------------------


def test_hourly_cron_catches_up_every_closed_interval() -> None:
    spec = dag("@hourly", startDate="2024-01-01T00:00:00Z", catchup=True)
    d = decide(spec, now=u(2024, 1, 1, 3, 30))
    assert intervals(d) == [
        (u(2024, 1, 1, 0), u(2024, 1, 1, 1)),
        (u(2024, 1, 1, 1), u(2024, 1, 1, 2)),
        (u(2024, 1, 1, 2), u(2024, 1, 1, 3)),
    ]
    assert [r.run_after for r in d.runs] == [u(2024, 1, 1, 1), u(2024, 1, 1, 2), u(2024, 1, 1, 3)]
    assert d.next_run_time == u(2024, 1, 1, 4)
    assert not d.held_back


def test_daily_cron_run_is_due_when_its_interval_ends() -> None:
    spec = dag("0 2 * * *", startDate="2024-01-01", catchup=True)
    assert decide(spec, now=u(2024, 1, 2, 1, 59)).runs == ()
    d = decide(spec, now=u(2024, 1, 2, 2))
    [run] = d.runs
    assert run.logical_date == u(2024, 1, 1, 2)
    assert run.data_interval == DataInterval(u(2024, 1, 1, 2), u(2024, 1, 2, 2))
    assert run.name == "etl-scheduled-20240101t020000"
    assert d.next_run_time == u(2024, 1, 3, 2)


def test_monthly_cron_intervals_follow_the_calendar() -> None:
    spec = dag("@monthly", startDate="2024-01-01", catchup=True)
    d = decide(spec, now=u(2024, 4, 15))
    assert intervals(d) == [
        (u(2024, 1, 1), u(2024, 2, 1)),
        (u(2024, 2, 1), u(2024, 3, 1)),
        (u(2024, 3, 1), u(2024, 4, 1)),
    ]
    assert d.next_run_time == u(2024, 5, 1)


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_presets_are_airflows_crons(preset: str, cron: str) -> None:
    assert Cron(preset, "UTC").expression == cron


def test_a_start_date_off_the_schedule_starts_at_the_next_cron_time() -> None:
    # Airflow aligns start_date forward: the first interval starts at the first cron time.
    spec = dag("@daily", startDate="2024-01-01T10:00:00Z", catchup=True)
    d = decide(spec, now=u(2024, 1, 4))
    assert logical_dates(d) == [u(2024, 1, 2), u(2024, 1, 3)]


# -- catchup, with a start in the past --------------------------------------------------


def test_start_in_the_past_with_catchup_creates_every_missed_interval_oldest_first() -> None:
    spec = dag("@daily", startDate="2024-01-01", catchup=True)
    d = decide(spec, now=u(2024, 1, 5, 12))
    assert logical_dates(d) == [u(2024, 1, 1), u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]
    # The next call carries on after the newest run, without doubles.
    assert d.last is not None
    again = decide(spec, now=u(2024, 1, 5, 12), last=d.last)
    assert again.runs == ()
    assert again.next_run_time == u(2024, 1, 6)


def test_start_in_the_past_without_catchup_creates_only_the_latest_interval() -> None:
    spec = dag("@daily", startDate="2024-01-01", catchup=False)
    d = decide(spec, now=u(2024, 1, 5, 12))
    assert intervals(d) == [(u(2024, 1, 4), u(2024, 1, 5))]
    assert d.next_run_time == u(2024, 1, 6)


def test_without_catchup_missed_intervals_since_the_last_run_are_skipped() -> None:
    spec = dag("@daily", startDate="2024-01-01", catchup=False)
    last = DataInterval(u(2024, 1, 1), u(2024, 1, 2))
    d = decide(spec, now=u(2024, 1, 5, 12), last=last)
    assert logical_dates(d) == [u(2024, 1, 4)]


def test_without_catchup_an_interval_ending_right_now_is_the_latest() -> None:
    spec = dag("@daily", catchup=False)
    assert logical_dates(decide(spec, now=u(2024, 1, 5))) == [u(2024, 1, 4)]


def test_catchup_without_start_date_starts_with_the_latest_interval() -> None:
    spec = dag("@hourly", catchup=True)
    d = decide(spec, now=u(2024, 1, 5, 12, 10))
    assert logical_dates(d) == [u(2024, 1, 5, 11)]
    later = decide(spec, now=u(2024, 1, 5, 15, 10), last=d.last)
    assert logical_dates(later) == [u(2024, 1, 5, 12), u(2024, 1, 5, 13), u(2024, 1, 5, 14)]


def test_a_start_date_in_the_future_waits_for_its_first_interval() -> None:
    spec = dag("@daily", startDate="2024-02-01", catchup=False)
    d = decide(spec, now=u(2024, 1, 5))
    assert d.runs == ()
    assert d.next_run_time == u(2024, 2, 2)


def test_catchup_comes_in_batches_of_the_limit() -> None:
    spec = dag("@hourly", startDate="2024-01-01", catchup=True)
    first = decide(spec, now=u(2024, 1, 2), limit=10)
    assert len(first.runs) == 10
    assert first.held_back
    assert first.next_run_time == u(2024, 1, 1, 11)
    second = decide(spec, now=u(2024, 1, 2), last=first.last, limit=100)
    assert len(second.runs) == 14
    assert second.runs[0].logical_date == u(2024, 1, 1, 10)


# -- endDate ---------------------------------------------------------------------------


def test_no_interval_starts_after_end_date() -> None:
    # An interval that starts exactly at endDate is still run (Airflow: start > end_date
    # stops); its end is after endDate.
    spec = dag("@daily", startDate="2024-01-01", endDate="2024-01-03", catchup=True)
    d = decide(spec, now=u(2024, 2, 1))
    assert intervals(d) == [
        (u(2024, 1, 1), u(2024, 1, 2)),
        (u(2024, 1, 2), u(2024, 1, 3)),
        (u(2024, 1, 3), u(2024, 1, 4)),
    ]
    assert d.next_run_time is None
    assert decide(spec, now=u(2024, 2, 1), last=d.last) == ScheduleDecision((), None)


def test_end_date_without_catchup() -> None:
    spec = dag("@daily", startDate="2024-01-01", endDate="2024-01-10T12:00:00Z")
    assert logical_dates(decide(spec, now=u(2024, 3, 1))) == []
    assert logical_dates(decide(spec, now=u(2024, 1, 8, 1))) == [u(2024, 1, 7)]


def test_trigger_timetable_stops_at_end_date() -> None:
    spec = dag("@daily", timetable="trigger", startDate="2024-01-01", endDate="2024-01-02")
    d = decide(spec, now=u(2024, 1, 5))
    assert d.runs == ()
    spec = dag(
        "@daily", timetable="trigger", startDate="2024-01-01", endDate="2024-01-02", catchup=True
    )
    d = decide(spec, now=u(2024, 1, 5))
    assert logical_dates(d) == [u(2024, 1, 1), u(2024, 1, 2)]
    assert d.next_run_time is None


# -- the trigger timetable ---------------------------------------------------------------


def test_trigger_timetable_runs_at_each_cron_time_with_an_empty_interval() -> None:
    spec = dag("0 6 * * *", timetable="trigger", startDate="2024-01-01", catchup=True)
    d = decide(spec, now=u(2024, 1, 3, 7))
    assert intervals(d) == [
        (u(2024, 1, 1, 6), u(2024, 1, 1, 6)),
        (u(2024, 1, 2, 6), u(2024, 1, 2, 6)),
        (u(2024, 1, 3, 6), u(2024, 1, 3, 6)),
    ]
    assert [r.run_after for r in d.runs] == logical_dates(d)
    assert d.next_run_time == u(2024, 1, 4, 6)


def test_trigger_timetable_without_catchup_runs_the_latest_cron_time() -> None:
    spec = dag("0 6 * * *", timetable="trigger", startDate="2024-01-01")
    d = decide(spec, now=u(2024, 1, 3, 7))
    assert logical_dates(d) == [u(2024, 1, 3, 6)]
    assert decide(spec, now=u(2024, 1, 3, 9), last=d.last).runs == ()


def test_trigger_timetable_first_run_without_start_date() -> None:
    # Airflow's _calc_first_run: the cron time that just passed if it is recent (a tenth
    # of the period, at least 5 minutes), else the next one.
    spec = dag("0 * * * *", timetable="trigger")
    assert logical_dates(decide(spec, now=u(2024, 1, 1, 10, 4))) == [u(2024, 1, 1, 10)]
    d = decide(spec, now=u(2024, 1, 1, 10, 30), created=u(2024, 1, 1, 10, 30))
    assert d.runs == ()
    assert d.next_run_time == u(2024, 1, 1, 11)


def test_switching_from_trigger_to_interval_does_not_rerun_the_last_logical_date() -> None:
    # Airflow's guard: an empty last interval must not make the same logical date again.
    spec = dag("0 17 * * *", catchup=True)
    last = DataInterval.exact(u(2021, 9, 5, 17))
    assert logical_dates(decide(spec, now=u(2021, 9, 7, 18), last=last)) == [u(2021, 9, 6, 17)]


def test_a_changed_schedule_realigns_on_the_new_cron_times() -> None:
    spec = dag("@daily", catchup=True)
    last = DataInterval(u(2022, 8, 7, 1), u(2022, 8, 8, 1))  # made by "0 1 * * *"
    assert intervals(decide(spec, now=u(2022, 8, 9), last=last)) == [(u(2022, 8, 8), u(2022, 8, 9))]


# -- @once ---------------------------------------------------------------------------------


def test_once_runs_once_at_its_start_date() -> None:
    spec = dag("@once", startDate="2024-01-01T08:00:00Z")
    d = decide(spec, now=u(2024, 3, 1))
    [run] = d.runs
    assert run.logical_date == u(2024, 1, 1, 8)
    assert run.data_interval == DataInterval.exact(u(2024, 1, 1, 8))
    assert d.next_run_time is None
    assert decide(spec, now=u(2024, 3, 2), last=run) == ScheduleDecision((), None)


def test_once_with_a_future_start_date_waits() -> None:
    spec = dag("@once", startDate="2024-06-01")
    d = decide(spec, now=u(2024, 3, 1))
    assert d.runs == ()
    assert d.next_run_time == u(2024, 6, 1)


def test_once_without_start_date_runs_at_the_dags_creation() -> None:
    # Every replica computes the same logical date (so the same run name).
    spec = dag("@once")
    d = decide(spec, now=u(2024, 3, 1, 12), created=u(2024, 3, 1, 11, 59))
    assert logical_dates(d) == [u(2024, 3, 1, 11, 59)]
    assert d.runs[0].name == "etl-scheduled-20240301t115900"


def test_no_schedule_means_no_runs() -> None:
    assert decide(dag(None), now=u(2024, 3, 1)) == ScheduleDecision((), None)


# -- maxActiveRuns ---------------------------------------------------------------------


def test_max_active_runs_1_with_catchup_creates_one_run_at_a_time_oldest_first() -> None:
    spec = dag("@daily", startDate="2024-01-01", catchup=True, maxActiveRuns=1)
    now = u(2024, 1, 4, 6)
    d = decide(spec, now=now)
    assert logical_dates(d) == [u(2024, 1, 1)]
    assert d.held_back
    assert d.next_run_time == u(2024, 1, 3)  # due already: created when a run ends
    # While that run is Queued or Running, nothing more.
    busy = decide(spec, now=now, last=d.last, active_runs=1)
    assert busy.runs == ()
    assert busy.held_back
    created = list(d.runs)
    while True:  # each time the run ends
        d = decide(spec, now=now, last=created[-1], active_runs=0)
        if not d.runs:
            break
        assert len(d.runs) == 1
        created += d.runs
    assert [r.logical_date for r in created] == [u(2024, 1, 1), u(2024, 1, 2), u(2024, 1, 3)]
    assert not d.held_back
    assert d.next_run_time == u(2024, 1, 5)


def test_max_active_runs_counts_queued_and_running_runs() -> None:
    spec = dag("@hourly", startDate="2024-01-01", catchup=True, maxActiveRuns=3)
    d = decide(spec, now=u(2024, 1, 1, 10), active_runs=2)
    assert logical_dates(d) == [u(2024, 1, 1)]
    assert decide(spec, now=u(2024, 1, 1, 10), active_runs=5).runs == ()


def test_paused_creates_nothing_then_unpaused_without_catchup_only_the_latest() -> None:
    last = DataInterval(u(2024, 1, 1), u(2024, 1, 2))
    paused = dag("@daily", startDate="2024-01-01", paused=True)
    assert decide(paused, now=u(2024, 1, 10, 3), last=last) == ScheduleDecision((), None)
    unpaused = dag("@daily", startDate="2024-01-01", paused=False)
    d = decide(unpaused, now=u(2024, 1, 10, 3), last=last)
    assert logical_dates(d) == [u(2024, 1, 9)]


def test_paused_then_unpaused_with_catchup_creates_every_missed_interval() -> None:
    last = DataInterval(u(2024, 1, 1), u(2024, 1, 2))
    paused = dag("@daily", startDate="2024-01-01", paused=True, catchup=True)
    assert decide(paused, now=u(2024, 1, 5, 3), last=last).runs == ()
    unpaused = dag("@daily", startDate="2024-01-01", catchup=True)
    d = decide(unpaused, now=u(2024, 1, 5, 3), last=last)
    assert logical_dates(d) == [u(2024, 1, 2), u(2024, 1, 3), u(2024, 1, 4)]


# -- timezones and daylight saving time ---------------------------------------------------
#
# Europe/Berlin 2024: clocks go 02:00 CET -> 03:00 CEST on 31 March (01:00 UTC), and
# 03:00 CEST -> 02:00 CET on 27 October (01:00 UTC). America/New_York 2024: 02:00 EST ->
# 03:00 EDT on 10 March (07:00 UTC), 02:00 EDT -> 01:00 EST on 3 November (06:00 UTC).
# Expected times are Airflow's (its TestCronIntervalDst and test_fold_scheduling, in
# Europe/Zurich, which has Berlin's rules).

DST_CASES = [
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        u(2024, 3, 29, 12),
        # 02:30 does not exist on the 31st: it runs at 03:30 CEST (01:30 UTC), once.
        [u(2024, 3, 30, 1, 30), u(2024, 3, 31, 1, 30), u(2024, 4, 1, 0, 30)],
        id="berlin-daily-spring-forward",
    ),
    pytest.param(
        "Europe/Berlin",
        "30 2 * * *",
        u(2024, 10, 25, 12),
        # 02:30 happens twice on the 27th: it runs once, the second time (CET).
        [u(2024, 10, 26, 0, 30), u(2024, 10, 27, 1, 30), u(2024, 10, 28, 1, 30)],
        id="berlin-daily-fall-back",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 * * * *",
        u(2024, 3, 30, 22, 30),
        # Every real hour: 00:00 and 01:00 CET, then 03:00 CEST.
        [u(2024, 3, 30, 23), u(2024, 3, 31, 0), u(2024, 3, 31, 1), u(2024, 3, 31, 2)],
        id="berlin-hourly-spring-forward",
    ),
    pytest.param(
        "Europe/Berlin",
        "0 * * * *",
        u(2024, 10, 26, 22, 30),
        # Both 02:00s run: 02:00 CEST (00:00 UTC) and 02:00 CET (01:00 UTC).
        [u(2024, 10, 26, 23), u(2024, 10, 27, 0), u(2024, 10, 27, 1), u(2024, 10, 27, 2)],
        id="berlin-hourly-fall-back",
    ),
    pytest.param(
        "Europe/Berlin",
        "*/30 * * * *",
        u(2024, 10, 26, 23, 15),
        [
            u(2024, 10, 26, 23, 30),
            u(2024, 10, 27, 0),
            u(2024, 10, 27, 0, 30),
            u(2024, 10, 27, 1),
            u(2024, 10, 27, 1, 30),
            u(2024, 10, 27, 2),
        ],
        id="berlin-half-hourly-fall-back",
    ),
    pytest.param(
        "America/New_York",
        "0 2 * * *",
        u(2024, 3, 8, 12),
        # 02:00 does not exist on the 10th: 03:00 EDT (07:00 UTC).
        [u(2024, 3, 9, 7), u(2024, 3, 10, 7), u(2024, 3, 11, 6)],
        id="new-york-daily-spring-forward",
    ),
    pytest.param(
        "America/New_York",
        "30 1 * * *",
        u(2024, 11, 1, 12),
        # 01:30 happens twice on the 3rd: once, at 01:30 EST (06:30 UTC).
        [u(2024, 11, 2, 5, 30), u(2024, 11, 3, 6, 30), u(2024, 11, 4, 6, 30)],
        id="new-york-daily-fall-back",
    ),
    pytest.param(
        "America/New_York",
        "0 * * * *",
        u(2024, 3, 10, 5, 30),
        [u(2024, 3, 10, 6), u(2024, 3, 10, 7), u(2024, 3, 10, 8)],
        id="new-york-hourly-spring-forward",
    ),
    pytest.param(
        "America/New_York",
        "30 * * * *",
        u(2024, 11, 3, 4, 15),
        # 01:30 EDT and 01:30 EST both run.
        [
            u(2024, 11, 3, 4, 30),
            u(2024, 11, 3, 5, 30),
            u(2024, 11, 3, 6, 30),
            u(2024, 11, 3, 7, 30),
        ],
        id="new-york-hourly-fall-back",
    ),
]


@pytest.mark.parametrize(("timezone", "cron", "start", "expected"), DST_CASES)
def test_dst_interval_timetable(
    timezone: str, cron: str, start: datetime, expected: list[datetime]
) -> None:
    spec = dag(cron, timezone=timezone, startDate=start.isoformat(), catchup=True)
    d = decide(spec, now=expected[-1] + timedelta(seconds=1))
    # The last expected time is the end of the last interval.
    assert intervals(d) == list(pairwise(expected))
    assert [r.run_after for r in d.runs] == expected[1:]


@pytest.mark.parametrize(("timezone", "cron", "start", "expected"), DST_CASES)
def test_dst_trigger_timetable(
    timezone: str, cron: str, start: datetime, expected: list[datetime]
) -> None:
    spec = dag(
        cron, timezone=timezone, timetable="trigger", startDate=start.isoformat(), catchup=True
    )
    d = decide(spec, now=expected[-1])
    assert logical_dates(d) == expected
    assert intervals(d) == [(t, t) for t in expected]
    assert d.next_run_time is not None
    assert d.next_run_time > expected[-1]


@pytest.mark.parametrize("timetable", ["interval", "trigger"])
@pytest.mark.parametrize(("timezone", "cron", "start", "expected"), DST_CASES)
def test_dst_as_the_clock_moves(
    timetable: str, timezone: str, cron: str, start: datetime, expected: list[datetime]
) -> None:
    """The schedule loop woken every 5 minutes around each due time (and hourly between
    them), without catchup: each run is created once, as soon as it is due, and none is
    skipped."""
    spec = dag(cron, timezone=timezone, timetable=timetable, startDate=start.isoformat())
    due = expected[1:] if timetable == "interval" else expected
    now, last = start, None
    created: dict[datetime, datetime] = {}
    while now <= expected[-1] + timedelta(minutes=5):
        d = decide(spec, now=now, last=last)
        for run in d.runs:
            assert run.run_after not in created, f"{run.run_after} created twice"
            created[run.run_after] = now
        last = d.last.data_interval if d.last else last
        assert d.next_run_time is not None
        assert d.next_run_time > now
        now += timedelta(minutes=5)
        upcoming = [t for t in due if t >= now]
        if upcoming and upcoming[0] - now > timedelta(hours=1):
            now = upcoming[0] - timedelta(hours=1)
    assert sorted(created) == due
    for run_after, at in created.items():
        assert run_after <= at < run_after + timedelta(minutes=5)


def test_dst_the_latest_closed_interval_inside_a_repeated_hour_has_ended() -> None:
    # Airflow's new-york-fold case: at 05:30 UTC on 3 November it is 01:30 EDT; the 01:00
    # run of that day is at 01:00 EST (06:00 UTC), not yet: the latest closed interval is
    # the one of 1 November.
    spec = dag("0 1 * * *", timezone="America/New_York")
    d = decide(spec, now=u(2024, 11, 3, 5, 30))
    assert intervals(d) == [(u(2024, 11, 1, 5), u(2024, 11, 2, 5))]
    assert d.next_run_time == u(2024, 11, 3, 6)


def test_dst_a_monday_hourly_schedule_is_not_shifted_by_sunday_changes() -> None:
    # The first run after the weekend is at Monday 00:00 CEST, whatever happened Sunday.
    cron = Cron("0 * * * 1", "Europe/Berlin")
    assert cron.next(u(2024, 3, 25, 22)) == u(2024, 3, 31, 22)
    assert cron.prev(u(2024, 3, 31, 22)) == u(2024, 3, 25, 22)


@pytest.mark.parametrize(
    ("current", "expected_next", "expected_prev"),
    [
        # 02:00 CEST (first pass of the repeated hour) -> 02:00 CET -> 03:00 CET.
        (u(2024, 10, 27, 0), u(2024, 10, 27, 1), u(2024, 10, 26, 23)),
        (u(2024, 10, 27, 0, 30), u(2024, 10, 27, 1), u(2024, 10, 27, 0)),
        (u(2024, 10, 27, 1, 30), u(2024, 10, 27, 2), u(2024, 10, 27, 1)),
    ],
)
def test_cron_next_and_prev_inside_a_repeated_hour(
    current: datetime, expected_next: datetime, expected_prev: datetime
) -> None:
    cron = Cron("0 * * * *", "Europe/Berlin")
    assert cron.next(current) == expected_next
    assert cron.prev(current) == expected_prev


def test_cron_align_keeps_a_cron_time_and_moves_others() -> None:
    cron = Cron("0 2 * * *", "Europe/Berlin")
    at = u(2024, 1, 10, 1)  # 02:00 CET
    assert cron.align_next(at) == at
    assert cron.align_prev(at) == at
    assert cron.align_next(at + timedelta(minutes=1)) == u(2024, 1, 11, 1)
    assert cron.align_prev(at + timedelta(minutes=1)) == at


def test_a_naive_start_date_is_read_in_the_dags_timezone() -> None:
    spec = dag("0 0 * * *", timezone="Europe/Berlin", startDate="2024-07-01", catchup=True)
    d = decide(spec, now=u(2024, 7, 2, 0))
    # Midnight CEST is 22:00 UTC the day before.
    assert intervals(d) == [(u(2024, 6, 30, 22), u(2024, 7, 1, 22))]
    assert d.runs[0].name == "etl-scheduled-20240630t220000"


def test_to_utc_reads_naive_times_as_airflow_does() -> None:
    assert to_utc(datetime(2024, 3, 31, 2, 30), "Europe/Berlin") == u(2024, 3, 31, 1, 30)
    assert to_utc(datetime(2024, 10, 27, 2, 30), "Europe/Berlin") == u(2024, 10, 27, 1, 30)
    aware = datetime(2024, 1, 1, 5, tzinfo=UTC)
    assert to_utc(aware, "Europe/Berlin") == aware


# -- manual runs, specs, errors --------------------------------------------------------------


def test_a_manual_runs_data_interval_is_the_last_complete_one() -> None:
    assert infer_manual_data_interval(dag("@daily"), u(2022, 8, 8, 1)) == DataInterval(
        u(2022, 8, 7), u(2022, 8, 8)
    )
    assert infer_manual_data_interval(dag("@daily"), u(2022, 8, 8)) == DataInterval(
        u(2022, 8, 7), u(2022, 8, 8)
    )
    trigger = dag("@daily", timetable="trigger")
    assert infer_manual_data_interval(trigger, u(2022, 8, 8, 1)) == DataInterval.exact(
        u(2022, 8, 8, 1)
    )
    assert infer_manual_data_interval(dag(None), u(2022, 8, 8, 1)) == DataInterval.exact(
        u(2022, 8, 8, 1)
    )


def test_a_scheduled_run_becomes_a_dagrun_spec() -> None:
    spec = dag("@daily", startDate="2024-01-01", catchup=True)
    [run] = decide(spec, now=u(2024, 1, 2)).runs
    run_spec = run.spec("etl")
    assert run_spec.run_type is RunType.SCHEDULED
    assert run_spec.dag_ref.name == "etl"
    assert run_spec.logical_date == u(2024, 1, 1)
    assert (run_spec.data_interval_start, run_spec.data_interval_end) == (
        u(2024, 1, 1),
        u(2024, 1, 2),
    )


def test_the_clock_must_be_aware() -> None:
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        decide(dag("@daily"), now=datetime(2024, 1, 1))


def test_the_timetable_field_is_checked() -> None:
    with pytest.raises(ValueError, match="timetable"):
        dag("@daily", timetable="cron")
    assert dag("@daily").timetable is None  # the interval timetable
