"""`kubectl airkube mark` on a real API server (simulated node): a failed task marked
success lets its downstream tasks run; a running task marked failed has its pod stopped;
the history records the marked tries."""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client

from .cli import airkube
from .cluster import Cluster
from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, events_of, sim, state, task, tasks
from .waiting import watch_run


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def task_states(run: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {name: (t["state"], t["tryNumber"]) for name, t in tasks(run).items()}


def trigger(cluster: Cluster, namespace: str, dag: str) -> str:
    created = json.loads(airkube(cluster, namespace, "trigger", dag, "-o", "json").stdout)
    return str(created["metadata"]["name"])


def test_a_failed_task_marked_success_lets_its_downstream_tasks_run(
    operator: OperatorProcess,
    cluster: Cluster,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "flow",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[
            task("extract"),
            task("check", "extract", podTemplate=sim(duration="200ms", exit_code="3")),
            task("load", "check"),
            task("report", "load"),
        ],
    )
    name = trigger(cluster, namespace, "flow")
    run = watch_run(custom, namespace, name, finished)
    assert state(run) == "Failed"
    assert task_states(run) == {
        "extract": ("Succeeded", 1),
        "check": ("Failed", 1),
        "load": ("UpstreamFailed", 0),
        "report": ("UpstreamFailed", 0),
    }

    dry = airkube(
        cluster, namespace, "mark", name, "--task", "check", "--state", "success", "--dry-run"
    )
    assert dry.stdout.strip() == (
        f"would mark in {name}: Succeeded: check; cleared downstream: load, report"
    )
    assert (
        "mark"
        not in custom.get_namespaced_custom_object(
            "airkube.io", "v1alpha1", namespace, "dagruns", name
        )["spec"]
    )
    airkube(cluster, namespace, "mark", name, "--task", "check", "--state", "success")
    run = watch_run(
        custom,
        namespace,
        name,
        lambda r: finished(r) and tasks(r)["report"]["state"] == "Succeeded",
    )
    assert state(run) == "Succeeded"
    assert task_states(run) == {
        "extract": ("Succeeded", 1),
        "check": ("Succeeded", 1),
        "load": ("Succeeded", 1),
        "report": ("Succeeded", 1),
    }
    check = tasks(run)["check"]
    assert (check["reason"], check["exitCode"]) == ("MarkedSuccess", 3)
    assert check["message"].startswith("marked Succeeded by hand (it was Failed")
    assert run["status"]["lastMarkId"] == run["spec"]["mark"]["id"]
    assert run["status"]["clearNumber"] == 1
    marked = [e.note for e in events_of(api, namespace, name, {"Marked"}) if e.reason == "Marked"]
    assert marked == ["marked by hand: Succeeded: check; cleared downstream: load, report"]

    # The history follows the status: the try that failed is recorded as marked.
    stored, rows = recorded(custom, operator.db_url, namespace, name)
    assert stored is not None
    assert (stored.state, stored.clear_number) == ("Succeeded", 1)
    by_try = {(t.task_name, t.try_number): t for t in rows}
    assert (by_try["check", 1].state, by_try["check", 1].reason) == ("Succeeded", "MarkedSuccess")
    assert by_try["load", 1].state == "Succeeded"

    # Bad input: one line, nothing written.
    unknown = airkube(
        cluster, namespace, "mark", name, "--task", "nope", "--state", "failed", check=False
    )
    assert unknown.returncode == 1
    assert 'the run has no task "nope" to mark' in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_running_task_marked_failed_has_its_pod_stopped(
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "slow",
        tasks=[
            task("wait", retries=2, podTemplate=sim(duration="1h")),
            task("after", "wait", podTemplate=sim(duration="200ms")),
            task("cleanup", "wait", triggerRule="all_done", podTemplate=sim(duration="200ms")),
        ],
    )
    name = trigger(cluster, namespace, "slow")
    run = watch_run(
        custom, namespace, name, lambda r: tasks(r).get("wait", {}).get("state") == "Running"
    )
    pod = tasks(run)["wait"]["podName"]
    airkube(cluster, namespace, "mark", name, "--task", "wait", "--state", "failed")
    run = watch_run(custom, namespace, name, finished)
    assert state(run) == "Failed"
    assert task_states(run) == {
        "wait": ("Failed", 1),  # no retry: a state set by hand is final
        "after": ("UpstreamFailed", 0),
        "cleanup": ("Succeeded", 1),  # all_done: it ran
    }
    wait = tasks(run)["wait"]
    assert wait["reason"] == "MarkedFailed"
    assert wait["message"] == (f"marked Failed by hand (it was Running); its pod {pod} was deleted")
    deadline = time.monotonic() + 30
    while True:  # the simulated node ends a deleted pod at once
        left = [
            p.metadata.name
            for p in core.list_namespaced_pod(namespace).items
            if p.metadata.name == pod
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"pod {pod} was not deleted"
    stored, rows = recorded(custom, operator.db_url, namespace, name)
    assert stored is not None
    assert stored.state == "Failed"
    assert [
        (t.task_name, t.try_number, t.state, t.reason) for t in rows if t.task_name == "wait"
    ] == [("wait", 1, "Failed", "MarkedFailed")]
