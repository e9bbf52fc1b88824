"""The chart's operator really running: `helm install` with the operator image built here
(hack/images.sh), its pod on the real node. With SQLite on a volume the test provides it
passes its liveness probe and runs a DAG, and the chart's web server (web.enabled) beside
it serves the run's history to `kubectl airkube history`/`tries` run here, through the
port-forward the CLI opens itself with a user's own token; with PostgreSQL and two
replicas one is active and the other stands by, and deleting the active pod mid-run still
ends every run with exactly one pod per try."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy import create_engine, make_url, text

from airkube.store.engine import parse_url
from postgres_server import postgres_server

from .cli import airkube
from .cluster import ROOT, Cluster, node_var
from .conftest import Helm
from .forward import forwarder
from .operator_process import others_stopped
from .resources import TERMINAL, apply_dag, create_run, state, task, tasks
from .waiting import watch_run

CHART = ROOT / "charts" / "airkube"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("AIRKUBE_TEST_KUBECONFIG")),
    reason="needs the local cluster's real node and the images built by hack/images.sh",
)


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def operator_pods(core: client.CoreV1Api, namespace: str, release: str) -> list[client.V1Pod]:
    selector = f"app.kubernetes.io/instance={release}"
    return core.list_namespaced_pod(namespace, label_selector=selector).items


def wait_log_line(
    core: client.CoreV1Api, namespace: str, pods: list[client.V1Pod], text_: str, timeout: float
) -> client.V1Pod:
    """The first of ``pods`` whose log has a line with ``text_`` (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        for pod in pods:
            log = core.read_namespaced_pod_log(pod.metadata.name, namespace)
            if text_ in log:
                return pod
        if time.monotonic() > deadline:
            logs = {
                p.metadata.name: core.read_namespaced_pod_log(p.metadata.name, namespace)[-2000:]
                for p in pods
            }
            raise AssertionError(f"no operator pod said {text_!r} in {timeout}s: {logs}")
        time.sleep(0.5)


ROLE_LINES = {"active: this replica": "active", "standby:": "standby", "no longer active:": None}


def role(log: str) -> str | None:
    """What the replica's last peering line says it is (None: nothing yet, or stepping down)."""
    said: str | None = None
    for line in log.splitlines():
        for text_, what in ROLE_LINES.items():
            if text_ in line:
                said = what
    return said


def settled_roles(
    core: client.CoreV1Api, namespace: str, pods: list[client.V1Pod], timeout: float
) -> tuple[client.V1Pod, client.V1Pod]:
    """(the active replica, the standby) once one says it is active and the other that it
    stands by (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        logs = {
            p.metadata.name: core.read_namespaced_pod_log(p.metadata.name, namespace) for p in pods
        }
        roles = {name: role(log) for name, log in logs.items()}
        if sorted(map(str, roles.values())) == ["active", "standby"]:
            by_role = {r: p for p in pods if (r := roles[p.metadata.name])}
            return by_role["active"], by_role["standby"]
        if time.monotonic() > deadline:
            raise AssertionError(f"no active and standby in {timeout}s: {roles}; logs {logs}")
        time.sleep(0.5)


@pytest.fixture
def release(helm: Helm, real_namespace: str) -> Iterator[str]:
    name = f"ak-{secrets.token_hex(3)}"
    with others_stopped():
        try:
            yield name
        finally:
            helm("uninstall", name, "-n", real_namespace, "--ignore-not-found", "--wait")


def sqlite_volume(core: client.CoreV1Api, namespace: str, path: Path) -> str:
    """A hostPath PersistentVolume on the real node, bound to a claim; the claim's name."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # hostPath gets no fsGroup: the operator (uid 65532) must write
    pv = f"{namespace}-sqlite"
    core.create_persistent_volume(
        {
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "persistentVolumeReclaimPolicy": "Delete",
                "hostPath": {"path": str(path), "type": "Directory"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "airkube-db"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": pv,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    return "airkube-db"


def install(helm: Helm, release: str, namespace: str, values: dict[str, str]) -> None:
    sets = [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    helm(
        "install", release, str(CHART), "-n", namespace, "--wait", "--timeout", "120s",
        "--set", f"watchNamespaces={{{namespace}}}", *sets,
    )  # fmt: skip


def user_token(core: client.CoreV1Api, namespace: str) -> str:
    """A token of a new ServiceAccount that may read DAGs and DAGRuns in ``namespace`` and
    forward a port to a pod there (what `history` and `tries` through the web server need)."""
    name = "web-user"
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rules = [
        {"apiGroups": ["airkube.io"], "resources": ["dags", "dagruns"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["get", "create"]},
    ]
    rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )
    answer = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 600}}
    )
    token: str = answer.status.token
    return token


def test_the_charts_operator_runs_on_the_real_node_with_sqlite_and_runs_a_dag(
    cluster: Cluster,
    helm: Helm,
    release: str,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
    tmp_path: Path,
) -> None:
    namespace = real_namespace
    claim = sqlite_volume(core, namespace, tmp_path / "db")
    try:
        install(
            helm,
            release,
            namespace,
            {
                "database.sqlite.persistence.existingClaim": claim,
                "livenessProbe.periodSeconds": "2",
                "web.enabled": "true",
            },
        )
        (pod,) = [
            p
            for p in operator_pods(core, namespace, release)
            if p.metadata.labels.get("app.kubernetes.io/component") == "operator"
        ]
        assert pod.spec.node_name == "real-node-0"
        wait_log_line(core, namespace, [pod], "airkube operator ready", timeout=60)

        apply_dag(custom, namespace, "chain", tasks=[task("a"), task("b", "a"), task("c", "b")])
        create_run(custom, namespace, "chain-1", "chain")
        run = watch_run(custom, namespace, "chain-1", finished, timeout=120)
        assert state(run) == "Succeeded", run["status"]
        assert {t: e["state"] for t, e in tasks(run).items()} == dict.fromkeys("abc", "Succeeded")

        # Its liveness probe has passed many times over (every 2 s after the chart's 10 s
        # initial delay), never failed: let that much time pass since the container started.
        pod = core.read_namespaced_pod(pod.metadata.name, namespace)
        (status,) = pod.status.container_statuses
        probed_from = status.state.running.started_at + timedelta(seconds=10 + 3 * 2)
        time.sleep(max(0.0, (probed_from - datetime.now(UTC)).total_seconds()))
        pod = core.read_namespaced_pod(pod.metadata.name, namespace)
        (status,) = pod.status.container_statuses
        assert status.ready, status
        assert status.restart_count == 0, status
        events = core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod.metadata.name}"
        ).items
        assert not [e for e in events if e.reason == "Unhealthy"], [e.message for e in events]
        # The history is on the volume the test gave it.
        assert (tmp_path / "db" / "airkube.db").exists() or list((tmp_path / "db").iterdir())
        # And the web server reads it for a user: the CLI finds the server, forwards a
        # port to its pod and sends the user's token (a ServiceAccount's, see user_token).
        token = user_token(core, namespace)
        history = airkube(cluster, namespace, "history", "chain", "--token", token)
        assert "chain-1" in history.stdout, history.stdout
        assert "Succeeded" in history.stdout, history.stdout
        tries = airkube(cluster, namespace, "tries", "chain-1", "--token", token)
        assert [line.split()[:3] for line in tries.stdout.splitlines()[1:]] == [
            [t, "1", "Succeeded"] for t in "abc"
        ], tries.stdout
    finally:
        helm("uninstall", release, "-n", namespace, "--ignore-not-found", "--wait")
        core.delete_persistent_volume(f"{namespace}-sqlite")


@pytest.fixture
def pg_schema_url(cluster: Cluster) -> Iterator[str]:
    """A fresh schema of the tests' PostgreSQL, reachable from the real node's pods."""
    assert cluster.local_name, "needs the local cluster"
    host_ip = node_var(cluster.local_name, "NODE_HOST_IP")
    with postgres_server("the HA chart test needs PostgreSQL") as server:
        engine = create_engine(parse_url(server), isolation_level="AUTOCOMMIT")
        schema = f"ha_{secrets.token_hex(4)}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(server)
        target = (url.host or "127.0.0.1", url.port or 5432)
        try:
            with forwarder(host_ip, target) as port:
                in_cluster = url.set(host=host_ip, port=port).update_query_dict(
                    {"options": f"-csearch_path={schema}"}
                )
                yield in_cluster.render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                # A connection still holding locks in the schema (a pod not yet gone) would
                # make the DROP wait for ever: end those first.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                        " JOIN pg_class c ON l.relation = c.oid"
                        " JOIN pg_namespace n ON c.relnamespace = n.oid"
                        " WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                    ),
                    {"schema": schema},
                )
                conn.execute(text("SET lock_timeout = '30s'"))
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()


def test_two_replicas_on_postgresql_one_active_and_deleting_it_mid_run_loses_nothing(
    helm: Helm,
    # Before the release: fixtures are torn down in reverse, so the release (its pods and
    # their connections) is gone before the schema is dropped.
    pg_schema_url: str,
    release: str,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    install(
        helm,
        release,
        namespace,
        {
            "replicaCount": "2",
            "database.type": "postgresql",
            "database.postgresql.url": pg_schema_url.replace(",", "\\,"),
        },
    )
    pods = operator_pods(core, namespace, release)
    assert len(pods) == 2
    assert {p.spec.node_name for p in pods} == {"real-node-0"}
    # Started together, they settle who is active (one may step down and restart first).
    active, standby = settled_roles(core, namespace, pods, timeout=120)

    # Two runs of a DAG of chains that take a while; the active replica is deleted mid-run.
    sleepy = ["sh", "-c", "sleep 1"]
    names = [f"s{i}" for i in range(3)] + [f"t{i}" for i in range(3)]
    apply_dag(
        custom,
        namespace,
        "work",
        podGC={"strategy": "Never"},
        tasks=[task("s0", command=sleepy)]
        + [task(f"s{i}", f"s{i - 1}", command=sleepy) for i in (1, 2)]
        + [task(f"t{i}", "s0", command=sleepy) for i in range(3)],
    )
    for n in ("work-1", "work-2"):
        create_run(custom, namespace, n, "work")
    watch_run(custom, namespace, "work-1", lambda r: "s1" in tasks(r), timeout=60)
    core.delete_namespaced_pod(active.metadata.name, namespace)

    for n in ("work-1", "work-2"):
        run = watch_run(custom, namespace, n, finished, timeout=180)
        assert state(run) == "Succeeded", run["status"]
        pods_of_run = core.list_namespaced_pod(namespace, label_selector=f"airkube.io/run={n}")
        per_task = Counter(p.metadata.labels["airkube.io/task"] for p in pods_of_run.items)
        assert per_task == Counter(names), (n, per_task)
        assert {p.metadata.labels["airkube.io/try"] for p in pods_of_run.items} == {"1"}
    # The standby took over (and a new replica replaced the deleted one).
    wait_log_line(core, namespace, [standby], "active: this replica", timeout=5)
