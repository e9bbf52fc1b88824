"""A pod that went away between two passes (a watch DELETED event): its try ends as the
pod's last state says, with the reason and the node, and is retried; the database has
the try with that reason."""

from pathlib import Path
from typing import Any

from airkube.controller.podmap import observe_pod, owner_uid, run_key
from unit.controller.fakes import run_body
from unit.controller.test_runs import NS, Scene

RETRIED = {
    "defaults": {"image": "busybox", "retries": 1, "retryDelay": "0s"},
    "tasks": [{"name": "a"}],
}


def lose(scene: Scene, pod: str, status: dict[str, Any]) -> None:
    """The pod takes its last state and is deleted before any pass sees it (what the
    operator's pod_event handler does with a DELETED event)."""
    scene.kube.change("pods", NS, pod, {"spec": {"nodeName": "node-7"}, "status": status})
    body = scene.kube.get("pods", NS, pod)
    assert body is not None
    observed, key = observe_pod(body), run_key(body)
    assert observed is not None
    assert key is not None
    scene.kube.remove("pods", NS, pod)
    scene.reconciler.pod_gone(key, owner_uid(body), observed)


def running(scene: Scene) -> str:
    scene.reconcile("r1")
    pod = scene.pod_of("a")
    scene.kube.change(
        "pods", NS, pod, {"status": {"phase": "Running", "startTime": "2026-11-24T00:00:01Z"}}
    )
    scene.reconcile("r1")
    assert scene.status("r1")["tasks"]["a"]["state"] == "Running"
    return pod


def test_a_pod_lost_with_its_node_between_passes_is_podlost_and_retried(tmp_path: Path) -> None:
    scene = Scene(tmp_path, RETRIED, run_body("r1", "etl"))
    pod = running(scene)
    condition = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists",
    }
    lose(scene, pod, {"phase": "Failed", "conditions": [condition]})
    scene.reconcile("r1")
    task = scene.status("r1")["tasks"]["a"]
    assert task["tryNumber"] == 2
    assert scene.pod_of("a") != pod
    [first] = [t for t in scene.store.task_tries(NS, "r1") if t.try_number == 1]
    assert first.reason == "PodLost"
    assert first.message is not None
    assert "node-7" in first.message
    assert pod in first.message


def test_a_pod_evicted_between_passes_is_evicted(tmp_path: Path) -> None:
    scene = Scene(tmp_path, RETRIED, run_body("r1", "etl"))
    pod = running(scene)
    condition = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    }
    lose(scene, pod, {"phase": "Running", "conditions": [condition]})
    scene.reconcile("r1")
    assert scene.status("r1")["tasks"]["a"]["tryNumber"] == 2
    [first] = [t for t in scene.store.task_tries(NS, "r1") if t.try_number == 1]
    assert first.reason == "Evicted"
    assert (
        first.message
        == f"pod {pod} on node node-7 was evicted (Eviction API): Eviction API: evicting"
    )


def test_a_pod_that_succeeded_then_went_away_is_a_success(tmp_path: Path) -> None:
    scene = Scene(tmp_path, RETRIED, run_body("r1", "etl"))
    pod = running(scene)
    done = {"terminated": {"exitCode": 0, "finishedAt": "2026-11-24T00:00:02Z"}}
    lose(scene, pod, {"phase": "Succeeded", "containerStatuses": [{"name": "task", "state": done}]})
    scene.reconcile("r1")
    task = scene.status("r1")["tasks"]["a"]
    assert (task["state"], task["tryNumber"]) == ("Succeeded", 1)
