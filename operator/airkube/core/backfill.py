"""Backfill: the runs ``airkube backfill DAG --start T1 --end T2`` creates.

As Airflow's backfill (``airflow dags backfill -s -e``, Airflow 3's backfill with its
reprocess behaviours): one run per data interval of the DAG's timetable whose **logical
date** lies in [start, end], both ends included, ``start`` moved forward to the first cron
time at or after it. Only intervals that have ended by ``now`` are backfilled (a run for a
later one would read incomplete data; the schedule creates it when it closes). The DAG's
startDate, endDate, catchup and paused do not limit a backfill: it is an explicit request.

A logical date that already has a run is skipped, unless:

- ``rerun_failed``: its run is Failed or Cancelled;
- ``rerun_all``: its run has finished (Succeeded, Failed or Cancelled).

A Queued or Running run is never replaced. Backfill runs are created Queued: the run
reconciler starts them within the DAG's maxActiveRuns (see
:func:`airkube.core.rules.admission.runs_allowed_to_start`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import DagRef, DAGRunSpec, RunType
from airkube.api.states import RunState
from airkube.core.cron import as_utc, to_utc
from airkube.core.run_names import backfill_run_name
from airkube.core.timetables import (
    DataInterval,
    IntervalSchedule,
    TriggerSchedule,
    schedule_of,
)

DEFAULT_MAX_RUNS = 10_000


class BackfillMode(StrEnum):
    """Which intervals that already have a run are run again."""

    ONLY_MISSING = "only_missing"
    RERUN_FAILED = "rerun_failed"
    RERUN_ALL = "rerun_all"


_RERUN_STATES = {
    BackfillMode.ONLY_MISSING: frozenset[RunState](),
    BackfillMode.RERUN_FAILED: frozenset({RunState.FAILED, RunState.CANCELLED}),
    BackfillMode.RERUN_ALL: frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}),
}


class BackfillError(ValueError):
    """The backfill cannot be planned; the message says what to change."""


@dataclass(frozen=True)
class ExistingRun:
    """A run of the DAG that already exists for a logical date."""

    name: str
    state: RunState


@dataclass(frozen=True)
class BackfillRun:
    """A backfill run to create."""

    name: str
    """``<dag>-backfill-<logical date>``: deterministic, so running the same backfill twice
    creates nothing twice."""
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    replaces: ExistingRun | None = None
    """The finished run of the same logical date this one reruns: delete it first (its
    history stays in the database). Its name may be this run's own."""

    def spec(self, dag: str) -> DAGRunSpec:
        """The DAGRun spec to create."""
        return DAGRunSpec(
            dag_ref=DagRef(name=dag),
            run_type=RunType.BACKFILL,
            logical_date=self.logical_date,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
        )


@dataclass(frozen=True)
class BackfillPlan:
    """The runs to create, oldest first, and the logical dates skipped (with why)."""

    runs: tuple[BackfillRun, ...]
    skipped: tuple[tuple[datetime, str], ...]


def backfill_intervals(
    dag: str,
    spec: DAGSpec,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    existing: Mapping[datetime, ExistingRun],
    mode: BackfillMode = BackfillMode.ONLY_MISSING,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> BackfillPlan:
    """The backfill runs of ``dag`` for logical dates in [start, end] (see the module
    docstring). ``start`` and ``end`` without an offset are read in the DAG's timezone;
    ``existing`` maps the logical dates that have a run (aware, any timezone) to it.

    Raises :class:`BackfillError` for a DAG without a cron schedule, an empty range, or a
    range of more than ``max_runs`` intervals.
    """
    schedule = schedule_of(spec)
    if not isinstance(schedule, IntervalSchedule | TriggerSchedule):
        what = "no schedule" if schedule is None else f"schedule {spec.schedule}"
        raise BackfillError(
            f"DAG {dag} has {what}: backfill needs a cron schedule to know its intervals "
            "(trigger single runs with `airkube trigger --logical-date`)"
        )
    first, last_date = to_utc(start, spec.timezone), to_utc(end, spec.timezone)
    if last_date < first:
        raise BackfillError(f"--end ({end.isoformat()}) is before --start ({start.isoformat()})")
    now = as_utc(now, "now")
    known = {as_utc(when, "a logical date"): run for when, run in existing.items()}
    rerun = _RERUN_STATES[mode]
    runs: list[BackfillRun] = []
    skipped: list[tuple[datetime, str]] = []
    last: DataInterval | None = None
    while True:
        info = schedule.next_run(last, earliest=first, latest=last_date, catchup=True, now=now)
        if info is None or info.run_after > now:
            break
        last = info.data_interval
        if len(runs) + len(skipped) >= max_runs:
            raise BackfillError(
                f"the range holds more than {max_runs} intervals of DAG {dag}: backfill a "
                "shorter range at a time"
            )
        found = known.get(info.logical_date)
        if found is not None and found.state not in rerun:
            skipped.append((info.logical_date, _why_skipped(found, mode)))
            continue
        runs.append(
            BackfillRun(
                name=backfill_run_name(dag, info.logical_date),
                logical_date=info.logical_date,
                data_interval_start=info.data_interval.start,
                data_interval_end=info.data_interval.end,
                replaces=found,
            )
        )
    return BackfillPlan(tuple(runs), tuple(skipped))


def _why_skipped(run: ExistingRun, mode: BackfillMode) -> str:
    if not run.state.finished:
        return f"run {run.name} is {run.state}"
    hint = {
        BackfillMode.ONLY_MISSING: "--rerun-failed or --rerun-all to run it again",
        BackfillMode.RERUN_FAILED: "--rerun-all to run it again",
        BackfillMode.RERUN_ALL: "",
    }[mode]
    return f"run {run.name} is {run.state}" + (f" ({hint})" if hint else "")
