"""Admission: whether a run that has not started may start now (the DAG's maxActiveRuns,
oldest logical date first), and if not, why it waits."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airkube.api.states import RunState
from airkube.core.model.verdict import Verdict

DEFAULT_MAX_ACTIVE_RUNS = 16
"""Airflow's max_active_runs_per_dag."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RunStanding:
    """One run of the DAG as admission sees it."""

    name: str
    state: RunState
    started: bool
    logical_date: datetime | None


@dataclass(frozen=True)
class QueuedRun:
    """A Queued run waiting for a slot among the DAG's maxActiveRuns."""

    name: str
    logical_date: datetime | None


def runs_allowed_to_start(
    max_active_runs: int, running: int, queued: list[QueuedRun] | tuple[QueuedRun, ...]
) -> list[str]:
    """The names of the Queued runs that may start now: oldest logical date first (runs
    without one last, then by name), while fewer than ``max_active_runs`` of the DAG's runs
    are Running. Others stay Queued until a run ends."""
    slots = max(0, max_active_runs - running)

    def order(run: QueuedRun) -> tuple[bool, timedelta, str]:
        # A difference of aware datetimes never overflows (converting 0001-01-01T12:00+14:00
        # to UTC would), so any date a run carries has a key.
        when = run.logical_date
        if when is None:
            return True, timedelta(0), run.name
        if when.utcoffset() is None:
            when = when.replace(tzinfo=UTC)
        return False, when - _EPOCH, run.name

    return [run.name for run in sorted(queued, key=order)[:slots]]


def admit(name: str, dag: str, max_active_runs: int | None, runs: Iterable[RunStanding]) -> Verdict:
    """Whether run ``name`` of DAG ``dag`` may start, among ``runs`` (all the DAG's runs):
    fewer than maxActiveRuns are running, and no older Queued run goes first."""
    limit = max_active_runs or DEFAULT_MAX_ACTIVE_RUNS
    running = 0
    queued: list[QueuedRun] = []
    for run in runs:
        if run.state is RunState.RUNNING or (run.state is RunState.QUEUED and run.started):
            running += 1
        elif run.state is RunState.QUEUED:
            queued.append(QueuedRun(run.name, run.logical_date))
    if name in runs_allowed_to_start(limit, running, queued):
        return Verdict.yes()
    return Verdict.no(
        "MaxActiveRuns",
        f"{running} runs of DAG {dag} are running (maxActiveRuns {limit}); "
        "this one starts when one ends",
    )
