"""Fixtures of the e2e tests: the cluster (once per run) and a namespace per test.

The local cluster has two nodes (hack/cluster.sh): kwok's simulated one, tainted, and a
real one where containers run. ``namespace`` is the fast tier's: its pods go to the
simulated node (namespace annotations read by the PodNodeSelector and
PodTolerationRestriction admission plugins), so what they do is scripted by the
sim.airkube.io annotations of hack/kwok/stages.yaml. ``real_namespace`` is the real
tier's (marker ``real``): its pods go where any pod would, the real node.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from airkube.store.repository import Store
from airkube.web.app import create_app
from airkube.web.data import KubeCluster, StoreHistory
from browser import chromium, page, page_errors  # noqa: F401  (browser fixtures, by name)

from .cluster import ROOT, Cluster, bring_up, hack_var, tear_down
from .host_state import sysctls
from .operator_process import OperatorProcess
from .resources import SIMULATED
from .waiting import wait_for_default_service_account
from .web_server import serve


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if "real_namespace" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.real)


SYSCTLS_AT_START = sysctls()
"""The host's kernel settings before any test (or node) ran."""


@pytest.fixture(scope="session")
def host_sysctls_at_start() -> dict[str, str]:
    return SYSCTLS_AT_START


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = bring_up()
    try:
        yield c
    finally:
        tear_down(c)


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    with cluster.api_client() as a:
        yield a


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def fresh_namespace(
    request: pytest.FixtureRequest, core: client.CoreV1Api, annotations: dict[str, str]
) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    name = f"e2e-{slug[:48].rstrip('-')}-{secrets.token_hex(3)}"
    meta = client.V1ObjectMeta(name=name, annotations=annotations or None)
    core.create_namespace(client.V1Namespace(metadata=meta))
    wait_for_default_service_account(core, name)
    try:
        yield name
    finally:
        core.delete_namespace(name)


@pytest.fixture
def namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test whose pods are simulated, deleted afterwards."""
    yield from fresh_namespace(request, core, SIMULATED)


@pytest.fixture
def real_namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test whose pods really run (the real node)."""
    yield from fresh_namespace(request, core, {})


@pytest.fixture(scope="session")
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """airkube's CRDs, applied from crds/ and established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/dags.airkube.io",
        "crd/dagruns.airkube.io",
        "--timeout=30s",
    )


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """One `airkube run` process for the whole session, on a SQLite DB of its own."""
    work = tmp_path_factory.mktemp("operator")
    proc = OperatorProcess(cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


Helm = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def helm(cluster: Cluster) -> Helm:
    binary = Path(hack_var("AIRKUBE_PATH_DIR")) / "helm"
    assert binary.exists(), f"{binary} is missing: run `make tools`"
    flags = []
    if cluster.kubeconfig:
        flags += ["--kubeconfig", cluster.kubeconfig]
    if cluster.context:
        flags += ["--kube-context", cluster.context]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(binary), *args, *flags], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    return run


@pytest.fixture
def web(api: client.ApiClient, operator: OperatorProcess) -> Iterator[str]:
    """The web server (local mode, no token) reading the cluster and the operator's
    metadata database, on a real port: its base URL."""
    with (
        Store.from_url(operator.db_url, migrate=False) as store,
        serve(create_app(KubeCluster(api), StoreHistory(store))) as url,
    ):
        yield url
