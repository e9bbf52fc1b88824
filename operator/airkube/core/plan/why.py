"""Why a task is not running: the planner's own reasons, asked of the same rules it decides
with (trigger rules, maxActiveTasks slots, retry timers, maxActiveRuns admission, and the
waiting reason it wrote from the pod), for the UI and the CLI to show.

Nothing here decides anything new: each answer calls the function the planner calls
(:func:`~airkube.core.rules.trigger.evaluate`, :func:`~airkube.core.rules.slots.free_slots`,
:func:`~airkube.core.rules.admission.admit`) and says what it answered and why.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dag import DAGSpec, TriggerRule
from airkube.api.dagrun import TaskStatus
from airkube.api.duration import format_duration
from airkube.api.states import RunState, TaskState
from airkube.core.graph import graph_of
from airkube.core.model.result import DEFAULT_OPTIONS
from airkube.core.model.text import names
from airkube.core.rules.admission import RunStanding, admit
from airkube.core.rules.pending import WAITING_PREFIX
from airkube.core.rules.slots import free_slots
from airkube.core.rules.trigger import Decision, UpstreamCounts, evaluate


class WaitKind:
    """The kinds of reasons (the ``reason`` of a :class:`WaitReason`)."""

    TRIGGER_RULE = "TriggerRule"
    MAX_ACTIVE_TASKS = "MaxActiveTasks"
    MAX_ACTIVE_RUNS = "MaxActiveRuns"
    RETRY_TIMER = "RetryTimer"
    POD_PENDING = "PodPending"
    NEXT_PASS = "NextPass"
    """Nothing holds it: the planner's next pass moves it on."""


@dataclass(frozen=True)
class WaitReason:
    reason: str
    """One of :class:`WaitKind`, or the pod's own reason (Unschedulable, ImagePullBackOff…)
    for a pod that has not started."""
    message: str
    waiting_for: tuple[str, ...] = ()
    """The upstream tasks it waits for (trigger rule)."""
    until: datetime | None = None
    """When the wait ends by itself (retry timer)."""


def _left(delta: timedelta) -> str:
    return format_duration(max(delta, timedelta(0)) // timedelta(seconds=1) * timedelta(seconds=1))


def why_waiting(
    dag: DAGSpec,
    tasks: Mapping[str, TaskStatus],
    name: str,
    now: datetime,
    *,
    run: str = "",
    dag_name: str = "",
    run_state: RunState = RunState.RUNNING,
    runs: Iterable[RunStanding] = (),
) -> list[WaitReason]:
    """Why task ``name`` of the run (``tasks``: its tasks' states, missing ones None) is not
    running at ``now``: empty when it is running or finished.

    ``runs`` are the DAG's runs as admission sees them, for a run that is still Queued
    (its maxActiveRuns); ``run`` is this run's name among them, ``dag_name`` the DAG's.
    """
    status = tasks.get(name) or TaskStatus()
    if status.state is TaskState.RUNNING or status.state.finished:
        return []
    if run_state.finished:
        return []
    reasons: list[WaitReason] = []
    if run_state is RunState.QUEUED:
        verdict = admit(run, dag_name, dag.max_active_runs, runs)
        if not verdict.ok:
            return [WaitReason(WaitKind.MAX_ACTIVE_RUNS, verdict.message or "")]
    state = status.state
    if state is TaskState.NONE:
        reasons.append(_trigger(dag, tasks, name))
    elif state is TaskState.SCHEDULED:
        active = sum(1 for t in tasks.values() if t.state.has_pod)
        if free_slots(dag, active, DEFAULT_OPTIONS) <= 0:
            reasons.append(
                WaitReason(
                    WaitKind.MAX_ACTIVE_TASKS,
                    f"{active} tasks of this run have a pod (maxActiveTasks "
                    f"{dag.max_active_tasks}): it starts when one ends",
                )
            )
        else:
            reasons.append(
                WaitReason(WaitKind.NEXT_PASS, "it may run: its pod is created on the next pass")
            )
    elif state is TaskState.UP_FOR_RETRY:
        due = status.next_retry_time
        if due is not None and due > now:
            reasons.append(
                WaitReason(
                    WaitKind.RETRY_TIMER,
                    f"try {status.try_number} failed ({status.reason or 'Error'}); try "
                    f"{status.try_number + 1} starts in {_left(due - now)}",
                    until=due,
                )
            )
        else:
            reasons.append(
                WaitReason(WaitKind.NEXT_PASS, "its retry delay is over: the next pass retries it")
            )
    elif state is TaskState.QUEUED:
        if status.reason:
            # The planner wrote why the pod has not started (rules/pending.py).
            message = (status.message or status.reason).removeprefix(WAITING_PREFIX)
            reasons.append(WaitReason(status.reason, f"its pod waits: {message}"))
        else:
            reasons.append(
                WaitReason(WaitKind.POD_PENDING, "its pod was created and has not started yet")
            )
    return reasons


def _trigger(dag: DAGSpec, tasks: Mapping[str, TaskStatus], name: str) -> WaitReason:
    graph = graph_of(dag)
    upstream = graph.upstream.get(name, ())
    states = {up: (tasks.get(up) or TaskStatus()).state for up in upstream}
    rule = next((t.trigger_rule for t in dag.tasks if t.name == name), TriggerRule.ALL_SUCCESS)
    decision = evaluate(rule, UpstreamCounts.of(states.values()))
    if decision is not Decision.WAIT:
        return WaitReason(
            WaitKind.NEXT_PASS,
            f"trigger rule {rule} is settled ({decision}): the next pass moves it on",
        )
    pending = [up for up, s in states.items() if not s.finished]
    done = len(states) - len(pending)
    return WaitReason(
        WaitKind.TRIGGER_RULE,
        f"trigger rule {rule} not met yet: waiting for {names(pending)} "
        f"({done} of {len(states)} upstream tasks finished)",
        waiting_for=tuple(pending),
    )
