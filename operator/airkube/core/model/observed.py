"""What the planner knows of a pod: a small summary the controller makes from the pod
objects of its watch index (the planner never sees Kubernetes objects)."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Self


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @property
    def terminal(self) -> bool:
        return self in (PodPhase.SUCCEEDED, PodPhase.FAILED)


@dataclass(frozen=True, kw_only=True)
class ObservedPod:
    """One pod of the run, for one try of one task.

    The controller fills it from the pod: ``task`` and ``try_number`` from the labels
    ``airkube.io/task`` and ``airkube.io/try``; ``exit_code``, ``termination_message``,
    ``container_reason`` (OOMKilled, Error…) and ``finish_time`` from the "task"
    container's ``state.terminated``; ``reason``/``message`` from the pod's status (Evicted,
    DeadlineExceeded, NodeLost…); ``disruption_reason``/``disruption_message`` from its
    DisruptionTarget condition; ``waiting_reason``/``waiting_message`` from a waiting
    container or the PodScheduled condition. core/rules/pod_end.py says from these why a
    pod that did not succeed ended.
    """

    name: str
    task: str
    try_number: int
    phase: PodPhase
    exit_code: int | None = None
    reason: str | None = None
    """The pod's ``status.reason`` (Evicted, DeadlineExceeded, NodeLost…), or the
    controller's own for a pod it made up (PodRejected)."""
    message: str | None = None
    """The pod's ``status.message`` (what goes with ``reason``)."""
    container_reason: str | None = None
    """The task container's ``state.terminated.reason`` (Error, OOMKilled, Completed…)."""
    node_name: str | None = None
    """The node the pod was bound to (``spec.nodeName``)."""
    disruption_reason: str | None = None
    """The reason of the pod's DisruptionTarget condition (when True): what is removing it
    (EvictionByEvictionAPI, DeletionByPodGC, DeletionByTaintManager, TerminationByKubelet,
    PreemptionByScheduler)."""
    disruption_message: str | None = None
    """The message of that condition."""
    termination_message: str | None = None
    """What the container wrote to /dev/termination-log (or, failing with nothing written,
    the end of its log)."""
    start_time: datetime | None = None
    """The pod's status.startTime (from which activeDeadlineSeconds counts)."""
    finish_time: datetime | None = None
    """When the task container terminated."""
    deletion_time: datetime | None = None
    """metadata.deletionTimestamp: the pod is being deleted."""
    missing: bool = False
    """The controller knows the pod is gone (a watch DELETED event, or a 404)."""
    waiting_reason: str | None = None
    """Why the pod has not started: a container's ``state.waiting.reason`` (the task
    container's first: ImagePullBackOff, ErrImagePull, CreateContainerConfigError…, or
    ContainerCreating on its normal way), else the reason of its PodScheduled condition
    when False (Unschedulable)."""
    waiting_message: str | None = None
    """The message that goes with ``waiting_reason``."""
    containers_stopped: bool = False
    """Every container of the pod has terminated. A real kubelet reports that before it
    sets the pod's terminal phase (it first stops the sandbox), so for a moment a pod
    that is done still says Running."""

    def as_gone(self) -> Self:
        """This pod, known to be gone (its last state as seen in a watch DELETED event)."""
        return replace(self, missing=True)

    @property
    def deleted(self) -> bool:
        return self.deletion_time is not None or self.missing

    @property
    def stopped(self) -> bool:
        """Nothing runs in it any more: a terminal phase, or every container terminated."""
        return self.phase.terminal or self.containers_stopped
