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
