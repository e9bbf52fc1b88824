"""The Helm chart on a real cluster: it installs, the operator pod runs under the
restricted Pod Security Standard, its RBAC grants what the operator needs (and no more),
and uninstalling removes the cluster-scoped objects.

KWOK only simulates the pod, so the operator's own code does not run here.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cluster import ROOT, Cluster
from .conftest import Helm
from .operator_process import OperatorProcess, others_stopped
from .resources import SIMULATED, TERMINAL, apply_dag, create_run, sim, state, task, tasks
from .waiting import watch_run

CHART = ROOT / "charts" / "airkube"


@pytest.fixture
def release(helm: Helm, namespace: str) -> Iterator[str]:
    """A unique release name in the test's namespace, uninstalled afterwards if still there."""
    name = f"ak-{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        helm("uninstall", name, "--namespace", namespace, "--ignore-not-found", "--wait")


@pytest.fixture
def other_namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"e2e-watched-{secrets.token_hex(3)}"
    meta = client.V1ObjectMeta(name=name, annotations=SIMULATED)
    core.create_namespace(client.V1Namespace(metadata=meta))
    try:
        yield name
    finally:
        core.delete_namespace(name)


def install(helm: Helm, release: str, namespace: str, values: dict[str, str] | None = None) -> None:
    sets = [arg for key, value in (values or {}).items() for arg in ("--set", f"{key}={value}")]
    helm("install", release, str(CHART), "-n", namespace, "--wait", "--timeout", "60s", *sets)


def restrict(core: client.CoreV1Api, namespace: str) -> None:
    """Enforce the restricted Pod Security Standard: a non-hardened pod is refused."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    core.patch_namespace(namespace, {"metadata": {"labels": labels}})


def can(cluster: Cluster, sa: str, verb: str, resource: str, *flags: str) -> bool:
    proc = cluster.kubectl("auth", "can-i", verb, resource, f"--as={sa}", *flags, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i: {proc.stdout}{proc.stderr}"
    return answer == "yes"


def assert_operator_pod_running(core: client.CoreV1Api, namespace: str, release: str) -> None:
    pods = core.list_namespaced_pod(
        namespace, label_selector=f"app.kubernetes.io/instance={release}"
    ).items
    assert [p.status.phase for p in pods] == ["Running"], [p.metadata.name for p in pods]
    assert pods[0].spec.containers[0].security_context.read_only_root_filesystem is True


def gone(read: Callable[[str], object], name: str) -> bool:
    try:
        read(name)
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


def prebound_volume(namespace: str, claim: str) -> client.V1PersistentVolume:
    """A volume bound to the chart's claim: the local cluster has no storage provisioner."""
    return client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=f"{namespace}-data"),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "1Gi"},
            access_modes=["ReadWriteOnce"],
            storage_class_name="",
            host_path=client.V1HostPathVolumeSource(path=f"/tmp/airkube-e2e/{namespace}"),
            claim_ref=client.V1ObjectReference(namespace=namespace, name=claim),
            persistent_volume_reclaim_policy="Retain",
        ),
    )


@pytest.fixture
def volumes(core: client.CoreV1Api) -> Iterator[list[str]]:
    created: list[str] = []
    try:
        yield created
    finally:
        for name in created:
            core.delete_persistent_volume(name)


def test_default_install_runs_the_operator_with_cluster_wide_rbac_and_uninstalls(
    cluster: Cluster,
    api: client.ApiClient,
    core: client.CoreV1Api,
    helm: Helm,
    namespace: str,
    release: str,
    volumes: list[str],
) -> None:
    fullname = f"{release}-airkube"
    restrict(core, namespace)
    pv = core.create_persistent_volume(prebound_volume(namespace, f"{fullname}-data"))
    volumes.append(pv.metadata.name)

    install(helm, release, namespace)

    assert_operator_pod_running(core, namespace, release)
    assert core.read_namespaced_service_account(fullname, namespace)
    sa = f"system:serviceaccount:{namespace}:{fullname}"
    assert can(cluster, sa, "create", "pods", "-n", "default")
    assert can(cluster, sa, "patch", "dagruns.airkube.io", "--subresource=status", "-n", "default")
    assert can(cluster, sa, "watch", "dags.airkube.io", "--all-namespaces")
    assert can(cluster, sa, "watch", "namespaces")
    assert not can(cluster, sa, "update", "leases.coordination.k8s.io", "-n", namespace)
    assert not can(cluster, sa, "get", "secrets", "-n", namespace)
    assert not can(cluster, sa, "get", "secrets", "-n", "default")

    rbac = client.RbacAuthorizationV1Api(api)
    cluster_name = f"{namespace}-{fullname}"
    assert not gone(rbac.read_cluster_role, cluster_name)
    helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "60s")
    assert gone(rbac.read_cluster_role, cluster_name)
    assert gone(rbac.read_cluster_role_binding, cluster_name)
    assert not can(cluster, sa, "create", "pods", "-n", "default")
    # The run history outlives the release.
    assert core.read_namespaced_persistent_volume_claim(f"{fullname}-data", namespace)


def test_watch_namespaces_install_grants_access_only_there(
    cluster: Cluster,
    api: client.ApiClient,
    core: client.CoreV1Api,
    helm: Helm,
    namespace: str,
    other_namespace: str,
    release: str,
) -> None:
    fullname = f"{release}-airkube"
    restrict(core, namespace)
    url = "postgresql://airkube:s3cret@postgres.invalid:5432/airkube"
    values = {
        "database.type": "postgresql",
        "database.postgresql.url": url,
        "watchNamespaces": f"{{{other_namespace}}}",
    }
    install(helm, release, namespace, values)

    assert_operator_pod_running(core, namespace, release)
    assert core.read_namespaced_secret(f"{fullname}-db", namespace).data["url"]
    sa = f"system:serviceaccount:{namespace}:{fullname}"
    assert can(cluster, sa, "create", "pods", "-n", other_namespace)
    assert can(
        cluster, sa, "patch", "dagruns.airkube.io", "--subresource=status", "-n", other_namespace
    )
    assert not can(cluster, sa, "create", "pods", "-n", "default")
    assert not can(cluster, sa, "list", "dags.airkube.io", "--all-namespaces")
    assert not can(cluster, sa, "get", "secrets", "-n", other_namespace)
    assert can(cluster, sa, "watch", "namespaces")

    rbac = client.RbacAuthorizationV1Api(api)
    role_name = f"{namespace}-{fullname}"
    helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "60s")
    assert gone(lambda n: rbac.read_namespaced_role(n, other_namespace), role_name)
    assert gone(rbac.read_cluster_role, role_name)


DOCUMENTED_VALUES = {
    "defaults (SQLite on a claim, cluster-wide)": {},
    "SQLite without a claim": {"database.sqlite.persistence.enabled": "false"},
    "some namespaces only": {"watchNamespaces": "{NAMESPACE,OTHER}"},
    "PostgreSQL URL": {
        "database.type": "postgresql",
        "database.postgresql.url": "postgresql://airkube:pw@postgres.invalid:5432/airkube",
    },
    "PostgreSQL Secret, two replicas peering": {
        "database.type": "postgresql",
        "database.postgresql.existingSecret": "airkube-db",
        "replicaCount": "2",
    },
}


@pytest.mark.parametrize("values", DOCUMENTED_VALUES.values(), ids=list(DOCUMENTED_VALUES))
def test_each_documented_values_combination_passes_server_side_dry_run(
    cluster: Cluster,
    crds: None,
    helm: Helm,
    namespace: str,
    other_namespace: str,
    values: dict[str, str],
) -> None:
    """What `helm template` renders for each combination the chart README documents, as the
    API server would admit it (the watched namespaces must exist: the test's two)."""
    sets = [
        arg
        for key, value in values.items()
        for arg in (
            "--set",
            f"{key}={value.replace('NAMESPACE', namespace).replace('OTHER', other_namespace)}",
        )
    ]
    manifests = helm("template", "ak", str(CHART), "-n", namespace, *sets).stdout
    cmd = [cluster.kubectl_bin, *cluster.kubectl_flags(), "apply", "--dry-run=server"]
    proc = subprocess.run([*cmd, "-f", "-"], input=manifests, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kinds = {line.split("/")[0] for line in proc.stdout.splitlines()}
    assert "deployment.apps" in kinds, proc.stdout


def finished(run: dict[str, object]) -> bool:
    return state(run) in TERMINAL


def service_account_kubeconfig(cluster: Cluster, namespace: str, sa: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount (a token it is issued)."""
    raw = cluster.kubectl("config", "view", "--raw", "--minify", "--flatten").stdout
    path.write_text(raw)
    token = cluster.kubectl("create", "token", sa, "-n", namespace, "--duration", "1h").stdout
    config = ["--kubeconfig", str(path)]
    user = f"{sa}-token"
    cluster.kubectl(*config, "config", "set-credentials", user, f"--token={token.strip()}")
    cluster.kubectl(*config, "config", "set-context", "--current", f"--user={user}")
    return path


@pytest.mark.parametrize("mode", ["cluster-wide", "namespaced"])
def test_the_operator_with_only_the_charts_rbac_runs_a_dag_to_success(
    cluster: Cluster,
    crds: None,
    custom: client.CustomObjectsApi,
    helm: Helm,
    namespace: str,
    other_namespace: str,
    release: str,
    tmp_path: Path,
    mode: str,
) -> None:
    """Outside the cluster (kwok runs no container), authenticated as the chart's
    ServiceAccount: what the chart grants is enough to run a DAG."""
    values = {"replicaCount": "0", "database.sqlite.persistence.enabled": "false"}
    args: list[str] = []
    if mode == "namespaced":
        values["watchNamespaces"] = f"{{{other_namespace}}}"
        args = ["--namespace", other_namespace]
    install(helm, release, namespace, values)
    kubeconfig = service_account_kubeconfig(
        cluster, namespace, f"{release}-airkube", tmp_path / "kubeconfig"
    )
    as_chart = Cluster(str(kubeconfig), None, cluster.kubectl_bin, started_here=False)
    operator = OperatorProcess(
        as_chart, f"sqlite:///{tmp_path / 'airkube.db'}", tmp_path / "operator.log", args
    )
    apply_dag(
        custom,
        other_namespace,
        "chart-rbac",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[task("a", podTemplate=sim(output="from a")), task("b", "a")],
    )
    create_run(custom, other_namespace, "chart-rbac-1", "chart-rbac")
    with others_stopped():
        operator.start()
        try:
            run = watch_run(custom, other_namespace, "chart-rbac-1", finished, timeout=60)
        finally:
            operator.stop()
    assert state(run) == "Succeeded", run.get("status")
    assert tasks(run)["a"]["output"] == "from a"
    log = operator.log_path.read_text()
    assert "forbidden" not in log.lower(), operator.tail()
