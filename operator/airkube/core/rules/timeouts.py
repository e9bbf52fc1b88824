"""Deadlines: a try's executionTimeout, a pod never seen or stuck terminating (lost), the
run's dagrunTimeout. Each is a time and what to say once it has passed."""

from dataclasses import dataclass
from datetime import datetime

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import TaskStatus
from airkube.api.duration import format_duration
from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.result import PlannerOptions
from airkube.core.resolve import ResolvedTask


@dataclass(frozen=True)
class Deadline:
    at: datetime
    reason: str
    message: str

    def passed(self, now: datetime) -> bool:
        return now >= self.at


def timeout_message(task: ResolvedTask) -> str:
    limit = task.execution_timeout
    return "ran longer than its executionTimeout" + (
        f" ({format_duration(limit)})" if limit is not None else ""
    )


def execution_deadline(task: ResolvedTask, start: datetime | None) -> Deadline | None:
    """When a running try is stopped: its executionTimeout after it started."""
    limit = task.execution_timeout
    if limit is None or start is None:
        return None
    return Deadline(start + limit, Reason.TIMEOUT, timeout_message(task))


def pod_missing_deadline(status: TaskStatus, options: PlannerOptions) -> Deadline:
    """A pod created but never seen is lost after a grace (a watch may be late)."""
    assert status.queued_time is not None
    return Deadline(
        status.queued_time + options.pod_missing_grace,
        Reason.POD_LOST,
        f"pod {status.pod_name} disappeared",
    )


def pod_terminating_deadline(pod: ObservedPod, options: PlannerOptions) -> Deadline | None:
    """A pod still terminating long after its deletion started (a lost node) is lost."""
    if pod.deletion_time is None:
        return None
    return Deadline(
        pod.deletion_time + options.pod_terminating_grace,
        Reason.POD_LOST,
        f"pod {pod.name} did not finish terminating",
    )


def run_deadline(dag: DAGSpec, start: datetime) -> Deadline | None:
    """When the run fails by its dagrunTimeout."""
    timeout = dag.dagrun_timeout
    if timeout is None:
        return None
    return Deadline(
        start + timeout,
        Reason.RUN_TIMEOUT,
        f"the run took longer than its dagrunTimeout ({format_duration(timeout)})",
    )
