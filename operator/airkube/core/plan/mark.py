"""Setting tasks, or a whole run, Succeeded or Failed by hand, as Airflow's "Mark Success"
and "Mark Failed" do (``set_state``, ``DAG.set_task_instance_state`` and
``set_dag_run_state_to_success/failed`` in Airflow).

Tasks: the named tasks, with every task upstream or downstream of them when asked, take the
state (those in it already are left alone; when all are, nothing changes): a task that has
a pod has it deleted, and its try ends in that state with the reason MarkedSuccess or
MarkedFailed. A task marked Failed is not retried: the state is final, as in Airflow. Then,
as Airflow does, the tasks downstream of the named ones that are Failed or UpstreamFailed
(not those just marked) are cleared, so that every downstream task proceeds by its trigger
rule; a finished run that has tasks to run again reopens.

The run as a whole: Succeeded sets every task that is not Succeeded Succeeded; Failed sets
the running tasks Failed and the other unfinished ones Skipped; the run ends in the state.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from airkube.api.dagrun import MarkRequest, MarkState, TaskStatus
from airkube.api.states import FAILED_TASK_STATES, RunState, TaskState
from airkube.core.graph import Graph
from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.step import Step
from airkube.core.model.text import names
from airkube.core.plan.observe import delete
from airkube.core.rules.events import task_end_event

_NONE = TaskStatus()


class MarkError(ValueError):
    """The request names tasks the run does not have."""


@dataclass(frozen=True)
class MarkEffect:
    """What a mark request changes in a run."""

    marked: tuple[tuple[str, TaskState], ...]
    """The tasks whose state changes, with their new state, upstream tasks first."""
    cleared: tuple[str, ...]
    """The Failed or UpstreamFailed tasks downstream of the named ones, cleared."""
    run_state: RunState | None = None
    """The run's new state, when the request marks the run as a whole."""

    def changes(self, run_state: RunState) -> bool:
        """Whether applying it to a run in ``run_state`` changes anything."""
        return bool(self.marked or self.cleared) or (
            self.run_state is not None and self.run_state is not run_state
        )

    def describe(self) -> str:
        """One line for people: what is marked and cleared."""
        parts = []
        if self.run_state is not None:
            parts.append(f"run marked {self.run_state.value}")
        by_state: dict[TaskState, list[str]] = {}
        for name, state in self.marked:
            by_state.setdefault(state, []).append(name)
        for state, tasks in by_state.items():
            parts.append(f"{state.value}: {names(tasks)}")
        if self.cleared:
            parts.append(f"cleared downstream: {names(list(self.cleared))}")
        return "; ".join(parts) or "nothing to change"


def _closure(start: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Every task reachable from ``start`` along ``edges`` (``start`` not included unless
    reachable)."""
    found: set[str] = set()
    pending = list(start)
    while pending:
        for other in edges[pending.pop()]:
            if other not in found:
                found.add(other)
                pending.append(other)
    return found


def mark_selection(graph: Graph, request: MarkRequest) -> tuple[str, ...]:
    """The tasks ``request`` sets, upstream tasks first: all of them for the run as a whole;
    else the named ones with their upstream and downstream tasks when asked."""
    if request.tasks is None:
        if request.upstream or request.downstream:
            raise MarkError("upstream and downstream need tasks: the run as a whole has none")
        return tuple(graph.order)
    unknown = [name for name in request.tasks if name not in graph.upstream]
    if unknown:
        raise MarkError("the run has no task " + ", ".join(f'"{n}"' for n in unknown) + " to mark")
    chosen = set(request.tasks)
    if request.upstream:
        chosen |= _closure(request.tasks, graph.upstream)
    if request.downstream:
        chosen |= _closure(request.tasks, graph.downstream)
    return tuple(name for name in graph.order if name in chosen)


def mark_effect(graph: Graph, states: Mapping[str, TaskStatus], request: MarkRequest) -> MarkEffect:
    """What ``request`` changes in a run whose tasks are in ``states`` (missing: None).

    Raises :class:`MarkError` when it names a task the run does not have."""
    selected = mark_selection(graph, request)

    def state(name: str) -> TaskState:
        return (states.get(name) or _NONE).state

    if request.tasks is None:
        if request.state is MarkState.SUCCEEDED:
            marked = [
                (n, TaskState.SUCCEEDED) for n in selected if state(n) is not TaskState.SUCCEEDED
            ]
        else:
            marked = [
                (n, TaskState.FAILED if state(n) is TaskState.RUNNING else TaskState.SKIPPED)
                for n in selected
                if not state(n).finished
            ]
        return MarkEffect(tuple(marked), (), RunState(request.state.value))
    target = TaskState(request.state.value)
    marked = [(n, target) for n in selected if state(n) is not target]
    if not marked:  # Airflow's API refuses it: "already in that state"
        return MarkEffect((), ())
    below = _closure(request.tasks, graph.downstream) - set(selected)
    cleared = tuple(n for n in graph.order if n in below and state(n) in FAILED_TASK_STATES)
    return MarkEffect(tuple(marked), cleared)


def marked_status(
    status: TaskStatus, state: TaskState, reason: str, message: str, now: datetime
) -> TaskStatus:
    """``status`` set to ``state`` by hand. As Airflow's ``set_state``: a try that ends so
    gets an end time (and a start time when it is marked Succeeded or Failed)."""
    start = status.start_time
    if start is None and state in (TaskState.SUCCEEDED, TaskState.FAILED):
        start = now
    return status.model_copy(
        update={
            "state": state,
            "reason": reason,
            "message": message,
            "start_time": start,
            "end_time": status.end_time or now,
            "next_retry_time": None,
        }
    )


def mark_task(
    name: str,
    status: TaskStatus,
    pods: Mapping[int, ObservedPod],
    state: TaskState,
    reason: str,
    message: str,
    now: datetime,
) -> Step:
    """Task ``name`` set to ``state`` by hand: the pod of its current try deleted if it has
    one; a task marked Failed has the event of a failed task (as a restarted operator
    derives it from the status)."""
    pod = pods.get(status.try_number) if status.state.has_pod else None
    if pod is not None:
        message += f"; its pod {pod.name} was deleted"
    new = marked_status(status, state, reason, message, now)
    event = task_end_event(name, new, status.max_tries)
    return Step(
        new,
        deletes=delete(pod, reason) if pod is not None else (),
        events=(event,) if event is not None else (),
    )


def task_mark_reason(state: TaskState, *, whole_run: bool) -> str:
    """The reason a task set to ``state`` by a mark request gets."""
    if state is TaskState.SUCCEEDED:
        return Reason.MARKED_SUCCESS
    if whole_run and state is TaskState.SKIPPED:
        return Reason.RUN_MARKED_FAILED
    return Reason.MARKED_FAILED


def task_mark_message(old: TaskStatus, state: TaskState, *, whole_run: bool) -> str:
    """What a task set to ``state`` by a mark request says: by hand, and what it was."""
    was = old.state.value + (f", {old.reason}" if old.reason else "")
    if whole_run and state is TaskState.SKIPPED:
        return f"the run was marked Failed by hand (the task was {was})"
    return f"marked {state.value} by hand (it was {was})"


def run_mark_reason(state: RunState) -> str:
    return Reason.MARKED_SUCCESS if state is RunState.SUCCEEDED else Reason.MARKED_FAILED
