"""Helpers for planner tests: small DAGs, runs, observed pods and a pass loop."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from airkube.api import DAGRunSpec, DAGSpec, TaskStatus
from airkube.api.dagrun import ClearRequest, MarkRequest
from airkube.api.states import RunState
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.render import Renderer
from airkube.core.model.result import Plan, PlannerOptions
from airkube.core.model.run import Run
from airkube.core.plan import RunIndex, plan

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def dag(*tasks: Mapping[str, Any], **fields: Any) -> DAGSpec:
    """A DAG spec; every task runs busybox unless it says otherwise."""
    spec: dict[str, Any] = {"tasks": list(tasks), **fields}
    defaults = dict(spec.pop("defaults", {}))
    defaults.setdefault("image", "busybox")
    spec["defaults"] = defaults
    return DAGSpec.model_validate(spec)


def run(**fields: Any) -> Run:
    spec = fields.pop("spec", None) or DAGRunSpec.model_validate({"dagRef": {"name": "etl"}})
    return Run(namespace="ns", name="etl-manual-1", uid="uid-1", spec=spec, **fields)


def pod(
    name: str,
    task: str,
    try_number: int = 1,
    phase: PodPhase = PodPhase.RUNNING,
    **fields: Any,
) -> ObservedPod:
    return ObservedPod(name=name, task=task, try_number=try_number, phase=phase, **fields)


def after(p: Plan, current: Run) -> Run:
    """The run as the controller would pass it to the next pass."""
    return replace(
        current,
        state=p.run_state,
        start_time=p.start_time,
        end_time=p.end_time,
        last_clear_id=p.last_clear_id,
        clear_number=p.clear_number,
        last_mark_id=p.last_mark_id,
        reason=p.reason,
        message=p.message,
    )


class World:
    """A fake cluster for multi-pass tests: the pods plans create, and their phases.

    Passes carry the planner's index from one to the next, as the controller does
    (``incremental=False``: every pass plans from the task states alone).
    """

    def __init__(
        self,
        spec: DAGSpec,
        the_run: Run | None = None,
        now: datetime = T0,
        *,
        incremental: bool = True,
    ) -> None:
        self.index: RunIndex | None = None
        self.incremental = incremental
        self.dag = spec
        self.run = the_run or run()
        self.now = now
        self.tasks: dict[str, TaskStatus] = {}
        self.pods: dict[str, ObservedPod] = {}
        self.plans: list[Plan] = []

    def step(
        self,
        *,
        renderer: Renderer | None = None,
        options: PlannerOptions | None = None,
    ) -> Plan:
        kwargs: dict[str, Any] = {"renderer": renderer}
        if options is not None:
            kwargs["options"] = options
        if self.incremental:
            kwargs["index"] = self.index = self.index or RunIndex.build(self.dag, self.tasks)
        p = plan(self.dag, self.run, self.tasks, list(self.pods.values()), self.now, **kwargs)
        self.apply(p)
        return p

    def apply(self, p: Plan) -> None:
        for delete in p.deletes:
            self.pods.pop(delete.name, None)
        for create in p.creates:
            assert create.name not in self.pods, f"second pod {create.name}"
            self.pods[create.name] = pod(
                create.name, create.task, create.try_number, PodPhase.PENDING
            )
        self.tasks = dict(p.tasks)
        self.run = after(p, self.run)
        self.plans.append(p)

    def pod_of(self, task: str) -> ObservedPod:
        """The newest pod of ``task``."""
        pods = [p for p in self.pods.values() if p.task == task]
        return max(pods, key=lambda p: p.try_number)

    def set_pod(self, task: str, phase: PodPhase, **fields: Any) -> None:
        current = self.pod_of(task)
        if phase is not PodPhase.PENDING and "start_time" not in fields:
            fields["start_time"] = current.start_time or self.now
        if phase.terminal and "finish_time" not in fields:
            fields["finish_time"] = self.now
        if phase is PodPhase.SUCCEEDED:
            fields.setdefault("exit_code", 0)
        self.pods[current.name] = replace(current, phase=phase, **fields)

    def clear(self, request_id: str, **fields: Any) -> None:
        """Ask for a clear, as `kubectl airkube clear` writes spec.clear."""
        spec = self.run.spec.model_copy(
            update={"clear": ClearRequest.model_validate({"id": request_id, **fields})}
        )
        self.run = replace(self.run, spec=spec)

    def mark(self, request_id: str, **fields: Any) -> None:
        """Ask for a mark, as `kubectl airkube mark` writes spec.mark."""
        spec = self.run.spec.model_copy(
            update={"mark": MarkRequest.model_validate({"id": request_id, **fields})}
        )
        self.run = replace(self.run, spec=spec)

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def states(self) -> dict[str, str]:
        return {name: status.state.value for name, status in self.tasks.items()}

    @property
    def finished(self) -> bool:
        return self.run.state in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)
