"""What one planning pass decides (``Plan``), and the planner's options."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dagrun import TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.model.actions import Action, CreatePod, DeletePod, Event, FinishRun


@dataclass(frozen=True)
class PlannerOptions:
    pod_missing_grace: timedelta = timedelta(seconds=60)
    """A pod created but not seen for this long (from its try's queuedTime) is lost. Covers
    a watch that has not delivered it yet."""
    pod_terminating_grace: timedelta = timedelta(minutes=5)
    """A pod still terminating this long after its deletion started (a lost node) is lost."""
    max_new_pods: int | None = None
    """At most this many pods created in one pass, on top of maxActiveTasks: for a limit
    shared by several runs, computed by the controller."""


DEFAULT_OPTIONS = PlannerOptions()


@dataclass(frozen=True)
class Plan:
    """What a pass decided."""

    run_state: RunState
    start_time: datetime | None
    end_time: datetime | None
    tasks: Mapping[str, TaskStatus]
    """The new state of every task of the DAG, upstream tasks first."""
    changed: tuple[str, ...]
    """The tasks whose status differs from the one given (their DB rows to write)."""
    actions: tuple[Action, ...]
    """Deletions first, then creations, then the end of the run if it ended."""
    events: tuple[Event, ...]
    next_wakeup: datetime | None
    """Plan again at this time (a retry delay or a timeout ends) if no pod changed before."""
    reason: str | None = None
    message: str | None = None
    """Why the run ended, once it has."""
    last_clear_id: str | None = None
    """The id of the last clear request applied, this pass's included."""
    clear_number: int = 0
    """How many clear requests have cleared tasks, this pass's included."""
    last_mark_id: str | None = None
    """The id of the last mark request applied, this pass's included."""
    counts: Mapping[TaskState, int] | None = None
    """How many tasks are in each state, when the planner knows it already."""
    ended: tuple[tuple[str, TaskStatus], ...] = ()
    """Ended tries whose status this pass replaced (a retry due, a clear): their last
    status, which ``tasks`` no longer shows, for the history."""

    @property
    def creates(self) -> tuple[CreatePod, ...]:
        return tuple(a for a in self.actions if isinstance(a, CreatePod))

    @property
    def deletes(self) -> tuple[DeletePod, ...]:
        return tuple(a for a in self.actions if isinstance(a, DeletePod))

    @property
    def finish(self) -> FinishRun | None:
        return next((a for a in self.actions if isinstance(a, FinishRun)), None)
