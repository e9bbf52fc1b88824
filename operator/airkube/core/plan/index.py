"""The per-run index that makes a pass cost what changed, not the run's size.

It holds every task's status with what is derived from it (counts by state, each task's
upstream counts, the tasks waiting for a slot, each task's timer) and the pods last
observed. The planner updates it as it decides, so the next pass starts from it: a pass
where one pod finished looks at that task and its downstream tasks, not at every task.

An index belongs to one caller and one run; a pass mutates it. A caller that could not
apply a pass (its status write failed, say) drops the index and builds a new one from
the status it trusts: :meth:`RunIndex.build` gives the same plans as an index carried
along (the property tests check it).
"""

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.core.graph import Graph, graph_of
from airkube.core.memo import IdentityCache
from airkube.core.model.observed import ObservedPod
from airkube.core.rules.trigger import UpstreamCounts

_NOT_STARTED = TaskStatus()

_BUCKET = {
    TaskState.SUCCEEDED: 0,
    TaskState.FAILED: 1,
    TaskState.UPSTREAM_FAILED: 2,
    TaskState.SKIPPED: 3,
}
"""The finished states trigger rules count, and their slot in a task's upstream counts."""

_positions: IdentityCache[Graph, dict[str, int]] = IdentityCache(
    lambda graph: {name: i for i, name in enumerate(graph.order)}
)


class RunIndex:
    def __init__(self, dag: DAGSpec, tasks: Mapping[str, TaskStatus]) -> None:
        self.dag = dag
        self.graph = graph = graph_of(dag)
        self.position = _positions(graph)
        self.states: dict[str, TaskStatus] = {
            name: tasks.get(name) or _NOT_STARTED for name in graph.order
        }
        self.counts: Counter[TaskState] = Counter(s.state for s in self.states.values())
        self.upstream: dict[str, list[int]] = {}
        for name, ups in graph.upstream.items():
            if ups:
                counts = [0, 0, 0, 0]
                for up in ups:
                    bucket = _BUCKET.get(self.states[up].state)
                    if bucket is not None:
                        counts[bucket] += 1
                self.upstream[name] = counts
        self.scheduled: list[tuple[int, str]] = [
            (self.position[n], n) for n, s in self.states.items() if s.state is TaskState.SCHEDULED
        ]
        heapq.heapify(self.scheduled)
        self.pods: dict[str, dict[int, ObservedPod]] = {}
        """The pods of each task by try (the first by name where a try has several)."""
        self._seen: dict[int, ObservedPod] = {}
        """The pods of the last pass, by identity."""
        self._by_task: dict[str, dict[int, ObservedPod]] = {}
        self._stray: dict[str, list[ObservedPod]] = {}
        self.timers: dict[str, datetime] = {}
        self._timer_heap: list[tuple[datetime, int, str]] = []
        self.doomed: set[str] = set()
        """Tasks with a pod that a pass asked to delete: looked at again until it is gone."""
        self.fresh = True
        """No pass has used this index yet: every task is looked at."""
        self.before: dict[str, TaskStatus] = {}
        """This pass: the status each task had before the pass changed it."""

    @classmethod
    def build(cls, dag: DAGSpec, tasks: Mapping[str, TaskStatus]) -> "RunIndex":
        return cls(dag, tasks)

    # -- task states -----------------------------------------------------------------------

    def record(self, name: str, status: TaskStatus) -> list[str]:
        """Record ``status`` as the task's; the downstream tasks whose upstream counts
        changed (they may now run, or never will)."""
        old = self.states[name]
        if status is old:
            return []
        self.before.setdefault(name, old)
        self.states[name] = status
        if status.state is old.state:
            return []
        self.counts[old.state] -= 1
        self.counts[status.state] += 1
        if status.state is TaskState.SCHEDULED:
            heapq.heappush(self.scheduled, (self.position[name], name))
        was, now = _BUCKET.get(old.state), _BUCKET.get(status.state)
        if was == now:
            return []
        below = self.graph.downstream[name]
        for down in below:
            counts = self.upstream[down]
            if was is not None:
                counts[was] -= 1
            if now is not None:
                counts[now] += 1
        return list(below)

    def upstream_counts(self, name: str) -> UpstreamCounts:
        counts = self.upstream.get(name)
        if counts is None:
            return UpstreamCounts()
        total = len(self.graph.upstream[name])
        return UpstreamCounts(total, counts[0], counts[1], counts[2], counts[3])

    def upstream_states(self, name: str) -> dict[str, TaskState]:
        return {up: self.states[up].state for up in self.graph.upstream[name]}

    @property
    def active(self) -> int:
        """Tries that have a pod (Queued or Running)."""
        return self.counts[TaskState.QUEUED] + self.counts[TaskState.RUNNING]

    @property
    def all_finished(self) -> bool:
        unfinished = sum(n for state, n in self.counts.items() if not state.finished)
        return unfinished == 0

    def next_scheduled(self) -> str | None:
        """The first task (in topological order) waiting for a slot, if any."""
        heap = self.scheduled
        while heap and self.states[heap[0][1]].state is not TaskState.SCHEDULED:
            heapq.heappop(heap)
        return heap[0][1] if heap else None

    def take_scheduled(self) -> str:
        return heapq.heappop(self.scheduled)[1]

    # -- pods ---------------------------------------------------------------------------

    def sync_pods(self, pods: Iterable[ObservedPod]) -> set[str]:
        """Take this pass's pods; the tasks whose pods changed since the last pass.

        An unchanged pod is the same object as last time (the controller's watch index
        keeps it until the pod changes), so the comparison is of identities, done in
        C over the whole set: the Python work is for the pods that changed."""
        listed = list(pods)
        given = dict(zip(map(id, listed), listed, strict=True))
        seen = self._seen
        if given.keys() == seen.keys():
            return set()
        touched: set[str] = set()
        for key in seen.keys() - given.keys():
            pod = seen[key]
            del self._by_task[pod.task][key]
            touched.add(pod.task)
        for key in given.keys() - seen.keys():
            pod = given[key]
            self._by_task.setdefault(pod.task, {})[key] = pod
            touched.add(pod.task)
        self._seen = given
        states = self.states
        for task in touched:
            mine = sorted(self._by_task[task].values(), key=lambda p: (p.try_number, p.name))
            if not mine:
                del self._by_task[task]
            if task not in states:
                if mine:
                    self._stray[task] = mine
                else:
                    self._stray.pop(task, None)
                continue
            by_try: dict[int, ObservedPod] = {}
            for pod in mine:
                by_try.setdefault(pod.try_number, pod)
            if by_try:
                self.pods[task] = by_try
            else:
                self.pods.pop(task, None)
        return touched & states.keys()

    @property
    def stray(self) -> list[ObservedPod]:
        """Pods of tasks the DAG does not have."""
        return [pod for task in sorted(self._stray) for pod in self._stray[task]]

    # -- timers ---------------------------------------------------------------------------

    def set_timer(self, name: str, at: datetime | None) -> None:
        if at is None:
            self.timers.pop(name, None)
            return
        if self.timers.get(name) == at:
            return
        self.timers[name] = at
        heapq.heappush(self._timer_heap, (at, self.position[name], name))

    def due(self, now: datetime) -> set[str]:
        """The tasks whose timer has come (their timers removed)."""
        due: set[str] = set()
        heap = self._timer_heap
        while heap and heap[0][0] <= now:
            at, _, name = heapq.heappop(heap)
            if self.timers.get(name) == at:
                del self.timers[name]
                due.add(name)
        return due

    def next_timer(self) -> datetime | None:
        heap = self._timer_heap
        while heap and self.timers.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
