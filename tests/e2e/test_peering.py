"""Several operator replicas on one PostgreSQL database, with kopf peering: only the
active replica acts, a standby takes over when it is killed (no second pod for any try),
a replica of a higher priority takes over at once, and the Helm chart's RBAC is all a
replica needs.

The replicas run with `--peering-lifetime 5`, the shortest allowed: kopf then sends a
keep-alive every second, and a killed replica is taken over from 4-5 s after its death.
The session's own operator (standalone, all namespaces) is stopped meanwhile. The rules
alone (standing, priority, write guard, the refused options) are unit tests:
tests/unit/core/test_peering.py, tests/unit/controller/test_write_guard.py and
tests/unit/cli/test_run_peering.py.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy import create_engine, make_url, text

from airkube.store.engine import parse_url
from airkube.store.repository import Store
from postgres_server import postgres_server

from .cluster import ROOT, Cluster, hack_var
from .operator_process import OperatorProcess, others_stopped
from .resources import TERMINAL, apply_dag, create_run, sim, state, task, tasks
from .waiting import watch_run

LIFETIME = 5
PEERING = ("kopf.dev", "v1", "clusterkopfpeerings")
CHART = ROOT / "charts" / "airkube"

Replicas = Callable[..., OperatorProcess]


# PostgreSQL, as the store tests get it -------------------------------------------------


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server("peering needs PostgreSQL") as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty schema of that server, for the replicas of one test to share."""
    engine = create_engine(parse_url(pg_server), isolation_level="AUTOCOMMIT")
    schema = f"peering_{secrets.token_hex(4)}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


# Peering and replicas -------------------------------------------------------------------


@pytest.fixture(scope="module")
def peering_crd(cluster: Cluster, crds: None) -> None:
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "--timeout=30s"
    )


@pytest.fixture
def peering(custom: client.CustomObjectsApi, peering_crd: None) -> Iterator[str]:
    """The name of a peering of the test's own; its object is deleted afterwards."""
    name = f"e2e-peering-{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        try:
            custom.delete_cluster_custom_object(*PEERING, name)
        except ApiException as e:
            if e.status != 404:
                raise


@pytest.fixture
def replicas(cluster: Cluster, tmp_path: Path, pg_url: str) -> Iterator[Replicas]:
    """Makes `airkube run` replicas on the test's database (started by the test, stopped
    afterwards); the session's operator is stopped meanwhile."""
    made: list[OperatorProcess] = []

    def make(name: str, *args: str, on: Cluster | None = None) -> OperatorProcess:
        proc = OperatorProcess(on or cluster, pg_url, tmp_path / f"{name}.log", args)
        made.append(proc)
        return proc

    with others_stopped():
        try:
            yield make
        finally:
            for proc in made:
                proc.stop()


def identity(proc: OperatorProcess) -> str:
    """The replica's identity among its peers, from its 'ready' line."""
    line = proc.wait_for_line("airkube operator ready")
    found = re.search(r"replica (\S+) of peering", line)
    assert found, line
    return found.group(1)


def peers(custom: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    body = custom.get_cluster_custom_object(*PEERING, name)
    return dict(body.get("status") or {})


def wait_peers(custom: client.CustomObjectsApi, name: str, expected: set[str]) -> None:
    """Poll the peering object (with a deadline) until exactly ``expected`` keep it alive."""
    deadline = time.monotonic() + 10
    while (found := set(peers(custom, name))) != expected:
        assert time.monotonic() < deadline, f"peers of {name}: {found}, expected {expected}"
        time.sleep(0.1)


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def assert_one_pod_per_try(
    core: client.CoreV1Api, namespace: str, run_name: str, expected: list[str]
) -> None:
    """Each task ran in exactly one pod, of try 1, and kube-scheduler bound it once."""
    pods = core.list_namespaced_pod(namespace, label_selector=f"airkube.io/run={run_name}").items
    per_task = Counter(p.metadata.labels["airkube.io/task"] for p in pods)
    assert per_task == Counter(expected), per_task
    assert {p.metadata.labels["airkube.io/try"] for p in pods} == {"1"}
    names = {p.metadata.name for p in pods}
    scheduled = core.list_namespaced_event(namespace, field_selector="reason=Scheduled").items
    bound = Counter(e.involved_object.name for e in scheduled if e.involved_object.name in names)
    assert bound == Counter(names), bound


def assert_recorded_once(pg_url: str, namespace: str, run_name: str, expected: list[str]) -> None:
    deadline = time.monotonic() + 15  # the database follows the status the test saw
    with Store.from_url(pg_url, migrate=False) as store:
        while True:
            run = store.get_run(namespace, run_name)
            if (run is not None and run.state == "Succeeded") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        tries = store.task_tries(namespace, run_name)
    assert sorted((t.task_name, t.try_number, t.state) for t in tries) == sorted(
        (name, 1, "Succeeded") for name in expected
    )
    assert run is not None
    assert run.state == "Succeeded"


# The tests --------------------------------------------------------------------------------


def test_one_replica_acts_a_standby_takes_over_when_it_is_killed_and_a_higher_priority_preempts(
    namespace: str,
    peering: str,
    replicas: Replicas,  # after the two above: the replicas stop before those go
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    pg_url: str,
) -> None:
    common = ("--peering", peering, "--peering-lifetime", str(LIFETIME), "--namespace", namespace)
    first, second = replicas("first", *common), replicas("second", *common)
    first.start()
    first.wait_for_line("active: this replica")
    second.start()
    first_id, second_id = identity(first), identity(second)
    standby = second.wait_for_line("standby:")
    assert f"{first_id} is the active operator of peering {peering}" in standby
    wait_peers(custom, peering, {first_id, second_id})

    # Both run: the first acts alone.
    apply_dag(
        custom,
        namespace,
        "quick",
        podGC={"strategy": "Never"},
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[task("a"), task("b", "a")],
    )
    create_run(custom, namespace, "quick-1", "quick")
    run = watch_run(custom, namespace, "quick-1", finished, timeout=30)
    assert state(run) == "Succeeded", run["status"]
    assert_one_pod_per_try(core, namespace, "quick-1", ["a", "b"])
    assert_recorded_once(pg_url, namespace, "quick-1", ["a", "b"])
    # The standby said it stands by, and nothing else: no activity, no write tried.
    lines = second.output().splitlines()
    assert not [line for line in lines if "active:" in line or "refused" in line], lines
    assert second.proc is not None
    assert second.proc.poll() is None

    # SIGKILL the active replica mid-run: the standby takes over and finishes the run.
    chain = ["extract", "transform", "load", "report"]
    apply_dag(
        custom,
        namespace,
        "chain",
        podGC={"strategy": "Never"},
        defaults={"podTemplate": sim(duration="1s")},
        tasks=[task(name, *chain[i - 1 : i]) for i, name in enumerate(chain)],
    )
    create_run(custom, namespace, "chain-1", "chain")
    watch_run(
        custom,
        namespace,
        "chain-1",
        lambda r: tasks(r).get("transform", {}).get("state") == "Running",
        timeout=30,
    )
    first.kill()
    killed = time.monotonic()
    second.wait_for_line("active: this replica", timeout=LIFETIME + 15)
    takeover = time.monotonic() - killed
    run = watch_run(custom, namespace, "chain-1", finished, timeout=60)
    assert state(run) == "Succeeded", run["status"]
    assert {name: t["tryNumber"] for name, t in tasks(run).items()} == dict.fromkeys(chain, 1)
    assert_one_pod_per_try(core, namespace, "chain-1", chain)
    assert_recorded_once(pg_url, namespace, "chain-1", chain)
    assert takeover <= LIFETIME + 3, f"took over {takeover:.1f}s after the kill"
    assert "refused" not in second.output()
    print(f"\ntakeover {takeover:.1f}s after SIGKILL (peering lifetime {LIFETIME}s)")

    # A replica of a higher priority takes over at once; the active one steps down and exits.
    third = replicas("third", *common, "--peering-priority", "1")
    third.start()
    third.wait_for_line("active: this replica", timeout=15)
    second.wait_for_line("no longer active:", timeout=5)
    create_run(custom, namespace, "quick-2", "quick")
    run = watch_run(custom, namespace, "quick-2", finished, timeout=30)
    assert state(run) == "Succeeded", run["status"]
    assert_one_pod_per_try(core, namespace, "quick-2", ["a", "b"])
    assert "refused" not in third.output()
    assert second.wait_exit(timeout=15) == 1
    said = second.output()
    assert f"stopped being the active operator of peering {peering}" in said
    assert f"{identity(third)} is the active replica" in said


def test_the_charts_rbac_is_all_a_peering_replica_needs(
    namespace: str,
    peering_crd: None,
    replicas: Replicas,
    cluster: Cluster,
    custom: client.CustomObjectsApi,
    pg_url: str,
    tmp_path: Path,
) -> None:
    """The chart (watching one namespace, PostgreSQL: peering on) makes the peering object
    and the RBAC; a replica run with the chart's ServiceAccount peers and works."""
    helm = Path(hack_var("AIRKUBE_PATH_DIR")) / "helm"
    assert helm.exists(), f"{helm} is missing: run `make tools`"
    target = [*cluster.kubectl_flags()]
    if cluster.context:
        target = [f if f != "--context" else "--kube-context" for f in target]
    release = f"ak-{secrets.token_hex(3)}"
    sets = {
        "database.type": "postgresql",
        "database.postgresql.url": "postgresql://unused@postgres.invalid/airkube",
        "replicaCount": "0",  # the replica runs here, as a process, with the chart's identity
        "watchNamespaces": f"{{{namespace}}}",
    }

    def run_helm(*args: str) -> None:
        proc = subprocess.run(
            [str(helm), *args, *target], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr.strip()}"

    set_args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    run_helm("install", release, str(CHART), "-n", namespace, *set_args)
    try:
        name = f"{namespace}-{release}-airkube"
        assert custom.get_cluster_custom_object(*PEERING, name)["metadata"]["name"] == name
        kubeconfig = tmp_path / "chart-sa.kubeconfig"
        raw = cluster.kubectl("config", "view", "--raw", "--minify", "--flatten").stdout
        kubeconfig.write_text(raw)
        token = cluster.kubectl(
            "-n", namespace, "create", "token", f"{release}-airkube", "--duration", "10m"
        ).stdout.strip()
        as_sa = Cluster(str(kubeconfig), None, cluster.kubectl_bin, started_here=False)
        as_sa.kubectl("config", "set-credentials", "chart-sa", "--token", token)
        as_sa.kubectl("config", "set-context", "--current", "--user", "chart-sa")

        replica = replicas("chart", "--peering", name, "--namespace", namespace, on=as_sa)
        replica.start()
        replica.wait_for_line("active: this replica", timeout=15)
        apply_dag(
            custom,
            namespace,
            "quick",
            defaults={"podTemplate": sim(duration="200ms")},
            tasks=[task("a"), task("b", "a")],
        )
        create_run(custom, namespace, "quick-1", "quick")
        run = watch_run(custom, namespace, "quick-1", finished, timeout=30)
        assert state(run) == "Succeeded", run["status"]
        assert identity(replica) in peers(custom, name)
        replica.stop()  # before the release, and with it the peering object, goes
        assert "Forbidden" not in replica.output()
    finally:
        run_helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "60s")
