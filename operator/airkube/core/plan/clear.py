"""Clearing tasks of a run, as Airflow's "clear" does: which tasks a request selects, and
what a cleared task's status becomes.

A cleared task goes back to None and runs again as a new try (the try numbers go on, so
every try keeps its own pod and history row) with its full retries: its ``maxTries``
becomes the try it had reached plus retries + 1, as Airflow sets ``max_tries``.
"""

from collections.abc import Mapping
from datetime import datetime

from airkube.api.dagrun import ClearRequest, TaskStatus
from airkube.api.states import FAILED_TASK_STATES, TaskState
from airkube.core.graph import Graph
from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.step import Step
from airkube.core.plan.observe import delete


class ClearError(ValueError):
    """The request names tasks the run does not have."""


def clear_selection(
    graph: Graph, states: Mapping[str, TaskStatus], request: ClearRequest
) -> tuple[str, ...]:
    """The tasks ``request`` clears, upstream tasks first.

    The named tasks (all when none are named), with everything downstream of them if
    ``downstream``; then, if ``only_failed``, only those Failed or UpstreamFailed.
    """
    named = list(request.tasks or graph.order)
    unknown = [name for name in named if name not in graph.upstream]
    if unknown:
        raise ClearError(
            "the run has no task " + ", ".join(f'"{n}"' for n in unknown) + " to clear"
        )
    chosen = set(named)
    if request.downstream:
        pending = list(named)
        while pending:
            for below in graph.downstream[pending.pop()]:
                if below not in chosen:
                    chosen.add(below)
                    pending.append(below)
    selected = [name for name in graph.order if name in chosen]
    if request.only_failed:
        selected = [n for n in selected if n in states and states[n].state in FAILED_TASK_STATES]
    return tuple(selected)


def cleared(status: TaskStatus, tries_allowed: int) -> TaskStatus:
    """``status`` of a task after a clear: None, with ``tries_allowed`` more tries."""
    return TaskStatus(try_number=status.try_number, max_tries=status.try_number + tries_allowed)


def clear_task(
    status: TaskStatus, pods: Mapping[int, ObservedPod], tries_allowed: int, now: datetime
) -> Step:
    """A task the request selected: cleared; the pod of its running try deleted, and that
    try ended (for the history: another follows)."""
    if not status.state.has_pod:
        return Step(cleared(status, tries_allowed))
    pod = pods.get(status.try_number)
    stopped = status.model_copy(
        update={
            "state": TaskState.UP_FOR_RETRY,
            "end_time": now,
            "reason": Reason.CLEARED,
            "message": "cleared while it ran: its pod was deleted, another try follows",
        }
    )
    return Step(
        cleared(status, tries_allowed),
        deletes=delete(pod, Reason.CLEARED) if pod is not None else (),
        ended=(stopped,),
    )
