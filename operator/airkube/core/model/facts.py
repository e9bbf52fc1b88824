"""The facts of one planning pass: the pinned DAG and its graph, the run, the clock, the
options and the renderer. Immutable; the rules read them and never change them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from airkube.api.dag import DAGSpec, Task
from airkube.core.graph import Graph, graph_of
from airkube.core.memo import IdentityCache
from airkube.core.model.render import Renderer
from airkube.core.model.result import PlannerOptions
from airkube.core.model.run import Run
from airkube.core.resolve import ResolvedTask, resolve_task

_resolved: IdentityCache[DAGSpec, dict[str, ResolvedTask]] = IdentityCache(lambda _: {})
"""A pinned spec's tasks as resolved so far: every pass of a run asks again (the timeout of
each running task, say), and resolving merges pod templates."""

_by_name: IdentityCache[DAGSpec, dict[str, Task]] = IdentityCache(
    lambda dag: {task.name: task for task in dag.tasks}
)


@dataclass(frozen=True)
class RunFacts:
    dag: DAGSpec
    run: Run
    now: datetime
    options: PlannerOptions
    renderer: Renderer | None = None
    graph: Graph = field(init=False)
    tasks: Mapping[str, Task] = field(init=False)
    """The DAG's tasks by name, as written."""

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        object.__setattr__(self, "graph", graph_of(self.dag))
        object.__setattr__(self, "tasks", _by_name(self.dag))

    @property
    def clear_id(self) -> str | None:
        """The id of the clear request this pass applies (one not applied yet), if any."""
        request = self.run.spec.clear
        return request.id if request and request.id != self.run.last_clear_id else None

    @property
    def mark_id(self) -> str | None:
        """The id of the mark request this pass applies (one not applied yet), if any."""
        request = self.run.spec.mark
        return request.id if request and request.id != self.run.last_mark_id else None

    def resolved(self, name: str) -> ResolvedTask:
        """The task with the DAG's defaults applied."""
        resolved = _resolved(self.dag)
        task = resolved.get(name)
        if task is None:
            task = resolved[name] = resolve_task(self.dag, self.tasks[name])
        return task
