"""Fixtures of the e2e tests: the cluster (once per run) and a namespace per test."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from kubernetes import client

from .cluster import ROOT, Cluster, bring_up, tear_down
from .operator_process import OperatorProcess
from .waiting import wait_for_default_service_account


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


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


@pytest.fixture
def namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    name = f"e2e-{slug[:48].rstrip('-')}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for_default_service_account(core, name)
    try:
        yield name
    finally:
        core.delete_namespace(name)


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
