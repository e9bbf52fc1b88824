"""Retention: which pods the DAG's podGC strategy lets go, and which finished runs fall
past its history limits."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from airkube.api.dag import DEFAULT_HISTORY_LIMIT, DAGSpec, PodGCStrategy
from airkube.api.dagrun import TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.model.observed import ObservedPod, PodPhase


def pods_to_collect(
    dag: DAGSpec,
    run_state: RunState,
    tasks: Mapping[str, TaskStatus],
    pods: Iterable[ObservedPod],
) -> list[str]:
    """The pods to delete now: only pods of tries the written status ``tasks`` records as
    ended (never one it still counts as running)."""
    strategy = dag.pod_gc.strategy if dag.pod_gc else PodGCStrategy.ON_RUN_SUCCESS
    if strategy is PodGCStrategy.NEVER:
        return []
    if run_state.finished and (
        strategy is PodGCStrategy.ON_RUN_COMPLETION
        or (strategy is PodGCStrategy.ON_RUN_SUCCESS and run_state is RunState.SUCCEEDED)
    ):
        return [p.name for p in pods if p.stopped and not p.deleted]
    if strategy is PodGCStrategy.ON_POD_SUCCESS:

        def recorded_succeeded(p: ObservedPod) -> bool:
            t = tasks.get(p.task)
            return t is not None and t.try_number == p.try_number and t.state is TaskState.SUCCEEDED

        return [
            p.name
            for p in pods
            if p.phase is PodPhase.SUCCEEDED and not p.deleted and recorded_succeeded(p)
        ]
    return []


@dataclass(frozen=True)
class FinishedRun:
    name: str
    state: RunState
    ended: datetime


@dataclass(frozen=True)
class HistoryLimits:
    succeeded: int = DEFAULT_HISTORY_LIMIT
    failed: int = DEFAULT_HISTORY_LIMIT
    """Failed and Cancelled runs."""

    @classmethod
    def of(cls, dag: Mapping[str, object]) -> "HistoryLimits":
        """The limits of a DAG spec as stored (read leniently: a DAG that does not validate
        keeps the default where its value is not a whole number)."""

        def limit(field: str) -> int:
            value = dag.get(field)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else DEFAULT_HISTORY_LIMIT  # type: ignore[return-value]

        return cls(limit("successfulRunsHistoryLimit"), limit("failedRunsHistoryLimit"))


def runs_past_history(limits: HistoryLimits, runs: Iterable[FinishedRun]) -> list[str]:
    """The finished runs to delete: the oldest past each limit (by end time, then name)."""
    groups: dict[bool, list[FinishedRun]] = {True: [], False: []}
    for run in runs:
        if run.state.finished:
            groups[run.state is RunState.SUCCEEDED].append(run)
    doomed: list[str] = []
    for succeeded, entries in groups.items():
        limit = limits.succeeded if succeeded else limits.failed
        entries.sort(key=lambda r: (r.ended, r.name), reverse=True)
        doomed.extend(r.name for r in entries[limit:])
    return doomed
