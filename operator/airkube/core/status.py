"""The run's status as the operator writes it: task counts, progress, duration, and a task
map kept under a byte budget.

A 5,000-task run must stay a small object (etcd refuses objects over 1.5 MiB, and every
watcher receives the whole object on each change). Past the budget the status keeps the
counts plus the tasks people look at first (running, queued, up for retry, failed);
``tasksOmitted`` says how many are left out, and the metadata database has them all.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dagrun import DAGRunStatus, TaskCounts, TaskStatus
from airkube.api.duration import format_duration
from airkube.api.meta import Condition
from airkube.api.states import TaskState
from airkube.core.model.result import Plan

DEFAULT_STATUS_BUDGET = 256 * 1024
"""Bytes of JSON the task map of a run's status may take."""

_KEPT_FIRST = (
    TaskState.RUNNING,
    TaskState.QUEUED,
    TaskState.UP_FOR_RETRY,
    TaskState.FAILED,
)
"""The tasks kept past the budget, in this order of priority."""

_TRIMMED_MESSAGE_CHARS = 256

_FIELD_OF_STATE = {
    TaskState.NONE: "none",
    TaskState.SCHEDULED: "scheduled",
    TaskState.QUEUED: "queued",
    TaskState.RUNNING: "running",
    TaskState.SUCCEEDED: "succeeded",
    TaskState.FAILED: "failed",
    TaskState.UP_FOR_RETRY: "up_for_retry",
    TaskState.UPSTREAM_FAILED: "upstream_failed",
    TaskState.SKIPPED: "skipped",
}


def count_tasks(tasks: Mapping[str, TaskStatus]) -> TaskCounts:
    counts = dict.fromkeys(_FIELD_OF_STATE.values(), 0)
    for status in tasks.values():
        counts[_FIELD_OF_STATE[status.state]] += 1
    return TaskCounts(total=len(tasks), **counts)


def progress(counts: TaskCounts) -> str:
    """Finished tasks out of all tasks: "7/10"."""
    done = counts.succeeded + counts.failed + counts.upstream_failed + counts.skipped
    return f"{done}/{counts.total}"


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass(frozen=True)
class CompactTasks:
    tasks: dict[str, TaskStatus]
    """The tasks kept, in the order given."""
    omitted: int
    """How many were left out."""


def compact_status(tasks: Mapping[str, TaskStatus], budget_bytes: int) -> CompactTasks:
    """The task map to write in the status: all of ``tasks`` when its JSON fits
    ``budget_bytes``, else as many running, queued, up-for-retry and failed tasks as fit
    (in that order of priority; their output dropped and messages shortened if need be).

    The JSON of the result (``{name: status.to_dict()}``) never exceeds ``budget_bytes``.
    """
    entries = [(name, status, status.to_dict()) for name, status in tasks.items()]
    if _json_size({name: data for name, _, data in entries}) <= budget_bytes:
        return CompactTasks(dict(tasks), 0)
    rank = {state: i for i, state in enumerate(_KEPT_FIRST)}
    candidates = sorted(
        (i for i, (_, status, _) in enumerate(entries) if status.state in rank),
        key=lambda i: (rank[entries[i][1].state], i),
    )
    used = 2  # the braces; every entry adds its size minus the comma it may not need
    kept: dict[int, TaskStatus] = {}
    for i in candidates:
        name, status, _ = entries[i]
        for version in (status, _trimmed(status)):
            size = _json_size(name) + 2 + _json_size(version.to_dict())
            if used + size - (0 if kept else 1) <= budget_bytes:
                used += size - (0 if kept else 1)
                kept[i] = version
                break
    result = {entries[i][0]: kept[i] for i in sorted(kept)}
    return CompactTasks(result, len(entries) - len(result))


def _trimmed(status: TaskStatus) -> TaskStatus:
    message = status.message
    if message is not None and len(message) > _TRIMMED_MESSAGE_CHARS:
        message = message[-_TRIMMED_MESSAGE_CHARS:]
    return status.model_copy(update={"output": None, "message": message})


def _duration(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    seconds = max(end - start, timedelta(0)) // timedelta(seconds=1)
    return format_duration(timedelta(seconds=seconds))


def run_status(
    plan: Plan,
    *,
    dag_version: str | None,
    observed_generation: int | None = None,
    conditions: list[Condition] | None = None,
    budget_bytes: int = DEFAULT_STATUS_BUDGET,
) -> DAGRunStatus:
    """The run's status after ``plan``: what the controller patches (once per pass)."""
    counts = count_tasks(plan.tasks)
    compact = compact_status(plan.tasks, budget_bytes)
    return DAGRunStatus(
        observed_generation=observed_generation,
        state=plan.run_state,
        reason=plan.reason,
        message=plan.message,
        dag_version=dag_version,
        start_time=plan.start_time,
        end_time=plan.end_time,
        duration=_duration(plan.start_time, plan.end_time),
        progress=progress(counts),
        counts=counts,
        tasks=compact.tasks,
        tasks_omitted=compact.omitted,
        last_clear_id=plan.last_clear_id,
        clear_number=plan.clear_number or None,
        conditions=conditions,
    )
