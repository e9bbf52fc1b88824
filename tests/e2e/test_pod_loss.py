"""Pods that end under a running try: lost with their node, or evicted. The try fails with
the reason that says so (PodLost naming the node, Evicted), in the status and in the
metadata database, and the retry runs.

Every try of a task has the same podTemplate, so the simulated duration (hack/kwok
stages) is the same for all; the tests make try 1 a long one by setting its pod's
``sim.airkube.io/duration`` while it is still Pending (the template's ``start-delay``
leaves the time): the retry then runs the template's short duration and succeeds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, sim, state, task, tasks
from .waiting import watch_run, watch_until

# kube-controller-manager's pod GC deletes the pods of a deleted node after a quarantine
# of 40 s, checked every 20 s (both constants of kube-controller-manager, not flags).
POD_GC_WAIT = 120
START_DELAY = "3s"
"""Time for the test to stretch try 1 before its pod starts."""
LONG = "1h"


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def work(run: dict[str, Any]) -> dict[str, Any]:
    return tasks(run).get("work") or {}


def stretch_first_try(core: client.CoreV1Api, namespace: str, timeout: float = 30) -> str:
    """Wait for the pod of try 1 of task "work" and make it run LONG; its name."""
    selector = "airkube.io/task=work,airkube.io/try=1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = core.list_namespaced_pod(namespace, label_selector=selector)
        if listed.items:
            name: str = listed.items[0].metadata.name
            break
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_pod,
            namespace,
            label_selector=selector,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=max(1, int(deadline - time.monotonic())),
        ):
            if event["type"] == "ADDED":
                w.stop()
                break
    else:
        raise TimeoutError(f"no pod for try 1 of task work in {namespace} in {timeout}s")
    pod = core.read_namespaced_pod(name, namespace)
    assert pod.status.phase == "Pending", f"{name} started before it was stretched"
    annotations = {"sim.airkube.io/duration": LONG}
    core.patch_namespaced_pod(name, namespace, {"metadata": {"annotations": annotations}})
    return name


def wait_running(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    events = watch_until(
        core.list_namespaced_pod,
        (namespace,),
        name,
        lambda _, p: p is not None and p.status.phase == "Running",
        30,
        f"pod {namespace}/{name} Running",
    )
    return events[-1][1] if events else core.read_namespaced_pod(name, namespace)


@pytest.fixture
def lost_node(core: client.CoreV1Api) -> Iterator[str]:
    """A second simulated node, Ready, that only pods tolerating its own taint go to."""
    name = f"kwok-lost-{secrets.token_hex(3)}"
    resources = {"cpu": "1000", "memory": "1Ti", "pods": "1000"}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            # kwok manages the nodes so annotated (hack/kwok/kwokctl.yaml).
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            # type=kwok: the test namespaces' node selector (resources.SIMULATED).
            "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
        },
        "spec": {"taints": [{"key": "airkube.io/pod-loss", "value": name, "effect": "NoSchedule"}]},
        "status": {"allocatable": resources, "capacity": resources},
    }
    core.create_node(node)
    try:
        watch_until(
            core.list_node,
            (),
            name,
            lambda _, n: (
                n is not None
                and any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
                # The node lifecycle controller taints a new node not-ready until it has
                # seen it Ready: a pod scheduled before then goes elsewhere.
                and [t.key for t in n.spec.taints or []] == ["airkube.io/pod-loss"]
            ),
            30,
            f"node {name} Ready and untainted but for its own taint",
        )
        yield name
    finally:
        try:
            core.delete_node(name)
        except ApiException as e:
            if e.status != 404:
                raise


def test_a_node_deleted_under_a_running_pod_loses_the_try_and_the_retry_runs(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    lost_node: str,
) -> None:
    template = sim(duration="2s", start_delay=START_DELAY)
    template["spec"] = {
        "tolerations": [{"key": "airkube.io/pod-loss", "operator": "Exists"}],
        # Preferred, not required: try 1 goes to the node, the retry wherever it can.
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "preference": {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [lost_node],
                                }
                            ]
                        },
                    }
                ]
            }
        },
    }
    apply_dag(
        custom,
        namespace,
        "lost",
        tasks=[task("work", retries=1, retryDelay="3s", podTemplate=template)],
    )
    create_run(custom, namespace, "lost-1", "lost")
    first = stretch_first_try(core, namespace)
    pod = wait_running(core, namespace, first)
    assert pod.spec.node_name == lost_node, f"try 1 went to {pod.spec.node_name}"
    started = time.monotonic()
    core.delete_node(lost_node)

    failed = watch_run(
        custom,
        namespace,
        "lost-1",
        lambda r: work(r).get("state") in ("UpForRetry", "Failed") or finished(r),
        timeout=POD_GC_WAIT,
    )
    lost_after = time.monotonic() - started
    status = work(failed)
    assert (status.get("state"), status.get("tryNumber")) == ("UpForRetry", 1), failed["status"]
    assert status["reason"] == "PodLost", status
    assert lost_node in status["message"], status
    assert first in status["message"], status

    run = watch_run(custom, namespace, "lost-1", finished, timeout=30)
    assert state(run) == "Succeeded", run["status"]
    assert work(run)["tryNumber"] == 2
    assert work(run)["podName"] != first
    tries = {t.try_number: t for t in recorded(custom, operator.db_url, namespace, "lost-1")[1]}
    assert tries[1].reason == "PodLost", tries[1]
    assert tries[1].message is not None
    assert lost_node in tries[1].message, tries[1]
    assert tries[2].state == "Succeeded", tries[2]
    print(f"the pod GC deleted the lost node's pod {lost_after:.0f}s after the node")


def test_an_evicted_pod_fails_its_try_as_evicted_and_the_retry_runs(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "evicted",
        tasks=[
            task(
                "work",
                retries=1,
                retryDelay="3s",
                podTemplate=sim(duration="2s", start_delay=START_DELAY),
            )
        ],
    )
    create_run(custom, namespace, "evicted-1", "evicted")
    first = stretch_first_try(core, namespace)
    pod = wait_running(core, namespace, first)
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=first, namespace=namespace))
    core.create_namespaced_pod_eviction(first, namespace, eviction)

    failed = watch_run(
        custom,
        namespace,
        "evicted-1",
        lambda r: work(r).get("state") in ("UpForRetry", "Failed") or finished(r),
        timeout=30,
    )
    status = work(failed)
    assert (status.get("state"), status.get("tryNumber")) == ("UpForRetry", 1), failed["status"]
    assert status["reason"] == "Evicted", status
    assert status["message"] == (
        f"pod {first} on node {pod.spec.node_name} was evicted (Eviction API): "
        "Eviction API: evicting"
    ), status

    run = watch_run(custom, namespace, "evicted-1", finished, timeout=30)
    assert state(run) == "Succeeded", run["status"]
    assert work(run)["tryNumber"] == 2
    tries = {t.try_number: t for t in recorded(custom, operator.db_url, namespace, "evicted-1")[1]}
    assert tries[1].reason == "Evicted", tries[1]
    assert tries[1].message == status["message"]
