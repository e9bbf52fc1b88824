"""Tasks whose containers really run, on the local cluster's real node (hack/node.sh):
what a command prints, the code it exits with and what it writes to /dev/termination-log
reach the logs, the run's status and the metadata database; executionTimeout kills a
running container; a container over its memory limit is an OOMKilled try; retries start
new pods."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from .cli import airkube
from .cluster import Cluster
from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, state, task, tasks, when
from .waiting import settled_pods, watch_pod, watch_run


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def selector(run: str, task: str) -> str:
    return f"airkube.io/run={run},airkube.io/task={task}"


def by_try(pods: list[client.V1Pod]) -> list[client.V1Pod]:
    return sorted(pods, key=lambda p: int(p.metadata.labels["airkube.io/try"]))


def pods_of(core: client.CoreV1Api, namespace: str, run: str, task: str) -> list[client.V1Pod]:
    return by_try(core.list_namespaced_pod(namespace, label_selector=selector(run, task)).items)


def test_what_a_command_prints_exits_with_and_writes_reaches_logs_status_and_database(
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    apply_dag(
        custom,
        namespace,
        "talk",
        podGC={"strategy": "Never"},
        tasks=[
            task(
                "say",
                command=[
                    "sh",
                    "-c",
                    'echo "line one"; echo "line two from $AIRKUBE_TASK try $AIRKUBE_TRY"; '
                    "printf out-42 > /dev/termination-log",
                ],
            ),
            task(
                "fail",
                command=[
                    "sh",
                    "-c",
                    'echo "about to fail" >&2; printf "bad rows: 3" > /dev/termination-log; exit 3',
                ],
            ),
        ],
    )
    create_run(custom, namespace, "talk-1", "talk")
    run = watch_run(custom, namespace, "talk-1", finished, timeout=90)
    assert state(run) == "Failed", run["status"]
    got = tasks(run)
    assert (got["say"]["state"], got["say"]["exitCode"], got["say"]["output"]) == (
        "Succeeded",
        0,
        "out-42",
    )
    assert (got["fail"]["state"], got["fail"]["exitCode"]) == ("Failed", 3)
    assert "bad rows: 3" in got["fail"]["message"]

    # The pods ran on the real node, and their logs are the container's real output.
    (say,) = pods_of(core, namespace, "talk-1", "say")
    assert say.spec.node_name == "real-node-0"
    kubectl_log = cluster.kubectl("logs", "-n", namespace, say.metadata.name).stdout
    assert kubectl_log.splitlines() == ["line one", "line two from say try 1"]
    plugin_log = airkube(cluster, namespace, "logs", "talk-1", "say").stdout
    assert "line two from say try 1" in plugin_log.splitlines(), plugin_log
    fail_log = airkube(cluster, namespace, "logs", "talk-1", "fail").stdout
    assert "about to fail" in fail_log.splitlines(), fail_log

    rows = recorded(custom, operator.db_url, namespace, "talk-1")[1]
    stored = {(x.task_name, x.try_number): x for x in rows}
    say_row, fail_row = stored["say", 1], stored["fail", 1]
    assert (say_row.state, say_row.exit_code, say_row.output) == ("Succeeded", 0, "out-42")
    assert (fail_row.state, fail_row.exit_code) == ("Failed", 3)
    assert fail_row.message is not None
    assert "bad rows: 3" in fail_row.message


def test_execution_timeout_kills_a_really_sleeping_container(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    apply_dag(
        custom,
        namespace,
        "slow",
        podGC={"strategy": "Never"},
        tasks=[task("nap", command=["sleep", "600"], executionTimeout="3s")],
    )
    started = time.monotonic()
    create_run(custom, namespace, "slow-1", "slow")
    run = watch_run(custom, namespace, "slow-1", finished, timeout=90)
    assert time.monotonic() - started < 60
    assert state(run) == "Failed", run["status"]
    nap = tasks(run)["nap"]
    assert nap["state"] == "Failed"
    assert "timed out" in (nap.get("message") or "").lower() or nap.get("reason") in (
        "DeadlineExceeded",
        "Timeout",
        "TimedOut",
    ), nap
    # The container is stopped for real: the pod is deleted, and once the kubelet has
    # killed the sleep (SIGTERM, then SIGKILL after the grace period) it is gone.
    (pod,) = pods_of(core, namespace, "slow-1", "nap")
    assert pod.metadata.deletion_timestamp is not None or pod.status.phase == "Failed"
    watch_pod(core, namespace, pod.metadata.name, lambda t, p: p is None or t == "DELETED", 60)
    ran = when(nap["endTime"]) - when(nap["startTime"])
    assert ran.total_seconds() < 30, nap


def test_a_container_over_its_memory_limit_is_an_oomkilled_try_and_is_retried(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    apply_dag(
        custom,
        namespace,
        "hungry",
        podGC={"strategy": "Never"},
        tasks=[
            task(
                "eat",
                image="python:3.11-slim",
                command=["python3", "-c", "b = b'x' * (256 * 1024 * 1024); print(len(b))"],
                resources={"limits": {"memory": "48Mi"}, "requests": {"memory": "48Mi"}},
                retries=1,
                retryDelay="0s",
            )
        ],
    )
    create_run(custom, namespace, "hungry-1", "hungry")
    run = watch_run(custom, namespace, "hungry-1", finished, timeout=120)
    assert state(run) == "Failed", run["status"]
    eat = tasks(run)["eat"]
    assert (eat["state"], eat["tryNumber"], eat["exitCode"]) == ("Failed", 2, 137), eat
    assert "OOMKilled" in (eat.get("reason") or "") + (eat.get("message") or ""), eat
    pods = by_try(settled_pods(core, namespace, selector("hungry-1", "eat")))
    assert [p.metadata.labels["airkube.io/try"] for p in pods] == ["1", "2"]
    for pod in pods:
        (status,) = pod.status.container_statuses
        assert status.state.terminated.reason == "OOMKilled", status
    rows = [
        x
        for x in recorded(custom, operator.db_url, namespace, "hungry-1")[1]
        if x.task_name == "eat"
    ]
    last = max(rows, key=lambda x: x.try_number)
    assert (last.try_number, last.state, last.exit_code) == (2, "Failed", 137)
    assert "OOMKilled" in (last.reason or "") + (last.message or "")


def test_a_task_that_fails_its_first_try_succeeds_on_a_new_pod(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    apply_dag(
        custom,
        namespace,
        "flaky",
        podGC={"strategy": "Never"},
        tasks=[
            task(
                "fetch",
                command=["sh", "-c", 'echo "try $AIRKUBE_TRY"; [ "$AIRKUBE_TRY" -ge 2 ]'],
                retries=2,
                retryDelay="1s",
            )
        ],
    )
    create_run(custom, namespace, "flaky-1", "flaky")
    run = watch_run(custom, namespace, "flaky-1", finished, timeout=90)
    assert state(run) == "Succeeded", run["status"]
    assert tasks(run)["fetch"]["tryNumber"] == 2
    pods = by_try(settled_pods(core, namespace, selector("flaky-1", "fetch")))
    assert [p.status.phase for p in pods] == ["Failed", "Succeeded"]
    logs = [core.read_namespaced_pod_log(p.metadata.name, namespace).strip() for p in pods]
    assert logs == ["try 1", "try 2"]
