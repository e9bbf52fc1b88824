"""A local cluster whose processes were killed comes back with `hack/cluster.sh up`.

This is what a machine's reboot or a killed session leaves behind: the cluster's
state on disk, no processes. kwok v0.8.0 cannot take over the node Lease its killed
predecessor held, and leader-elected components wait out their old Leases, so a
plain restart leaves pods Pending; hack/cluster.sh works around both. The test runs
on a second, small cluster of its own (simulated node only: AIRKUBE_REAL_NODE=0), so the
one the other tests use is untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from .cluster import HACK, hack_var
from .test_cluster_smoke import pod, until_terminal
from .waiting import wait_for_default_service_account, watch_pod

NAME = "airkube-restart-test"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("AIRKUBE_TEST_KUBECONFIG")),
    reason="needs the local kwok cluster tooling, not an external cluster",
)


def cluster_sh(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRKUBE_CLUSTER_NAME": NAME, "AIRKUBE_REAL_NODE": "0"}
    proc = subprocess.run(
        [HACK / "cluster.sh", *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, f"cluster.sh {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def kill_processes() -> None:
    """SIGKILL every process of the cluster, as a reboot would, and wait until they are gone.

    Gone means reaped, not only dead: kwokctl takes a pid that still answers signal 0
    (a zombie does) for a running component and would not start it again.
    """
    pid_dir = Path(hack_var("AIRKUBE_CACHE")) / "kwok" / "clusters" / NAME / "pids"
    pids = [int(p.read_text()) for p in pid_dir.glob("*.pid")]
    assert len(pids) == 5, f"expected the 5 components' pid files in {pid_dir}, found {pids}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    for pid in pids:
        while alive(pid):
            assert time.monotonic() < deadline, f"pid {pid} of {NAME} still there after SIGKILL"
            time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def second_cluster() -> Iterator[client.CoreV1Api]:
    cluster_sh("up", "--fresh", "--no-switch")
    try:
        yield client.CoreV1Api(config.new_client_from_config(context=f"kwok-{NAME}"))
    finally:
        cluster_sh("down")


def run_pod(core: client.CoreV1Api, namespace: str, name: str) -> str:
    core.create_namespaced_pod(namespace, pod(name, {"sim.airkube.io/duration": "200ms"}))
    events = watch_pod(core, namespace, name, until_terminal, timeout=30)
    last = events[-1][1] if events else core.read_namespaced_pod(name, namespace)
    return str(last.status.phase)


def test_killed_cluster_restarts_and_runs_new_pods_at_once(
    second_cluster: client.CoreV1Api,
) -> None:
    core = second_cluster
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="before")))
    wait_for_default_service_account(core, "before")
    assert run_pod(core, "before", "first") == "Succeeded"

    kill_processes()
    started = time.monotonic()
    out = cluster_sh("up", "--no-switch").stdout
    assert "restarting it" in out, out

    core = client.CoreV1Api(config.new_client_from_config(context=f"kwok-{NAME}"))
    assert core.read_namespaced_pod("first", "before").status.phase == "Succeeded"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="after")))
    wait_for_default_service_account(core, "after")
    assert run_pod(core, "after", "second") == "Succeeded"
    # Before the workaround the pod stayed Pending for good; 30 s is far beyond a healthy restart.
    assert time.monotonic() - started < 30


def test_status_tells_a_cluster_made_from_older_configs(second_cluster: client.CoreV1Api) -> None:
    assert "is up" in cluster_sh("status").stdout
    stamp = Path(hack_var("AIRKUBE_CACHE")) / "kwok" / "clusters" / NAME / "airkube-fingerprint"
    stamp.write_text("0000000000000000\n")  # as if hack/kwok/ had changed since
    env = {**os.environ, "AIRKUBE_CLUSTER_NAME": NAME, "AIRKUBE_REAL_NODE": "0"}
    proc = subprocess.run(
        [HACK / "cluster.sh", "status"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 1
    assert "made from older hack/kwok configs" in proc.stderr
