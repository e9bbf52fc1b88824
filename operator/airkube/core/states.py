"""The task instance and run state machines, and Airflow's rule for a run's final state."""

from collections.abc import Iterable, Mapping

from airkube.api.states import (
    FAILED_TASK_STATES,
    FINISHED_TASK_STATES,
    SUCCESS_TASK_STATES,
    RunState,
    TaskState,
)

_T = TaskState

TASK_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    # Not considered yet: the trigger rule decides.
    _T.NONE: frozenset({_T.SCHEDULED, _T.QUEUED, _T.SKIPPED, _T.UPSTREAM_FAILED, _T.FAILED}),
    # May run, waiting for a slot (maxActiveTasks).
    _T.SCHEDULED: frozenset({_T.QUEUED, _T.SKIPPED, _T.FAILED}),
    # Pod created.
    _T.QUEUED: frozenset(
        {_T.RUNNING, _T.SUCCEEDED, _T.FAILED, _T.UP_FOR_RETRY, _T.SKIPPED, _T.SCHEDULED}
    ),
    _T.RUNNING: frozenset(
        {_T.SUCCEEDED, _T.FAILED, _T.UP_FOR_RETRY, _T.SKIPPED, _T.SCHEDULED, _T.QUEUED}
    ),
    # A try failed; the next follows after the retry delay.
    _T.UP_FOR_RETRY: frozenset({_T.SCHEDULED, _T.QUEUED, _T.SKIPPED, _T.FAILED}),
    _T.SUCCEEDED: frozenset(),
    _T.FAILED: frozenset(),
    _T.UPSTREAM_FAILED: frozenset(),
    _T.SKIPPED: frozenset(),
}
"""Which state a task instance may move to from each state (staying put is always allowed).

A pass may chain steps: a try fails and, its retry delay being zero, the next try is
scheduled (→ Scheduled, no slot free) or queued at once (Running → Queued, which is also a
newer try found already created after a lost status write). Any unfinished state →
Skipped is a stopped run (cancelled or timed out); → Failed without a pod is a task whose
templates could not be rendered.
"""

RUN_TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    # A run may start and end in the same pass (every task failing to render, say).
    RunState.QUEUED: frozenset(
        {RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}
    ),
    RunState.RUNNING: frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
}


def task_transition_allowed(old: TaskState, new: TaskState) -> bool:
    return old == new or new in TASK_TRANSITIONS[old]


def run_transition_allowed(old: RunState, new: RunState) -> bool:
    return old == new or new in RUN_TRANSITIONS[old]


def all_finished(states: Iterable[TaskState]) -> bool:
    return all(state in FINISHED_TASK_STATES for state in states)


def run_outcome(leaf_states: Iterable[TaskState]) -> RunState:
    """Airflow's final state of a run whose tasks have all finished, from its leaf tasks:
    Failed when any leaf is Failed or UpstreamFailed, else Succeeded (every leaf Succeeded
    or Skipped)."""
    states = list(leaf_states)
    if any(state in FAILED_TASK_STATES for state in states):
        return RunState.FAILED
    if not all(state in SUCCESS_TASK_STATES for state in states):
        raise ValueError(f"the run has unfinished leaf tasks: {sorted(set(states))}")
    return RunState.SUCCEEDED
