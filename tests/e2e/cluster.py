"""The cluster the e2e tests run against: the local kwok cluster, or an existing one.

``AIRKUBE_TEST_KUBECONFIG`` names a kubeconfig of an existing cluster (kind, say) to
use as it is. Otherwise a running local cluster is reused: the one ``make cluster-up``
starts (``AIRKUBE_CLUSTER_NAME``, default ``airkube``), else a kept test cluster. When
neither runs, the tests start a throwaway cluster of their own, ``airkube-e2e``, always
empty (``hack/cluster.sh up --fresh``: a stopped cluster restarted with its old objects
replays their backlog before it gets to the tests' pods), and delete it afterwards
unless ``AIRKUBE_KEEP_CLUSTER`` is set. The tests never touch a stopped cluster of the
user's, nor the kubeconfig's current context.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
HACK = ROOT / "hack"


def hack_var(name: str) -> str:
    """A variable of hack/versions.sh (the pinned versions and the cache paths)."""
    out = subprocess.run(
        ["bash", "-c", f'. "{HACK}/versions.sh"; printf %s "${name}"'],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def node_var(cluster_name: str, name: str) -> str:
    """A variable of hack/node-env.sh (the real node's names and addresses) of a cluster."""
    script = f'. "{HACK}/versions.sh"; NAME="$1"; . "{HACK}/node-env.sh"; printf %s "${name}"'
    out = subprocess.run(
        ["bash", "-c", script, "node-env", cluster_name], check=True, capture_output=True, text=True
    )
    return out.stdout


@dataclass
class Cluster:
    """How to reach the test cluster."""

    kubeconfig: str | None
    context: str | None
    kubectl_bin: str
    started_here: bool

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.kubectl_bin, *self.kubectl_flags(), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{shlex.join(cmd)} failed: {proc.stderr.strip()}")
        return proc

    def kubectl_flags(self) -> list[str]:
        flags = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--context", self.context]
        return flags

    @property
    def local_name(self) -> str | None:
        """The name of the local cluster (hack/cluster.sh), None for another cluster."""
        if self.kubeconfig is None and self.context and self.context.startswith("kwok-"):
            return self.context.removeprefix("kwok-")
        return None

    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=self.kubeconfig, context=self.context)


TEST_CLUSTER_NAME = "airkube-e2e"


def local_cluster_name() -> str:
    return os.environ.get("AIRKUBE_CLUSTER_NAME", "airkube")


def cluster_sh(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRKUBE_CLUSTER_NAME": name}
    return subprocess.run([HACK / "cluster.sh", *args], capture_output=True, text=True, env=env)


def pinned_kubectl() -> str:
    built = Path(hack_var("AIRKUBE_PATH_DIR")) / "kubectl"
    return str(built) if built.exists() else (shutil.which("kubectl") or "kubectl")


def bring_up() -> Cluster:
    """Connect to the configured cluster, starting the throwaway test cluster when needed."""
    external = os.environ.get("AIRKUBE_TEST_KUBECONFIG")
    if external:
        return Cluster(external, None, pinned_kubectl(), started_here=False)
    for name in dict.fromkeys([local_cluster_name(), TEST_CLUSTER_NAME]):
        if cluster_sh(name, "status").returncode == 0:
            return Cluster(None, f"kwok-{name}", pinned_kubectl(), started_here=False)
    proc = cluster_sh(TEST_CLUSTER_NAME, "up", "--fresh", "--no-switch")
    if proc.returncode != 0:
        raise RuntimeError(f"hack/cluster.sh up failed:\n{proc.stdout}{proc.stderr}")
    return Cluster(None, f"kwok-{TEST_CLUSTER_NAME}", pinned_kubectl(), started_here=True)


def tear_down(cluster: Cluster) -> None:
    if cluster.started_here and not os.environ.get("AIRKUBE_KEEP_CLUSTER"):
        cluster_sh(TEST_CLUSTER_NAME, "down")
