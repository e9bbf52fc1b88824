"""What a run's transitions measure, for the operator's metrics (pure: no I/O, no clock).

The controller counts; the values it counts are decided here, from a pass's status before
and after (:class:`~airkube.core.model.result.Plan`) and the DAG:

- the run started (it has a ``startTime`` now and had none) or finished (in which state,
  after how long, ``startTime`` to ``endTime``);
- the tries that ended in the pass, each with its state and reason (a try is counted once:
  when its state first becomes one that ends a try; a later change of the same try, such as
  a mark, is not another try);
- the step latency of each pod created for a task's first try of an attempt (not a retry,
  whose delay is the DAG's own): from the end of its last upstream task (the ``endTime`` of
  that task, its container's finish time as the kubelet reports it, in whole seconds) to
  the creation of the pod;
- the scheduling delay of a scheduled run: from the end of its data interval to its
  creation.

Labels of metrics must stay few: :func:`label_value` keeps a reason that is a short
CamelCase word (the Kubernetes and airkube reasons) and folds anything else into
``Other``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import DAGRunStatus, TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.graph import graph_of
from airkube.core.model.result import Plan

OTHER = "Other"
"""The label value of a reason that is not a short word (see :func:`label_value`)."""
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{0,47}")


@dataclass(frozen=True)
class TryEnd:
    """A try that ended: its task, number, state (a state that ends a try) and reason."""

    task: str
    try_number: int
    state: TaskState
    reason: str
    """The try's reason as a label value (:func:`label_value`), "" when it has none."""


@dataclass(frozen=True)
class PassMeasures:
    """What one pass of a run measured."""

    started: bool = False
    """The run started in this pass."""
    finished: RunState | None = None
    """The state the run finished in, when it finished in this pass."""
    duration_s: float | None = None
    """How long a run that finished in this pass ran (None if it never started)."""
    tries: tuple[TryEnd, ...] = ()
    step_latencies_s: tuple[float, ...] = ()


def label_value(reason: str | None) -> str:
    """``reason`` as a metric label: "" for none, itself when a short CamelCase word (what
    Kubernetes and airkube use: OOMKilled, Unschedulable, PodLost…), else ``Other``."""
    if not reason:
        return ""
    return reason if _WORD.fullmatch(reason) else OTHER


def pass_measures(
    before: DAGRunStatus,
    plan: Plan,
    spec: DAGSpec | None,
    created_at: datetime,
) -> PassMeasures:
    """What a pass measured: ``before`` the run's status it started from, ``plan`` what it
    decided, ``spec`` the DAG version the run follows (None: unknown, no step latency),
    ``created_at`` when the pass's pods were created. Its cost follows what changed
    (the changed tasks, the created pods and their upstream tasks), not the run's size."""
    old = before.tasks or {}
    started = before.start_time is None and plan.start_time is not None
    finished = plan.run_state if plan.run_state.finished and not before.state.finished else None
    duration = None
    if finished is not None and plan.start_time is not None and plan.end_time is not None:
        duration = max(0.0, (plan.end_time - plan.start_time).total_seconds())
    tries = [
        TryEnd(name, status.try_number, status.state, label_value(status.reason))
        for name, status in (*plan.ended, *((n, plan.tasks[n]) for n in plan.changed))
        if _ends_try(old.get(name), status)
    ]
    return PassMeasures(
        started=started,
        finished=finished,
        duration_s=duration,
        tries=tuple(dict.fromkeys(tries)),  # an ended try listed twice counts once
        step_latencies_s=step_latencies(old, plan, spec, created_at),
    )


def _ends_try(old: TaskStatus | None, new: TaskStatus) -> bool:
    """Whether ``new`` shows a try ending that ``old`` (the status before) did not."""
    if new.try_number <= 0 or not new.state.finished_try:
        return False
    return old is None or old.try_number != new.try_number or not old.state.finished_try


def step_latencies(
    old: Mapping[str, TaskStatus], plan: Plan, spec: DAGSpec | None, created_at: datetime
) -> tuple[float, ...]:
    """Seconds from the end of the last upstream task to ``created_at`` for each pod of the
    plan that starts an attempt of a task with upstream tasks (not a retry, not a pod made
    again for the same try)."""
    if spec is None or not plan.creates:
        return ()
    upstream = graph_of(spec).upstream
    latencies = []
    for create in plan.creates:
        prior = old.get(create.task)
        if prior is not None and (
            prior.state is TaskState.UP_FOR_RETRY or prior.try_number >= create.try_number
        ):
            continue
        ends = [
            status.end_time
            for up in upstream.get(create.task, ())
            if (status := plan.tasks.get(up)) is not None and status.end_time is not None
        ]
        if ends:
            latencies.append(max(0.0, (created_at - max(ends)).total_seconds()))
    return tuple(latencies)


def schedule_delay(data_interval_end: datetime, created_at: datetime) -> float:
    """Seconds from the end of a scheduled run's data interval to its creation (Airflow's
    ``dagrun.schedule_delay``): how late the schedule loop was."""
    return max(0.0, (created_at - data_interval_end).total_seconds())
