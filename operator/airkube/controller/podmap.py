"""From a pod object (a plain dict, as kopf hands it over) to the planner's ObservedPod."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.pods import ANNOTATION_RUN, CONTAINER_NAME, LABEL_RUN, LABEL_TASK, LABEL_TRY
from airkube.core.rules.pending import BENIGN_WAITING_REASONS
from airkube.core.timestamps import parse_time


def run_key(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, run name) of an airkube pod, or None when it is not one of ours."""
    meta = pod.get("metadata") or {}
    run = (meta.get("annotations") or {}).get(ANNOTATION_RUN) or (meta.get("labels") or {}).get(
        LABEL_RUN
    )
    namespace = meta.get("namespace")
    return (namespace, run) if run and namespace else None


def owner_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the DAGRun that owns the pod: a run re-created under the same name has
    another uid, and must not take over its predecessor's pods."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "DAGRun":
            return str(ref.get("uid"))
    return None


def observe_pod(pod: Mapping[str, Any]) -> ObservedPod | None:
    """The pod as the planner sees it; None when its labels are not airkube's."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    task = labels.get(LABEL_TASK)
    try:
        try_number = int(labels.get(LABEL_TRY, ""))
    except ValueError:
        return None
    if not task:
        return None
    status = pod.get("status") or {}
    try:
        phase = PodPhase(status.get("phase") or "Pending")
    except ValueError:
        phase = PodPhase.UNKNOWN
    terminated = _task_container_terminated(status) or {}
    waiting = _waiting(status) if phase is PodPhase.PENDING else None
    disruption = _disruption(status)
    return ObservedPod(
        name=meta["name"],
        task=task,
        try_number=try_number,
        phase=phase,
        exit_code=terminated.get("exitCode"),
        reason=status.get("reason") or None,
        message=status.get("message") or None,
        container_reason=terminated.get("reason") or None,
        node_name=(pod.get("spec") or {}).get("nodeName") or None,
        disruption_reason=disruption.get("reason") or None,
        disruption_message=disruption.get("message") or None,
        termination_message=terminated.get("message") or None,
        start_time=parse_time(status.get("startTime")),
        finish_time=parse_time(terminated.get("finishedAt")),
        deletion_time=parse_time(meta.get("deletionTimestamp")),
        waiting_reason=waiting[0] if waiting else None,
        waiting_message=waiting[1] if waiting else None,
        containers_stopped=_all_containers_terminated(status),
    )


def _all_containers_terminated(status: Mapping[str, Any]) -> bool:
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all((cs.get("state") or {}).get("terminated") for cs in statuses)


def _task_container_terminated(status: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == CONTAINER_NAME:
            terminated = (cs.get("state") or {}).get("terminated")
            return dict(terminated) if terminated else None
    return None


def _disruption(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod's DisruptionTarget condition when True (Kubernetes is removing the pod and
    says why), else {}."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
            return dict(condition)
    return {}


def _waiting(status: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """Why a Pending pod has not started: the first telling ``state.waiting`` of its
    containers (the task container, then init containers, then the others), else the
    first benign one (ContainerCreating…), else its PodScheduled condition when False."""
    containers = status.get("containerStatuses") or []
    statuses = [
        *(cs for cs in containers if cs.get("name") == CONTAINER_NAME),
        *(status.get("initContainerStatuses") or []),
        *(cs for cs in containers if cs.get("name") != CONTAINER_NAME),
    ]
    found: list[tuple[str, str | None]] = []
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            found.append((str(waiting["reason"]), waiting.get("message")))
    telling = [w for w in found if w[0] not in BENIGN_WAITING_REASONS]
    if telling or found:
        return (telling or found)[0]
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason")
        ):
            return str(condition["reason"]), condition.get("message")
    return None
