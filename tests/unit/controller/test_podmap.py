"""observe_pod: what the planner learns from a pod object."""

from __future__ import annotations

from typing import Any

import pytest

from airkube.controller.podmap import observe_pod
from airkube.core.model.observed import PodPhase


def pod(phase: str, *states: dict[str, Any]) -> dict[str, Any]:
    names = ["task", "sidecar"]
    return {
        "metadata": {"name": "p", "labels": {"airkube.io/task": "a", "airkube.io/try": "1"}},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": names[i], "state": s} for i, s in enumerate(states)],
        },
    }


DONE = {"terminated": {"exitCode": 0, "finishedAt": "2026-11-28T08:00:00Z"}}
RUNNING = {"running": {"startedAt": "2026-11-28T08:00:00Z"}}


@pytest.mark.parametrize(
    ("body", "stopped"),
    [
        (pod("Running", RUNNING), False),
        (pod("Running", DONE), True),  # the kubelet has not set the terminal phase yet
        (pod("Running", DONE, RUNNING), False),  # a sidecar still runs
        (pod("Running", DONE, DONE), True),
        (pod("Succeeded", DONE), True),
        (pod("Pending"), False),
    ],
)
def test_a_pod_is_stopped_when_its_phase_is_terminal_or_every_container_ended(
    body: dict[str, Any], stopped: bool
) -> None:
    observed = observe_pod(body)
    assert observed is not None
    assert observed.stopped is stopped
    assert observed.phase is PodPhase(body["status"]["phase"])


# Pods that cannot start, as the scheduler and the kubelet (v1.35) report them.

UNSCHEDULABLE = {
    "metadata": {"name": "p", "labels": {"airkube.io/task": "a", "airkube.io/try": "1"}},
    "status": {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-11-28T08:00:00Z",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node "
                "affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not "
                "helpful for scheduling.",
            }
        ],
        "qosClass": "BestEffort",
    },
}


def scheduled_pod(
    containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True"},
            {"type": "Initialized", "status": "True" if not init else "False"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "hostIP": "10.213.7.2",
        "podIP": "10.214.7.5",
        "startTime": "2026-11-28T08:00:01Z",
        "containerStatuses": containers,
    }
    if init is not None:
        status["initContainerStatuses"] = init
    return {
        "metadata": {"name": "p", "labels": {"airkube.io/task": "a", "airkube.io/try": "1"}},
        "status": status,
    }


def waiting(name: str, reason: str, message: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if message is not None:
        state["message"] = message
    return {
        "name": name,
        "image": "registry.invalid/nothing:1",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {"waiting": state},
        "lastState": {},
    }


PULL = (
    'Back-off pulling image "registry.invalid/nothing:1": ErrImagePull: failed to pull and '
    'unpack image "registry.invalid/nothing:1": dial tcp: lookup registry.invalid: no such host'
)
NO_SECRET = 'secret "db-password" not found'


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        (UNSCHEDULABLE, "Unschedulable", UNSCHEDULABLE["status"]["conditions"][0]["message"]),
        (scheduled_pod([waiting("task", "ImagePullBackOff", PULL)]), "ImagePullBackOff", PULL),
        (
            scheduled_pod([waiting("task", "ErrImagePull", "no such host")]),
            "ErrImagePull",
            "no such host",
        ),
        (
            scheduled_pod([waiting("task", "CreateContainerConfigError", NO_SECRET)]),
            "CreateContainerConfigError",
            NO_SECRET,
        ),
        (scheduled_pod([waiting("task", "ContainerCreating")]), "ContainerCreating", None),
        # A sidecar's image that cannot be pulled holds the pod back as well.
        (
            scheduled_pod([waiting("task", "ContainerCreating"), waiting("log", "ErrImagePull")]),
            "ErrImagePull",
            None,
        ),
        # An init container that cannot start: the task container only says PodInitializing.
        (
            scheduled_pod(
                [waiting("task", "PodInitializing")],
                init=[waiting("setup", "CreateContainerConfigError", NO_SECRET)],
            ),
            "CreateContainerConfigError",
            NO_SECRET,
        ),
        # The task container's own problem comes first.
        (
            scheduled_pod(
                [waiting("log", "ErrImagePull"), waiting("task", "CreateContainerConfigError")]
            ),
            "CreateContainerConfigError",
            None,
        ),
        (scheduled_pod([]), None, None),
    ],
)
def test_a_pending_pod_says_why_it_waits(
    body: dict[str, Any], reason: str | None, message: str | None
) -> None:
    observed = observe_pod(body)
    assert observed is not None
    assert observed.phase is PodPhase.PENDING
    assert (observed.waiting_reason, observed.waiting_message) == (reason, message)


def test_a_running_pod_has_no_waiting_reason() -> None:
    body = scheduled_pod([waiting("task", "ContainerCreating")])
    body["status"]["phase"] = "Running"
    observed = observe_pod(body)
    assert observed is not None
    assert observed.waiting_reason is None
