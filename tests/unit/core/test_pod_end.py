"""core.rules.pod_end: why a try's pod ended, from what was observed of it; and the
planner failing (and retrying) a try whose pod was lost, evicted or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from plankit import World, dag

from airkube.api.states import TaskState
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.result import PlannerOptions
from airkube.core.rules.pod_end import PodEnd, pod_end

NODE = "node-7"


def failed(**fields: Any) -> ObservedPod:
    base: dict[str, Any] = {"name": "p", "task": "a", "try_number": 1, "phase": PodPhase.FAILED}
    return ObservedPod(**{**base, **fields})


def gone(**fields: Any) -> ObservedPod:
    return failed(**{"phase": PodPhase.RUNNING, "missing": True, **fields})


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        # Lost with its node: the pod GC deleted it (Failed first, then gone).
        (
            failed(
                node_name=NODE,
                disruption_reason="DeletionByPodGC",
                disruption_message="PodGC: node no longer exists",
            ),
            PodEnd(
                Reason.POD_LOST,
                f"pod p was lost with node {NODE}, which no longer exists: "
                "PodGC: node no longer exists",
                removed=True,
            ),
        ),
        (
            gone(node_name=NODE, disruption_reason="DeletionByPodGC"),
            PodEnd(
                Reason.POD_LOST, f"pod p was lost with node {NODE}, which no longer exists", True
            ),
        ),
        (
            gone(
                node_name=NODE,
                disruption_reason="DeletionByTaintManager",
                disruption_message="Taint manager: deleting due to NoExecute taint",
            ),
            PodEnd(
                Reason.POD_LOST,
                f"pod p on node {NODE} was deleted for a NoExecute taint of its node "
                "(unreachable or not ready?): Taint manager: deleting due to NoExecute taint",
                True,
            ),
        ),
        (
            failed(node_name=NODE, reason="NodeLost", message=f"Node {NODE} is unresponsive"),
            PodEnd(
                Reason.POD_LOST,
                f"pod p was lost with node {NODE}: Node {NODE} is unresponsive",
                True,
            ),
        ),
        # Evicted: the Eviction API (a drain), the kubelet, the scheduler.
        (
            gone(
                node_name=NODE,
                disruption_reason="EvictionByEvictionAPI",
                disruption_message="Eviction API: evicting",
            ),
            PodEnd(
                Reason.EVICTED,
                f"pod p on node {NODE} was evicted (Eviction API): Eviction API: evicting",
                True,
            ),
        ),
        (
            failed(
                node_name=NODE,
                reason="Evicted",
                message="The node was low on resource: memory. Threshold quantity: 100Mi.",
                disruption_reason="TerminationByKubelet",
                disruption_message="The node was low on resource: memory.",
                container_reason="Error",
                exit_code=137,
            ),
            PodEnd(
                Reason.EVICTED,
                f"pod p on node {NODE} was evicted by its kubelet: The node was low on "
                "resource: memory. Threshold quantity: 100Mi.",
                True,
            ),
        ),
        (
            failed(reason="Evicted", message="The node was low on resource: ephemeral-storage."),
            PodEnd(
                Reason.EVICTED,
                "pod p was evicted: The node was low on resource: ephemeral-storage.",
                True,
            ),
        ),
        (
            gone(
                node_name=NODE,
                disruption_reason="PreemptionByScheduler",
                disruption_message="default-scheduler: preempting to accommodate a higher "
                "priority pod",
            ),
            PodEnd(
                Reason.EVICTED,
                f"pod p on node {NODE} was preempted by the scheduler for a pod of higher "
                "priority: default-scheduler: preempting to accommodate a higher priority pod",
                True,
            ),
        ),
        (
            gone(disruption_reason="DeletionByDeviceTaintManager"),
            PodEnd(Reason.EVICTED, "pod p was disrupted (DeletionByDeviceTaintManager)", True),
        ),
        # Deleted by someone: gone, or failed while being deleted, with nothing else said.
        (
            gone(node_name=NODE),
            PodEnd(
                Reason.DELETED,
                f"pod p on node {NODE} was deleted before its task ended, not by airkube",
                True,
            ),
        ),
        (
            failed(node_name=NODE, deletion_time=None, missing=True, exit_code=143),
            PodEnd(
                Reason.DELETED,
                f"pod p on node {NODE} was deleted before its task ended, not by airkube "
                "(its task exited with code 143)",
                True,
            ),
        ),
        # The container's own end.
        (
            failed(node_name=NODE, container_reason="OOMKilled", exit_code=137),
            PodEnd(
                Reason.OOM_KILLED,
                f"container task of pod p on node {NODE} ran out of memory (OOMKilled, "
                "exit code 137)",
            ),
        ),
        (
            failed(container_reason="Error", exit_code=3),
            PodEnd(Reason.ERROR, "container task of pod p exited with code 3"),
        ),
        (
            failed(exit_code=3),
            PodEnd(Reason.ERROR, "container task of pod p exited with code 3"),
        ),
        (
            failed(container_reason="Error", exit_code=1, termination_message="boom\nValueError"),
            PodEnd(Reason.ERROR, "boom\nValueError"),
        ),
        (
            failed(container_reason="ContainerCannotRun", exit_code=128, node_name=NODE),
            PodEnd(
                "ContainerCannotRun",
                f"container task of pod p on node {NODE} exited with code 128 (ContainerCannotRun)",
            ),
        ),
        (failed(), PodEnd(Reason.ERROR, "pod p failed")),
        (
            failed(exit_code=0, container_reason="Completed"),
            PodEnd(Reason.ERROR, "pod p failed, though its container task exited with 0"),
        ),
        # The pod's own reason, kept (and the controller's, for a pod it made up).
        (
            failed(reason="OutOfcpu", message="Node didn't have enough resource: cpu"),
            PodEnd("OutOfcpu", "Node didn't have enough resource: cpu"),
        ),
        (
            gone(reason="PodRejected", message="the API server refused the pod: quota"),
            PodEnd("PodRejected", "the API server refused the pod: quota", True),
        ),
    ],
)
def test_why_a_pod_ended(pod: ObservedPod, expected: PodEnd) -> None:
    assert pod_end(pod) == expected


def test_messages_are_one_line_and_name_the_pod() -> None:
    ends = [
        pod_end(failed(node_name=NODE, disruption_reason=r, disruption_message="a\nb"))
        for r in (
            "DeletionByPodGC",
            "DeletionByTaintManager",
            "EvictionByEvictionAPI",
            "TerminationByKubelet",
            "PreemptionByScheduler",
        )
    ]
    ends += [pod_end(gone(node_name=NODE)), pod_end(failed(node_name=NODE, exit_code=1))]
    for end in ends:
        assert "\n" not in end.message
        assert "pod p" in end.message
        assert NODE in end.message
        assert end.message  # never a bare reason


def test_a_pod_lost_with_its_node_fails_its_try_and_the_retry_starts() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "0s"}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, node_name=NODE)
    w.step()
    assert w.tasks["a"].state is TaskState.RUNNING
    # The pod GC marks the pod Failed with its DisruptionTarget condition, then deletes it.
    w.set_pod(
        "a",
        PodPhase.FAILED,
        node_name=NODE,
        disruption_reason="DeletionByPodGC",
        disruption_message="PodGC: node no longer exists",
        finish_time=None,
        missing=True,
    )
    p = w.step()
    status = w.tasks["a"]
    assert status.state is TaskState.QUEUED
    assert status.try_number == 2
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]
    retrying = [e for e in p.events if e.reason == Reason.TASK_RETRYING]
    assert retrying
    assert "PodLost" in retrying[0].message
    assert NODE in retrying[0].message
    w.set_pod("a", PodPhase.SUCCEEDED)
    w.step()
    assert w.tasks["a"].state is TaskState.SUCCEEDED


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"disruption_reason": "EvictionByEvictionAPI", "missing": True}, Reason.EVICTED),
        ({"reason": "Evicted", "phase": PodPhase.FAILED}, Reason.EVICTED),
        ({"missing": True}, Reason.DELETED),
        (
            {"container_reason": "OOMKilled", "exit_code": 137, "phase": PodPhase.FAILED},
            "OOMKilled",
        ),
    ],
)
def test_a_try_ended_by_its_pod_is_retried(fields: dict[str, Any], reason: str) -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "1m"}))
    w.step()
    w.set_pod("a", fields.pop("phase", PodPhase.RUNNING), node_name=NODE, **fields)
    w.step()
    status = w.tasks["a"]
    assert status.state is TaskState.UP_FOR_RETRY
    assert status.reason == reason
    assert status.message
    assert "pod" in status.message


def test_a_pod_gone_after_it_succeeded_is_a_success() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED, missing=True)
    w.step()
    assert w.tasks["a"].state is TaskState.SUCCEEDED


def test_an_evicted_pod_stuck_terminating_is_evicted_when_it_is_given_up() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod(
        "a",
        PodPhase.RUNNING,
        node_name=NODE,
        deletion_time=w.now,
        disruption_reason="EvictionByEvictionAPI",
        disruption_message="Eviction API: evicting",
    )
    w.step()
    assert w.tasks["a"].state is TaskState.RUNNING
    w.advance(PlannerOptions().pod_terminating_grace)
    w.step()
    status = w.tasks["a"]
    assert status.state is TaskState.FAILED
    assert status.reason == Reason.EVICTED
    assert status.message is not None
    assert status.message.endswith("did not finish terminating")
    assert "was evicted (Eviction API)" in status.message
