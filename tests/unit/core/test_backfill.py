"""Backfill: one run per interval whose logical date is in [start, end], skipping those
that already have a run unless asked to rerun failed or all finished ones."""

from datetime import UTC, datetime
from typing import Any

import pytest

from airkube.api import DAGSpec, RunState, RunType
from airkube.core.backfill import (
    BackfillError,
    BackfillMode,
    ExistingRun,
    backfill_intervals,
)


def u(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def dag(schedule: str | None = "@daily", **fields: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"schedule": schedule, "defaults": {"image": "busybox"}, "tasks": [{"name": "a"}], **fields}
    )


NOW = u(2024, 2, 1)
EXISTING = {
    u(2024, 1, 2): ExistingRun("etl-scheduled-20240102t000000", RunState.SUCCEEDED),
    u(2024, 1, 3): ExistingRun("etl-scheduled-20240103t000000", RunState.FAILED),
    u(2024, 1, 4): ExistingRun("etl-backfill-20240104t000000", RunState.RUNNING),
    u(2024, 1, 5): ExistingRun("etl-manual-20240105t000000", RunState.CANCELLED),
}


def dates(mode: BackfillMode) -> list[datetime]:
    plan = backfill_intervals(
        "etl", dag(), u(2024, 1, 1), u(2024, 1, 6), now=NOW, existing=EXISTING, mode=mode
    )
    return [run.logical_date for run in plan.runs]


def test_both_ends_of_the_range_are_included() -> None:
    plan = backfill_intervals("etl", dag(), u(2024, 1, 1), u(2024, 1, 3), now=NOW, existing={})
    assert [(r.data_interval_start, r.data_interval_end) for r in plan.runs] == [
        (u(2024, 1, 1), u(2024, 1, 2)),
        (u(2024, 1, 2), u(2024, 1, 3)),
        (u(2024, 1, 3), u(2024, 1, 4)),
    ]
    assert [r.name for r in plan.runs] == [
        "etl-backfill-20240101t000000",
        "etl-backfill-20240102t000000",
        "etl-backfill-20240103t000000",
    ]
    spec = plan.runs[0].spec("etl")
    assert spec.run_type is RunType.BACKFILL
    assert spec.logical_date == u(2024, 1, 1)


def test_only_missing_skips_every_existing_run() -> None:
    assert dates(BackfillMode.ONLY_MISSING) == [u(2024, 1, 1), u(2024, 1, 6)]


def test_rerun_failed_reruns_failed_and_cancelled_runs() -> None:
    assert dates(BackfillMode.RERUN_FAILED) == [
        u(2024, 1, 1),
        u(2024, 1, 3),
        u(2024, 1, 5),
        u(2024, 1, 6),
    ]


def test_rerun_all_reruns_finished_runs_but_never_an_active_one() -> None:
    assert dates(BackfillMode.RERUN_ALL) == [
        u(2024, 1, 1),
        u(2024, 1, 2),
        u(2024, 1, 3),
        u(2024, 1, 5),
        u(2024, 1, 6),
    ]


def test_a_rerun_names_the_run_it_replaces_and_skips_say_why() -> None:
    plan = backfill_intervals(
        "etl",
        dag(),
        u(2024, 1, 2),
        u(2024, 1, 4),
        now=NOW,
        existing=EXISTING,
        mode=BackfillMode.RERUN_FAILED,
    )
    [rerun] = plan.runs
    assert rerun.logical_date == u(2024, 1, 3)
    assert rerun.replaces == EXISTING[u(2024, 1, 3)]
    assert plan.skipped == (
        (
            u(2024, 1, 2),
            "run etl-scheduled-20240102t000000 is Succeeded (--rerun-all to run it again)",
        ),
        (u(2024, 1, 4), "run etl-backfill-20240104t000000 is Running"),
    )


def test_the_start_moves_to_the_next_cron_time() -> None:
    plan = backfill_intervals(
        "etl", dag("0 6 * * *"), u(2024, 1, 1, 7), u(2024, 1, 3, 6), now=NOW, existing={}
    )
    assert [r.logical_date for r in plan.runs] == [u(2024, 1, 2, 6), u(2024, 1, 3, 6)]


def test_intervals_that_have_not_ended_are_not_backfilled() -> None:
    plan = backfill_intervals("etl", dag(), u(2024, 1, 30), u(2024, 3, 1), now=NOW, existing={})
    assert [r.logical_date for r in plan.runs] == [u(2024, 1, 30), u(2024, 1, 31)]


def test_naive_bounds_are_read_in_the_dags_timezone() -> None:
    spec = dag("@daily", timezone="Europe/Berlin")
    plan = backfill_intervals(
        "etl", spec, datetime(2024, 1, 1), datetime(2024, 1, 2), now=NOW, existing={}
    )
    assert [r.logical_date for r in plan.runs] == [u(2023, 12, 31, 23), u(2024, 1, 1, 23)]


def test_the_trigger_timetable_backfills_each_cron_time() -> None:
    spec = dag("0 6 * * *", timetable="trigger")
    plan = backfill_intervals("etl", spec, u(2024, 1, 1), u(2024, 1, 2, 23), now=NOW, existing={})
    assert [(r.data_interval_start, r.data_interval_end) for r in plan.runs] == [
        (u(2024, 1, 1, 6), u(2024, 1, 1, 6)),
        (u(2024, 1, 2, 6), u(2024, 1, 2, 6)),
    ]


def test_the_dags_start_and_end_dates_do_not_limit_a_backfill() -> None:
    spec = dag("@daily", startDate="2024-01-10", endDate="2024-01-12", paused=True)
    plan = backfill_intervals("etl", spec, u(2024, 1, 1), u(2024, 1, 2), now=NOW, existing={})
    assert len(plan.runs) == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dag(None), "DAG etl has no schedule: backfill needs a cron schedule"),
        (dag("@once"), "DAG etl has schedule @once: backfill needs a cron schedule"),
    ],
)
def test_a_dag_without_cron_schedule_cannot_be_backfilled(spec: DAGSpec, message: str) -> None:
    with pytest.raises(BackfillError, match=message):
        backfill_intervals("etl", spec, u(2024, 1, 1), u(2024, 1, 2), now=NOW, existing={})


def test_an_inverted_range_is_refused() -> None:
    with pytest.raises(BackfillError, match=r"--end \(2024-01-01T00:00:00\+00:00\) is before"):
        backfill_intervals("etl", dag(), u(2024, 1, 2), u(2024, 1, 1), now=NOW, existing={})


def test_a_huge_range_is_refused() -> None:
    with pytest.raises(BackfillError, match="more than 100 intervals"):
        backfill_intervals(
            "etl", dag("@hourly"), u(2023, 1, 1), u(2024, 1, 1), now=NOW, existing={}, max_runs=100
        )
