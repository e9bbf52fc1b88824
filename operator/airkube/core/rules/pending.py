"""A try whose pod has not started: why it waits, and when it has waited too long.

While the pod of a Queued try is Pending, the task's status shows what holds it back (the
scheduler's Unschedulable, the kubelet's ImagePullBackOff, CreateContainerConfigError for
a missing Secret or ConfigMap…) and an event says so when that reason first appears or
changes. A pod still Pending ``pendingTimeout`` after the try was queued (Airflow's
``worker_pods_pending_timeout``) fails the try with reason PendingTimeout; the planner then
deletes the pod and retries as for any failed try. A pod that is Running is never subject
to it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from airkube.api.dagrun import TaskStatus
from airkube.api.duration import format_duration
from airkube.core.model.actions import Event, EventType
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason

BENIGN_WAITING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
"""What the kubelet says of a container on its normal way to start: not worth showing."""

_SAME_PROBLEM = {"ImagePullBackOff": "ErrImagePull"}
"""Reasons the kubelet alternates between for one problem (a failed pull, then its
back-off, then the next pull…): one event for them all, not one per flip."""

MESSAGE_MAX_CHARS = 1024
"""A scheduler's message names every node; the status keeps this much of it."""

WAITING_PREFIX = "waiting for its pod: "


@dataclass(frozen=True)
class Waiting:
    """The try goes on waiting: its status shows ``reason``/``message`` (None: nothing to
    show, the pod is on its normal way or running), ``event`` is posted if any, and the
    run is planned again at ``wakeup`` (None: no deadline, the pod runs)."""

    reason: str | None = None
    message: str | None = None
    event: Event | None = None
    wakeup: datetime | None = None


@dataclass(frozen=True)
class TimedOut:
    """Fail the try with reason PendingTimeout and this message."""

    message: str
    reason: str = Reason.PENDING_TIMEOUT


def waiting_reason(pod: ObservedPod) -> tuple[str, str | None] | None:
    """What holds the pod back, worth showing: (reason, message), or None."""
    if pod.waiting_reason is None or pod.waiting_reason in BENIGN_WAITING_REASONS:
        return None
    return pod.waiting_reason, pod.waiting_message


def _describe(reason: str, message: str | None) -> str:
    text = f"{reason}: {' '.join(message.split())}" if message and message.strip() else reason
    return text if len(text) <= MESSAGE_MAX_CHARS else text[: MESSAGE_MAX_CHARS - 1] + "…"


def _problem(reason: str | None) -> str | None:
    return _SAME_PROBLEM.get(reason, reason) if reason is not None else None


def decide(
    task: str, status: TaskStatus, pod: ObservedPod, timeout: timedelta, now: datetime
) -> Waiting | TimedOut:
    """What to do about the current try of ``task`` (``status``, Queued or Running) whose
    pod ``pod`` exists and is not being deleted, at ``now``.

    The timeout counts from the try's ``queued_time`` (when its pod was created); the
    status's ``reason`` is the waiting reason the last pass showed.
    """
    if pod.phase is not PodPhase.PENDING:
        return Waiting()
    shown = waiting_reason(pod)
    queued = status.queued_time or now
    deadline = queued + timeout
    if now >= deadline:
        limit = format_duration(timeout)
        if shown is not None:
            why = _describe(*shown)
        elif pod.waiting_reason is not None:
            why = f"it was still {pod.waiting_reason}"
        else:
            why = "it was still Pending"
        return TimedOut(f"its pod did not start within its pendingTimeout ({limit}): {why}")
    if shown is None:
        return Waiting(wakeup=deadline)
    reason, detail = shown
    message = WAITING_PREFIX + _describe(reason, detail)
    event = None
    if _problem(reason) != _problem(status.reason):
        event = Event(
            EventType.WARNING,
            Reason.POD_PENDING,
            f'task "{task}" try {status.try_number} is {message} (pod {pod.name}; it fails '
            f"after its pendingTimeout, {format_duration(timeout)} from its creation)",
            task,
        )
    return Waiting(reason=reason, message=message, event=event, wakeup=deadline)
