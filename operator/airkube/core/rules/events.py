"""The events that matter — a try failed, a retry follows, the run ended — as functions of
the statuses they announce.

Each such event has a key that names the transition (the task, its try and the state it
ended in; the run's state and clear number), and the controller names the Kubernetes Event
after it, so posting one twice is harmless. Because they follow from the status alone, a
restarted operator derives from each run's status the ones it may have missed (the
operator was killed after writing the status, before posting) and posts them: once.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dagrun import DAGRunStatus, TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.model.actions import Event, EventType
from airkube.core.model.reasons import Reason
from airkube.core.model.text import last_line

EVENT_DETAIL_CHARS = 800
RECENT = timedelta(minutes=50)
"""How far back a restarted operator looks for events it may have missed: the API server
keeps events for an hour, so an event older than this may have expired, and posting it
again would post it twice."""


TRY_ENDS = frozenset({TaskState.FAILED, TaskState.UP_FOR_RETRY, TaskState.SUCCEEDED})
"""The states a try ends in that are transitions worth announcing (events, callbacks)."""


@dataclass(frozen=True)
class TryEnded:
    """A try of ``task`` ended: ``status`` is the task's status as the try left it."""

    task: str
    status: TaskStatus

    @property
    def key(self) -> str:
        return try_end_key(self.task, self.status)


@dataclass(frozen=True)
class RunEnded:
    """The run ended (its ``clear_number``-th time) in ``state``."""

    state: RunState
    clear_number: int
    reason: str | None
    message: str | None
    end_time: datetime | None

    @property
    def key(self) -> str:
        return run_end_key(self.state, self.clear_number)


Transition = TryEnded | RunEnded


def try_end_key(name: str, status: TaskStatus) -> str:
    return f"task/{name}/{status.try_number}/{status.state.value}"


def run_end_key(state: RunState, clear_number: int) -> str:
    return f"run/{clear_number}/{state.value}"


def _is_try_end(status: TaskStatus) -> bool:
    return status.state in TRY_ENDS and status.try_number > 0


def pass_transitions(
    before: Mapping[str, TaskStatus],
    tasks: Mapping[str, TaskStatus],
    changed: Iterable[str],
    ended: Iterable[tuple[str, TaskStatus]],
    run: RunEnded | None,
) -> list[Transition]:
    """The transitions of one pass: tries that ended (``ended``: those a newer try already
    replaced; ``changed`` tasks now in an end state they were not in ``before``), and the
    run's end (``run``, when it ended in this pass)."""
    found: list[Transition] = [TryEnded(n, s) for n, s in ended if _is_try_end(s)]
    for name in changed:
        status = tasks[name]
        old = before.get(name)
        if not _is_try_end(status):
            continue
        if old is not None and (old.state, old.try_number) == (status.state, status.try_number):
            continue
        found.append(TryEnded(name, status))
    if run is not None:
        found.append(run)
    return found


def recent_transitions(
    status: DAGRunStatus, now: datetime, recent: timedelta = RECENT
) -> list[Transition]:
    """The transitions ``status`` shows that happened within ``recent`` of ``now``: those a
    restarted operator announces again in case it was killed before it did."""
    since = now - recent
    found: list[Transition] = []
    tries: Iterable[tuple[str, TaskStatus]] = [
        *((t.task, t) for t in status.ended_tries or ()),
        *(status.tasks or {}).items(),
    ]
    for name, task in tries:
        if task.end_time is None or task.end_time < since or not _is_try_end(task):
            continue
        found.append(TryEnded(name, task))
    if status.state.finished and status.end_time is not None and status.end_time >= since:
        found.append(
            RunEnded(
                status.state,
                status.clear_number or 0,
                status.reason,
                status.message,
                status.end_time,
            )
        )
    return found


def task_end_event(name: str, status: TaskStatus, max_tries: int | None = None) -> Event | None:
    """The event for a try that ended Failed or UpForRetry (None for other states)."""
    tried = status.try_number
    of = f" of {max_tries}" if max_tries else ""
    # Up to most of an event's 1 KiB note: an API server's refusal says why at its end.
    detail = (
        f"{status.reason}: {last_line(status.message, EVENT_DETAIL_CHARS)}"
        if status.message
        else status.reason
    )
    key = try_end_key(name, status)
    if status.state is TaskState.UP_FOR_RETRY:
        retry_at = status.next_retry_time
        then = f"; next try at {retry_at.isoformat()}" if retry_at else ""
        message = f'task "{name}" try {tried}{of} failed ({detail}){then}'
        return Event(EventType.WARNING, Reason.TASK_RETRYING, message, name, key)
    if status.state is TaskState.FAILED:
        message = f'task "{name}" failed on try {tried}{of} ({detail})'
        return Event(EventType.WARNING, Reason.TASK_FAILED, message, name, key)
    return None


def run_event_reason(state: RunState) -> str:
    return {
        RunState.SUCCEEDED: Reason.RUN_SUCCEEDED,
        RunState.FAILED: Reason.RUN_FAILED,
    }.get(state, Reason.CANCELLED)


def run_end_event(
    state: RunState, message: str, clear_number: int, reason: str | None = None
) -> Event:
    """The event for a run that ended in ``state`` (``reason``: the event's reason when it
    is not the state's usual one, e.g. why a run was aborted)."""
    kind = (
        EventType.NORMAL
        if state in (RunState.SUCCEEDED, RunState.CANCELLED)
        else (EventType.WARNING)
    )
    key = run_end_key(state, clear_number)
    return Event(kind, reason or run_event_reason(state), message, key=key)


def status_events(status: DAGRunStatus, now: datetime, recent: timedelta = RECENT) -> list[Event]:
    """The events of the transitions ``status`` shows that happened within ``recent`` of
    ``now``: what a restarted operator posts in case it was killed before it did."""
    events: list[Event] = []
    for transition in recent_transitions(status, now, recent):
        if isinstance(transition, TryEnded):
            task = transition.status
            event = task_end_event(transition.task, task, task.max_tries)
            if event is not None:
                events.append(event)
        else:
            message = status.message or f"the run {status.state.value.lower()}"
            events.append(run_end_event(status.state, message, transition.clear_number))
    return events
