"""The real node leaves the host as it found it: stopped with containers running and
started again, no container, cgroup, mount, network namespace, link or firewall rule of
it remains, and the kernel settings kubelet sets never reach the host."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from kubernetes import client

from .cluster import HACK, Cluster, node_var
from .host_state import HostState, hierarchies, host_state, sysctls
from .waiting import watch_pod

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("AIRKUBE_TEST_KUBECONFIG")) or os.geteuid() != 0,
    reason="needs the local cluster's real node (root)",
)


def node_sh(cluster: Cluster, *args: str) -> str:
    assert cluster.local_name, "needs the local cluster"
    env = {**os.environ, "AIRKUBE_CLUSTER_NAME": cluster.local_name}
    proc = subprocess.run(
        [str(HACK / "node.sh"), *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, f"node.sh {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture
def cycled_node(cluster: Cluster) -> Iterator[str]:
    """The node's cgroup name; the node is started again afterwards, whatever happened."""
    assert cluster.local_name
    try:
        yield node_var(cluster.local_name, "NODE_CGROUP")
    finally:
        node_sh(cluster, "up")


def pod(name: str, *command: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            restart_policy="Never",
            termination_grace_period_seconds=1,
            containers=[client.V1Container(name="c", image="busybox:1.36", command=list(command))],
        ),
    )


def phase_is(*phases: str):  # type: ignore[no-untyped-def]
    return lambda _type, p: p is not None and p.status.phase in phases


def test_stopping_the_node_with_containers_running_leaves_the_host_as_it_was(
    cluster: Cluster,
    core: client.CoreV1Api,
    real_namespace: str,
    host_sysctls_at_start: dict[str, str],
    cycled_node: str,
) -> None:
    namespace = real_namespace
    node_sh(cluster, "down")
    before: HostState = host_state(cycled_node)
    assert before.cgroups == ()
    assert before.node_processes == ()
    assert dict(before.sysctls) == host_sysctls_at_start

    node_sh(cluster, "up")
    core.create_namespaced_pod(namespace, pod("done", "sh", "-c", "echo done"))
    core.create_namespaced_pod(namespace, pod("busy", "sleep", "600"))
    watch_pod(core, namespace, "done", phase_is("Succeeded"), timeout=60)
    watch_pod(core, namespace, "busy", phase_is("Running"), timeout=60)

    # kubelet set its kernel settings, in the node's mount namespace only.
    inside = {
        key: node_sh(cluster, "exec", "cat", f"/proc/sys/{key}").strip()
        for key in ("kernel/panic", "vm/overcommit_memory")
    }
    assert inside == {"kernel/panic": "10", "vm/overcommit_memory": "1"}, inside
    assert sysctls() == host_sysctls_at_start
    running = host_state(cycled_node)
    assert running.node_processes, "the node's processes are in its cgroup"
    # In every hierarchy, the cgroup v2 one of a hybrid host included (the containers'
    # cgroups are made there too): what `down` must remove.
    assert len(running.cgroups) == len(hierarchies()), running.cgroups
    assert running.mounts == before.mounts, "no mount of the node is visible on the host"

    node_sh(cluster, "down")
    after = host_state(cycled_node)
    assert after == before
