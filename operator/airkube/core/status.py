"""The run's status as the operator writes it: task counts, progress, duration, and a task
map kept under a byte budget.

A 5,000-task run must stay a small object (etcd refuses objects over 1.5 MiB, and every
watcher receives the whole object on each change). Past the budget the status keeps the
counts plus the tasks people look at first (running, queued, up for retry, failed);
``tasksOmitted`` says how many are left out, and the metadata database has them all.
"""

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airkube.api.dagrun import DAGRunStatus, EndedTry, TaskCounts, TaskStatus
from airkube.api.duration import format_duration
from airkube.api.meta import Condition
from airkube.api.states import TaskState
from airkube.core.model.result import Plan

DEFAULT_STATUS_BUDGET = 256 * 1024
"""Bytes of JSON the task map of a run's status may take."""
KEEP_FACTOR = 3
"""How far past the budget the tasks the database lacks may take the task map (etcd's
limit, 1.5 MiB, stays out of reach)."""

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


def count_tasks(
    tasks: Mapping[str, TaskStatus], by_state: Mapping[TaskState, int] | None = None
) -> TaskCounts:
    """The counts of ``tasks`` (from ``by_state`` when the planner counted them)."""
    counts = dict.fromkeys(_FIELD_OF_STATE.values(), 0)
    if by_state is None:
        for status in tasks.values():
            counts[_FIELD_OF_STATE[status.state]] += 1
    else:
        for state, n in by_state.items():
            counts[_FIELD_OF_STATE[state]] += n
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
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Their JSON form, as written."""


@dataclass
class _Entry:
    status: TaskStatus
    data: dict[str, Any]
    size: int
    """Bytes of ``"name":{...}`` in the map's JSON."""
    trimmed: "_Entry | None" = None


def _entry(name: str, status: TaskStatus) -> _Entry:
    data = status.to_dict()
    return _Entry(status, data, _json_size(name) + 1 + _json_size(data))


class TaskMap:
    """A run's task map as the status writes it, kept from pass to pass: each task is
    serialised once per change (not every task on every pass), and an unchanged task keeps
    the same JSON object, which the merge patch skips at once."""

    def __init__(self, budget_bytes: int = DEFAULT_STATUS_BUDGET) -> None:
        self.budget = budget_bytes
        self._entries: dict[str, _Entry] = {}
        self._sizes = 0
        self._position: dict[str, int] = {}
        self._ranked: list[dict[str, None]] = [{} for _ in _KEPT_FIRST]
        """The tasks in each state kept first past the budget, in the order they came."""

    def compact(
        self,
        tasks: Mapping[str, TaskStatus],
        changed: Iterable[str] | None = None,
        keep: Collection[str] = (),
    ) -> CompactTasks:
        """The task map to write for ``tasks``: all of it when its JSON fits the budget,
        else the tasks of ``keep`` (those the database does not have yet: the status is
        then their only record; up to :data:`KEEP_FACTOR` times the budget) and as many
        running, queued, up-for-retry and failed tasks as fit (in that order of priority;
        their output dropped and messages shortened if need be). ``changed``: the only
        tasks whose status may differ from the last call's (None: any)."""
        entries = self._entries
        if changed is None or len(entries) != len(tasks):
            for gone in entries.keys() - tasks.keys():
                self._sizes -= entries.pop(gone).size
                self._rank(gone, None)
            self._position = {name: i for i, name in enumerate(tasks)}
            changed = tasks.keys()
        for name in changed:
            status = tasks[name]
            old = entries.get(name)
            if old is None or (old.status is not status and old.status != status):
                new = entries[name] = _entry(name, status)
                self._sizes += new.size - (old.size if old else 0)
                if old is None or old.status.state is not status.state:
                    self._rank(name, status.state)
        count = len(tasks)
        if 2 + self._sizes + max(count - 1, 0) <= self.budget:
            return CompactTasks(dict(tasks), 0, {name: entries[name].data for name in tasks})
        return self._over_budget(tasks, keep)

    def _rank(self, name: str, state: TaskState | None) -> None:
        for i, ranked in enumerate(self._ranked):
            if _KEPT_FIRST[i] is state:
                ranked[name] = None
            else:
                ranked.pop(name, None)

    def _over_budget(self, tasks: Mapping[str, TaskStatus], keep: Collection[str]) -> CompactTasks:
        # Costs what is kept, not the run's size: the budget fills long before the
        # candidates run out in a big run.
        used = 2  # the braces; every entry adds its size and a comma but the first
        kept: list[tuple[str, _Entry]] = []
        for name in keep:
            entry = self._entries.get(name)
            if entry is None or used + entry.size + 1 > self.budget * KEEP_FACTOR:
                continue
            used += entry.size + (1 if kept else 0)
            kept.append((name, entry))
        budget = max(self.budget, used)
        chosen = {name for name, _ in kept}
        full = False
        for ranked in self._ranked:
            for name in ranked:
                if name in chosen:
                    continue
                entry = self._entries[name]
                for version in (entry, self._trimmed(name, entry)):
                    size = version.size + (1 if kept else 0)
                    if used + size <= budget:
                        used += size
                        kept.append((name, version))
                        break
                else:
                    full = True  # not even its trimmed form fits: the map is full
                    break
            if full:
                break
        kept.sort(key=lambda item: self._position[item[0]])
        return CompactTasks(
            {name: e.status for name, e in kept},
            len(tasks) - len(kept),
            {name: e.data for name, e in kept},
        )

    @staticmethod
    def _trimmed(name: str, entry: _Entry) -> _Entry:
        if entry.trimmed is None:
            entry.trimmed = _entry(name, _trimmed(entry.status))
        return entry.trimmed


def compact_status(tasks: Mapping[str, TaskStatus], budget_bytes: int) -> CompactTasks:
    """The task map to write in the status (see :meth:`TaskMap.compact`). The JSON of the
    result (``{name: status.to_dict()}``) never exceeds ``budget_bytes``."""
    return TaskMap(budget_bytes).compact(tasks)


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
    document = status_document(
        plan,
        dag_version=dag_version,
        observed_generation=observed_generation,
        conditions=conditions,
        task_map=TaskMap(budget_bytes),
    )
    return document.written


@dataclass(frozen=True)
class StatusDocument:
    full: DAGRunStatus
    """The status with every task (what the controller remembers)."""
    written: DAGRunStatus
    """The status as written: its task map within the budget."""
    raw: dict[str, Any]
    """``written`` as JSON."""


def ended_tries(unrecorded: Iterable[EndedTry], plan: Plan) -> list[EndedTry] | None:
    """The tries the status keeps for the history: those it kept and the database has not
    recorded yet, and those ``plan`` replaced (one entry per task and try, the latest)."""
    tries = {(t.task, t.try_number): t for t in unrecorded}
    for name, status in plan.ended:
        tries[(name, status.try_number)] = EndedTry(task=name, **dict(status))
    return list(tries.values()) or None


def status_document(
    plan: Plan,
    *,
    dag_version: str | None,
    task_map: TaskMap,
    observed_generation: int | None = None,
    conditions: list[Condition] | None = None,
    unrecorded: Iterable[EndedTry] = (),
    keep: Collection[str] = (),
) -> StatusDocument:
    """The run's status after ``plan``, with ``task_map`` carried from the last pass of
    the run (only the tasks the plan changed are serialised again). ``unrecorded``: the
    ended tries the last status kept that the database has not recorded yet; ``keep``:
    the tasks whose status the database has not recorded yet (never left out)."""
    counts = count_tasks(plan.tasks, plan.counts)
    compact = task_map.compact(plan.tasks, plan.changed, keep)
    full = DAGRunStatus(
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
        tasks=dict(plan.tasks),
        tasks_omitted=compact.omitted,
        ended_tries=ended_tries(unrecorded, plan),
        last_clear_id=plan.last_clear_id,
        clear_number=plan.clear_number or None,
        last_mark_id=plan.last_mark_id,
        conditions=conditions,
    )
    head = full.model_copy(update={"tasks": None})
    raw = head.to_dict()
    if compact.data:
        raw["tasks"] = compact.data
    written = head.model_copy(update={"tasks": compact.tasks or None})
    return StatusDocument(full, written, raw)
