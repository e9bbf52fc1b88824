"""Pods that cannot start, on the local cluster's real node: a pod no node may take, a pod
whose image cannot be pulled and a pod whose Secret is missing each show why they wait (the
scheduler's and the kubelet's reason) in the run's status, an event and `kubectl airkube
get`, then fail their try after the task's pendingTimeout, and retry as any failed try."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from .cli import airkube
from .cluster import Cluster
from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, events_of, state, tasks
from .waiting import watch_run

TIMEOUT = "20s"


def waiting_with(reasons: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    def until(run: dict[str, Any]) -> bool:
        entry = tasks(run).get("stuck") or {}
        return entry.get("state") == "Queued" and entry.get("reason") in reasons

    return until


def get_row(cluster: Cluster, namespace: str, run: str, reasons: tuple[str, ...]) -> str:
    """The row of task "stuck" in `kubectl airkube get RUN`, once it names one of
    ``reasons`` (polled with a deadline: the kubelet alternates between its pull reasons)."""
    deadline = time.monotonic() + 30
    while True:
        text = airkube(cluster, namespace, "get", run).stdout
        row = next(line for line in text.splitlines() if line.startswith("stuck"))
        if any(reason in row for reason in reasons):
            return row
        assert time.monotonic() < deadline, text
        time.sleep(0.5)


def event_reasons(api: client.ApiClient, namespace: str, run: str, wanted: set[str]) -> None:
    """The run has events with each of the ``wanted`` reasons (polled with a deadline: the
    operator posts them after it writes the status)."""
    deadline = time.monotonic() + 30
    while True:
        seen = {e.reason for e in events_of(api, namespace, run)}
        if wanted <= seen:
            return
        assert time.monotonic() < deadline, (wanted, seen)
        time.sleep(0.5)


def no_pods_left(core: client.CoreV1Api, namespace: str, run: str, timeout: float = 60) -> None:
    """Every pod of ``run`` is gone or being deleted (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        pods = core.list_namespaced_pod(namespace, label_selector=f"airkube.io/run={run}").items
        if all(p.metadata.deletion_timestamp is not None for p in pods):
            return
        assert time.monotonic() < deadline, [(p.metadata.name, p.status.phase) for p in pods]
        time.sleep(0.5)


def check_waits_then_fails_twice(
    *,
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    api: client.ApiClient,
    namespace: str,
    run: str,
    stuck: dict[str, Any],
    reasons: tuple[str, ...],
) -> None:
    apply_dag(
        custom,
        namespace,
        "dag",
        tasks=[
            {
                "name": "stuck",
                "command": ["true"],
                "retries": 1,
                # Not 0s: a try that fails and is followed in the same pass is never
                # written to the database (the status knows the current try only).
                "retryDelay": "1s",
                "pendingTimeout": TIMEOUT,
                **stuck,
            }
        ],
    )
    create_run(custom, namespace, run, "dag")

    # While it waits: the reason in the status, the CLI and an event.
    waiting = watch_run(custom, namespace, run, waiting_with(reasons), timeout=60)
    entry = tasks(waiting)["stuck"]
    assert entry["tryNumber"] == 1, entry
    assert entry["message"].startswith(f"waiting for its pod: {entry['reason']}"), entry
    row = get_row(cluster, namespace, run, reasons)
    assert "Queued" in row, row
    assert "waiting for its pod" in row, row
    event_reasons(api, namespace, run, {"PodPending"})
    pending = [e for e in events_of(api, namespace, run) if e.reason == "PodPending"]
    assert any(r in (pending[0].note or "") for r in reasons), pending[0].note

    # Then: each try fails after pendingTimeout, the second one ends the run.
    done = watch_run(custom, namespace, run, lambda r: state(r) in TERMINAL, timeout=120)
    assert state(done) == "Failed", done["status"]
    entry = tasks(done)["stuck"]
    assert (entry["state"], entry["tryNumber"], entry["reason"]) == (
        "Failed",
        2,
        "PendingTimeout",
    ), entry
    assert f"did not start within its pendingTimeout ({TIMEOUT})" in entry["message"], entry
    assert any(r in entry["message"] for r in reasons), entry
    event_reasons(api, namespace, run, {"PodPending", "TaskRetrying", "TaskFailed", "RunFailed"})
    rows = sorted(
        (x for x in recorded(custom, operator.db_url, namespace, run)[1] if x.task_name == "stuck"),
        key=lambda x: x.try_number,
    )
    # The first try's row was last written when it failed and waited for its retry.
    assert [(x.try_number, x.state, x.reason) for x in rows] == [
        (1, "UpForRetry", "PendingTimeout"),
        (2, "Failed", "PendingTimeout"),
    ]
    assert "pendingTimeout" in (rows[0].message or ""), rows[0].message
    no_pods_left(core, namespace, run)


def test_an_unschedulable_pod_shows_why_then_fails_after_its_pending_timeout(
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    api: client.ApiClient,
    real_namespace: str,
) -> None:
    check_waits_then_fails_twice(
        operator=operator,
        cluster=cluster,
        core=core,
        custom=custom,
        api=api,
        namespace=real_namespace,
        run="nowhere-1",
        stuck={"podTemplate": {"spec": {"nodeSelector": {"airkube.io/no-such-node": "yes"}}}},
        reasons=("Unschedulable",),
    )


def test_a_pod_whose_image_cannot_be_pulled_shows_why_then_fails_after_its_pending_timeout(
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    api: client.ApiClient,
    real_namespace: str,
) -> None:
    check_waits_then_fails_twice(
        operator=operator,
        cluster=cluster,
        core=core,
        custom=custom,
        api=api,
        namespace=real_namespace,
        run="nopull-1",
        stuck={"image": "registry.invalid/nothing:1"},
        reasons=("ErrImagePull", "ImagePullBackOff"),
    )


def test_a_pod_whose_secret_is_missing_shows_why_then_fails_after_its_pending_timeout(
    operator: OperatorProcess,
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    api: client.ApiClient,
    real_namespace: str,
) -> None:
    secret = {"secretKeyRef": {"name": "no-such-secret", "key": "password"}}
    check_waits_then_fails_twice(
        operator=operator,
        cluster=cluster,
        core=core,
        custom=custom,
        api=api,
        namespace=real_namespace,
        run="nosecret-1",
        stuck={"env": [{"name": "PASSWORD", "valueFrom": secret}]},
        reasons=("CreateContainerConfigError",),
    )
