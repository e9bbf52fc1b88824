"""Smoke tests of the local cluster: node, scheduler, the kwok Stages, GC, pinned tools."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kubernetes import client

from .cluster import Cluster, hack_var
from .waiting import phases, watch_pod

TERMINAL = ("Succeeded", "Failed")


def pod(name: str, annotations: dict[str, str] | None = None, **spec: object) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations or {}),
        spec=client.V1PodSpec(
            restart_policy=spec.pop("restart_policy", "Never"),
            containers=[client.V1Container(name="main", image="busybox", command=["true"])],
            **spec,
        ),
    )


def until_terminal(_: str, p: client.V1Pod | None) -> bool:
    return p is not None and p.status is not None and p.status.phase in TERMINAL


def terminated(p: client.V1Pod) -> client.V1ContainerStateTerminated:
    (status,) = p.status.container_statuses
    assert status.state.terminated is not None, status.state
    return status.state.terminated


def test_kubectl_get_nodes_shows_a_ready_node(cluster: Cluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    ready = {
        n["metadata"]["name"]: c["status"]
        for n in nodes
        for c in n["status"].get("conditions", [])
        if c["type"] == "Ready"
    }
    assert "True" in ready.values(), ready


def test_plain_pod_is_scheduled_runs_and_succeeds(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("plain", {"sim.airkube.io/duration": "1s"}))
    events = watch_pod(core, namespace, "plain", until_terminal)
    final = events[-1][1]
    assert final.spec.node_name, "kube-scheduler did not bind the pod"
    scheduled = {c.type: c.status for c in final.status.conditions}
    assert scheduled.get("PodScheduled") == "True"
    assert phases(events)[-2:] == ["Running", "Succeeded"]
    assert terminated(final).exit_code == 0
    binding = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=plain,reason=Scheduled"
    ).items
    assert binding, "no Scheduled event from kube-scheduler"


def test_pod_annotated_to_fail_ends_failed_with_exit_code_and_message(
    core: client.CoreV1Api, namespace: str
) -> None:
    annotations = {
        "sim.airkube.io/exit-code": "3",
        "sim.airkube.io/reason": "OOMKilled",
        "sim.airkube.io/message": "ran out of memory loading the partition",
    }
    core.create_namespaced_pod(namespace, pod("failing", annotations))
    final = watch_pod(core, namespace, "failing", until_terminal)[-1][1]
    assert final.status.phase == "Failed"
    state = terminated(final)
    assert state.exit_code == 3
    assert state.reason == "OOMKilled"
    assert state.message == "ran out of memory loading the partition"


def test_pod_annotated_with_output_succeeds_with_that_termination_message(
    core: client.CoreV1Api, namespace: str
) -> None:
    output = '{"rows": 42, "path": "s3://bucket/2026-11-24"}'
    core.create_namespaced_pod(namespace, pod("producer", {"sim.airkube.io/output": output}))
    final = watch_pod(core, namespace, "producer", until_terminal)[-1][1]
    assert final.status.phase == "Succeeded"
    assert terminated(final).message == output


def test_pod_with_deleted_owner_is_garbage_collected(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    dependent = pod("dependent", restart_policy="Always")
    dependent.metadata.owner_references = [
        client.V1OwnerReference(
            api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
        )
    ]
    core.create_namespaced_pod(namespace, dependent)
    watch_pod(
        core, namespace, "dependent", lambda _, p: p is not None and p.status.phase == "Running"
    )
    core.delete_namespaced_config_map("owner", namespace)
    watch_pod(core, namespace, "dependent", lambda t, p: t == "DELETED" or p is None)
    assert not core.list_namespaced_pod(namespace, field_selector="metadata.name=dependent").items


def test_pinned_helm_and_kubectl_run_from_the_cache(cluster: Cluster) -> None:
    path_dir = Path(hack_var("AIRKUBE_PATH_DIR"))
    helm = path_dir / "helm"
    assert helm.resolve().parent == Path(hack_var("AIRKUBE_BIN"))
    out = subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(hack_var("HELM_VERSION")), out.stdout

    kube_version = hack_var("KUBE_VERSION")
    kubectl = path_dir / "kubectl"
    assert cluster.kubectl_bin == str(kubectl)
    versions = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == kube_version
    if cluster.context and cluster.context.startswith("kwok-"):
        assert versions["serverVersion"]["gitVersion"] == kube_version
