"""observe_pod: what the planner learns of how a pod ended (its node, its pod-level reason
kept apart from its container's, its DisruptionTarget condition), from pod objects as
Kubernetes v1.35 leaves them."""

from __future__ import annotations

from typing import Any

import pytest

from airkube.controller.podmap import observe_pod
from airkube.core.model.observed import ObservedPod, PodPhase

LABELS = {"airkube.io/task": "a", "airkube.io/try": "2"}


def body(status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "labels": LABELS, **meta},
        "spec": {"nodeName": "node-7", "containers": [{"name": "task"}]},
        "status": status,
    }


def disruption(reason: str, message: str) -> dict[str, Any]:
    return {
        "type": "DisruptionTarget",
        "status": "True",
        "lastTransitionTime": "2026-11-28T08:00:05Z",
        "reason": reason,
        "message": message,
    }


RUNNING = [
    {"name": "task", "state": {"running": {"startedAt": "2026-11-28T08:00:00Z"}}, "ready": True}
]


def terminated(reason: str, code: int, message: str | None = None) -> list[dict[str, Any]]:
    state: dict[str, Any] = {
        "exitCode": code,
        "reason": reason,
        "startedAt": "2026-11-28T08:00:00Z",
        "finishedAt": "2026-11-28T08:00:09Z",
    }
    if message is not None:
        state["message"] = message
    return [{"name": "task", "state": {"terminated": state}}]


# What each way of ending leaves in the pod (the fields observe_pod reads).
POD_GC = body(
    {
        "phase": "Failed",
        "startTime": "2026-11-28T08:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "True"},
            disruption("DeletionByPodGC", "PodGC: node no longer exists"),
        ],
        "containerStatuses": RUNNING,
    },
    deletionTimestamp="2026-11-28T08:01:00Z",
)
EVICTION_API = body(
    {
        "phase": "Running",
        "conditions": [disruption("EvictionByEvictionAPI", "Eviction API: evicting")],
        "containerStatuses": RUNNING,
    },
    deletionTimestamp="2026-11-28T08:01:00Z",
    deletionGracePeriodSeconds=30,
)
KUBELET_EVICTION = body(
    {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi, "
        "available: 60Mi. Container task was using 2Gi, request is 0.",
        "conditions": [disruption("TerminationByKubelet", "The node was low on resource: memory.")],
        "containerStatuses": terminated("Error", 137),
    }
)
OOM = body({"phase": "Failed", "containerStatuses": terminated("OOMKilled", 137)})
ERROR = body({"phase": "Failed", "containerStatuses": terminated("Error", 2, "no such table")})
DEADLINE = body(
    {
        "phase": "Failed",
        "reason": "DeadlineExceeded",
        "message": "Pod was active on the node longer than the specified deadline",
        "containerStatuses": terminated("Error", 137),
    }
)
NOT_DISRUPTED = body(
    {
        "phase": "Running",
        "conditions": [{**disruption("TerminationByKubelet", "x"), "status": "False"}],
        "containerStatuses": RUNNING,
    }
)


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            POD_GC,
            {
                "phase": PodPhase.FAILED,
                "node_name": "node-7",
                "disruption_reason": "DeletionByPodGC",
                "disruption_message": "PodGC: node no longer exists",
                "reason": None,
                "container_reason": None,
                "exit_code": None,
            },
        ),
        (
            EVICTION_API,
            {
                "phase": PodPhase.RUNNING,
                "disruption_reason": "EvictionByEvictionAPI",
                "disruption_message": "Eviction API: evicting",
            },
        ),
        (
            KUBELET_EVICTION,
            {
                "reason": "Evicted",
                "message": KUBELET_EVICTION["status"]["message"],
                "container_reason": "Error",
                "exit_code": 137,
                "disruption_reason": "TerminationByKubelet",
            },
        ),
        (OOM, {"container_reason": "OOMKilled", "exit_code": 137, "reason": None}),
        (
            ERROR,
            {"container_reason": "Error", "exit_code": 2, "termination_message": "no such table"},
        ),
        (DEADLINE, {"reason": "DeadlineExceeded", "container_reason": "Error"}),
        (NOT_DISRUPTED, {"disruption_reason": None, "disruption_message": None}),
    ],
)
def test_how_a_pod_ended_is_observed(pod: dict[str, Any], expected: dict[str, Any]) -> None:
    observed = observe_pod(pod)
    assert observed is not None
    assert observed.try_number == 2
    assert {k: getattr(observed, k) for k in expected} == expected


def test_a_pod_without_a_node_has_none() -> None:
    observed = observe_pod({"metadata": {"name": "p", "labels": LABELS}, "status": {}})
    assert observed is not None
    assert observed.node_name is None
    assert observed.disruption_reason is None


def test_a_gone_pod_keeps_its_last_state() -> None:
    observed = observe_pod(POD_GC)
    assert isinstance(observed, ObservedPod)
    gone = observed.as_gone()
    assert gone.missing
    assert gone.deleted
    assert (gone.node_name, gone.disruption_reason) == ("node-7", "DeletionByPodGC")
