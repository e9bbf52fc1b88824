"""When a DAG's runs happen: cron schedules in a timezone, data intervals, catchup,
startDate/endDate, maxActiveRuns, paused and @once, as Airflow computes them.

The schedule loop calls :func:`next_runs` with the clock; everything here is pure.

Two timetables, as in Airflow:

- ``interval`` (Airflow 2's CronDataIntervalTimetable): consecutive cron times t0, t1, …
  bound the data intervals [t_i, t_i+1); the run of an interval is due when it ends, and its
  logical date is its start.
- ``trigger`` (Airflow 3's CronTriggerTimetable): a run at each cron time t, logical date t,
  data interval [t, t].

``@once`` is one run whose logical date is startDate (or the DAG's creation when it has no
startDate), due at once.

Daylight saving time, as Airflow's ``_cron.py`` does it (croniter on the naive wall-clock
time, then made aware with ``fold=1`` through pendulum's ``convert``):

- a wall-clock time that does not exist (spring forward) is moved forward by the gap: in
  Europe/Berlin ``30 2 * * *`` fires at 03:30 CEST on that day;
- a wall-clock time that happens twice (fall back) fires once, at its second occurrence
  (``0 2 * * *`` on Berlin's fall-back day fires at 02:00 CET, 01:00 UTC) …
- … except for schedules whose hour field is ``*`` (they fire at least hourly): those fire
  in both occurrences, so ``0 * * * *`` runs every real hour through the change, and
  ``*/30 * * * *`` every real half hour (Airflow's ``_covers_every_hour``).

No run is skipped or doubled. One refinement on Airflow: the previous/next cron time of an
arbitrary instant inside a repeated hour also considers the wall-clock times of that hour's
other occurrence, so "the latest closed interval" never names an interval that has not
ended yet, and a Monday-only hourly schedule is not shifted by a Sunday DST change (Airflow
adds the naive difference as an absolute duration there).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dag import DAGSpec, Timetable
from airkube.api.dagrun import DagRef, DAGRunSpec, RunType
from airkube.core.cron import Cron, as_utc, to_utc
from airkube.core.run_names import scheduled_run_name

ONCE = "@once"
DEFAULT_LIMIT = 100
"""At most this many runs created by one call of :func:`next_runs` (catchup comes in
batches: the next call carries on)."""

_FIRST_RUN_MIN_BUFFER = timedelta(minutes=5)


@dataclass(frozen=True)
class DataInterval:
    """The span of data a run processes: [start, end), aware, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start, "a data interval's start"))
        object.__setattr__(self, "end", as_utc(self.end, "a data interval's end"))
        if self.end < self.start:
            raise ValueError(f"data interval ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def exact(cls, at: datetime) -> "DataInterval":
        """The empty interval [at, at]."""
        return cls(at, at)


@dataclass(frozen=True)
class RunInfo:
    """One run a timetable produces: its logical date, its data interval, and when it is
    due (``run_after``: the interval's end, or the cron time for ``trigger``)."""

    logical_date: datetime
    data_interval: DataInterval
    run_after: datetime


class Schedule(ABC):
    """A timetable: the run that follows the last one (Airflow's ``next_dagrun_info``)."""

    @abstractmethod
    def next_run(
        self,
        last: DataInterval | None,
        *,
        earliest: datetime | None,
        latest: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> RunInfo | None:
        """The run after ``last`` (the data interval of the newest scheduled run), or the
        first run; None when there is none (past ``latest``, or @once done).

        ``earliest`` and ``latest`` are startDate and endDate; ``now`` only matters
        without catchup (the latest run due) and for a first run without startDate. The
        run returned may not be due yet: compare its ``run_after`` with the clock.
        """

    @abstractmethod
    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``."""


class IntervalSchedule(Schedule):
    """Airflow 2's CronDataIntervalTimetable."""

    def __init__(self, cron: Cron) -> None:
        self.cron = cron

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        """The start of the latest interval that has ended by ``now`` (an interval ending
        exactly now counts), not before ``earliest``."""
        last_start = self.cron.prev(now)
        next_start = self.cron.next(last_start)
        new_start = last_start if next_start == now else self.cron.prev(last_start)
        if earliest is None:
            return new_start
        return max(new_start, self.cron.align_next(earliest))

    def next_run(
        self,
        last: DataInterval | None,
        *,
        earliest: datetime | None,
        latest: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> RunInfo | None:
        if last is None and earliest is None:
            # Nothing to catch up from: start with the latest interval.
            catchup = False
        if not catchup:
            earliest = self._skip_to_latest(earliest, now)
        elif earliest is not None:
            earliest = self.cron.align_next(earliest)
        if last is None:
            assert earliest is not None
            start = earliest
        else:
            start = self.cron.align_prev(last.end)
            if start <= last.start:
                # An empty last interval (the trigger timetable's) must not be re-run.
                start = self.cron.next(start)
            if earliest is not None:
                start = max(start, earliest)
        if latest is not None and start > latest:
            return None
        end = self.cron.next(start)
        return RunInfo(start, DataInterval(start, end), end)

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        # The last complete interval before run_after (Airflow's rule).
        end = self.cron.align_prev(run_after)
        return DataInterval(self.cron.prev(end), end)


class TriggerSchedule(Schedule):
    """Airflow 3's CronTriggerTimetable (with its default empty data interval)."""

    def __init__(self, cron: Cron) -> None:
        self.cron = cron

    def _first_run(self, now: datetime) -> datetime:
        """Without startDate nor any run: the cron time that just passed if it is recent
        (within a tenth of the period, at least 5 minutes), else the next one (Airflow's
        ``_calc_first_run``)."""
        past = self.cron.align_prev(now)
        following = self.cron.align_next(now)
        buffer = max((following - past) / 10, _FIRST_RUN_MIN_BUFFER)
        return past if now - past <= buffer else following

    def next_run(
        self,
        last: DataInterval | None,
        *,
        earliest: datetime | None,
        latest: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> RunInfo | None:
        if catchup:
            if last is not None:
                at = self.cron.next(last.end)
            elif earliest is None:
                at = self._first_run(now)
            else:
                at = self.cron.align_next(earliest)
        else:
            candidates = [self.cron.align_prev(now)]
            if last is not None:
                candidates.append(self.cron.next(last.end))
            elif earliest is None:
                candidates.append(self._first_run(now))
            if earliest is not None:
                candidates.append(self.cron.align_next(earliest))
            at = max(candidates)
        if latest is not None and at > latest:
            return None
        return RunInfo(at, DataInterval.exact(at), at)

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        return DataInterval.exact(run_after)


class OnceSchedule(Schedule):
    """``@once``: one run, at startDate, or as soon as the DAG exists."""

    def __init__(self, created: datetime | None = None) -> None:
        self.created = created

    def next_run(
        self,
        last: DataInterval | None,
        *,
        earliest: datetime | None,
        latest: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> RunInfo | None:
        if last is not None:
            return None
        at = earliest or self.created or now
        if latest is not None and at > latest:
            return None
        return RunInfo(at, DataInterval.exact(at), at)

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        return DataInterval.exact(run_after)


def schedule_of(spec: DAGSpec, *, created: datetime | None = None) -> Schedule | None:
    """The timetable of ``spec``; None for a DAG without schedule (manual runs only).

    ``created`` (the DAG's creationTimestamp) is when ``@once`` without startDate runs:
    the same for every replica, so its run name is too.
    """
    if spec.schedule is None:
        return None
    if spec.schedule.strip() == ONCE:
        return OnceSchedule(as_utc(created, "created") if created is not None else None)
    cron = Cron(spec.schedule.strip(), spec.timezone)
    if spec.timetable is Timetable.TRIGGER:
        return TriggerSchedule(cron)
    return IntervalSchedule(cron)


def start_of(spec: DAGSpec) -> datetime | None:
    """startDate as an aware UTC datetime (read in the DAG's timezone when naive)."""
    return to_utc(spec.start_date, spec.timezone) if spec.start_date is not None else None


def end_of(spec: DAGSpec) -> datetime | None:
    """endDate as an aware UTC datetime (read in the DAG's timezone when naive)."""
    return to_utc(spec.end_date, spec.timezone) if spec.end_date is not None else None


def infer_manual_data_interval(spec: DAGSpec, run_after: datetime) -> DataInterval:
    """The data interval of a run of ``spec`` triggered by hand at ``run_after`` (its
    logical date), as Airflow infers it: for the interval timetable, the last complete
    interval before it; otherwise the empty interval [run_after, run_after]."""
    schedule = schedule_of(spec)
    run_after = as_utc(run_after, "run_after")
    if schedule is None:
        return DataInterval.exact(run_after)
    return schedule.infer_manual_data_interval(run_after)


@dataclass(frozen=True)
class ScheduledRun:
    """A run the schedule creates now."""

    name: str
    """``<dag>-scheduled-<logical date>``: deterministic."""
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    run_after: datetime
    """When it became due."""

    def spec(self, dag: str) -> DAGRunSpec:
        """The DAGRun spec to create (params come from the DAG's defaults)."""
        return DAGRunSpec(
            dag_ref=DagRef(name=dag),
            run_type=RunType.SCHEDULED,
            logical_date=self.logical_date,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
        )

    @property
    def data_interval(self) -> DataInterval:
        return DataInterval(self.data_interval_start, self.data_interval_end)


@dataclass(frozen=True)
class ScheduleDecision:
    """What the schedule loop does for one DAG now."""

    runs: tuple[ScheduledRun, ...]
    """The runs to create, oldest first (create them in this order)."""
    next_run_time: datetime | None
    """When the next run is due (DAG status ``nextRunTime`` and the loop's timer); None when
    none will be (no schedule, paused, past endDate, @once done). In the past when
    ``held_back``."""
    held_back: bool = False
    """A run is due but not created: the DAG has maxActiveRuns runs Queued or Running (or
    ``limit`` was reached). Call again when one of its runs ends."""

    @property
    def last(self) -> ScheduledRun | None:
        """The newest run created: the ``last`` of the next call (DAG status
        ``lastScheduledRun``)."""
        return self.runs[-1] if self.runs else None


def next_runs(
    dag: str,
    spec: DAGSpec,
    *,
    last: DataInterval | None,
    now: datetime,
    active_runs: int,
    limit: int = DEFAULT_LIMIT,
    created: datetime | None = None,
) -> ScheduleDecision:
    """The scheduled runs of DAG ``dag`` to create at ``now``, and when the next one is due.

    ``last`` is the data interval of the newest run the schedule created (DAG status
    ``lastScheduledRun``; None before the first). ``active_runs`` counts the DAG's Queued and
    Running runs: like Airflow's scheduler, no run is created while maxActiveRuns of them
    exist, so catchup creates missed intervals as runs end, oldest first. ``created`` is the
    DAG's creationTimestamp (for @once without startDate).

    A paused DAG gets no runs and no ``next_run_time``; once unpaused, catchup false creates
    only the latest interval, catchup true every interval missed since ``last``.
    """
    now = as_utc(now, "now")
    schedule = schedule_of(spec, created=created)
    if schedule is None or spec.paused:
        return ScheduleDecision((), None)
    earliest, latest = start_of(spec), end_of(spec)
    budget = min(limit, spec.max_active_runs - active_runs)
    runs: list[ScheduledRun] = []
    info = schedule.next_run(last, earliest=earliest, latest=latest, catchup=spec.catchup, now=now)
    while info is not None and info.run_after <= now and len(runs) < budget:
        runs.append(
            ScheduledRun(
                name=scheduled_run_name(dag, info.logical_date),
                logical_date=info.logical_date,
                data_interval_start=info.data_interval.start,
                data_interval_end=info.data_interval.end,
                run_after=info.run_after,
            )
        )
        info = schedule.next_run(
            info.data_interval, earliest=earliest, latest=latest, catchup=spec.catchup, now=now
        )
    if info is None:
        return ScheduleDecision(tuple(runs), None)
    return ScheduleDecision(tuple(runs), info.run_after, held_back=info.run_after <= now)
