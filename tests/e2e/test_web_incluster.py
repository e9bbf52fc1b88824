"""The in-cluster web server (``airkube web``'s app, served in-process on a real port)
against the real API server: a ServiceAccount token made by TokenRequest, whose RBAC
allows namespace A only, is served A (API, page, history) and refused B with 403 by the API
server's own RBAC (every call is made with the token) and by the SubjectAccessReview that
gates the metadata database; and the CLI's ``history``, ``tries`` and ``logs`` read through
the server what they read from the database.

Not covered here: the CLI's own port-forward to an installed server's pod (it needs the
server running in a pod on the real node); ``--web-url`` is the same client minus the
port-forward."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from airkube.store.repository import Store
from airkube.web.auth import Authenticator, KubeBackend
from airkube.web.data import DataError, StoreHistory
from airkube.web.incluster import create_incluster_app

from .cli import airkube
from .cluster import Cluster
from .conftest import fresh_namespace
from .operator_process import OperatorProcess
from .resources import apply_dag, sim, task
from .test_task_logs import KWOK_LOG, run_with_retried_task
from .web_server import serve

READ = ["get", "list", "watch"]


@dataclass(frozen=True)
class Setup:
    url: str
    a: str
    b: str
    run: str
    token: str
    """May read A (DAGs, runs, pods, logs); nothing in B."""
    dags_only: str
    """May read A's DAGs but not list its DAGRuns: the history is not for it."""
    backend: KubeBackend


def make_account(
    core: client.CoreV1Api, rbac: client.RbacAuthorizationV1Api, ns: str, name: str, rules: Any
) -> str:
    """A ServiceAccount in ``ns`` bound to a Role of ``rules`` there, and a token for it."""
    core.create_namespaced_service_account(ns, client.V1ServiceAccount(metadata={"name": name}))
    rbac.create_namespaced_role(
        ns, client.V1Role(metadata=client.V1ObjectMeta(name=name), rules=rules)
    )
    rbac.create_namespaced_role_binding(
        ns,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name=name
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=ns)],
        ),
    )
    review = core.create_namespaced_service_account_token(
        name,
        ns,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        ),
    )
    token: str = review.status.token
    return token


@pytest.fixture
def other_namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    yield from fresh_namespace(request, core, {})


@pytest.fixture
def setup(
    cluster: Cluster,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    operator: OperatorProcess,
    namespace: str,
    other_namespace: str,
) -> Iterator[Setup]:
    rbac = client.RbacAuthorizationV1Api(api)
    reader = make_account(
        core,
        rbac,
        namespace,
        "reader",
        [
            client.V1PolicyRule(
                api_groups=["airkube.io"], resources=["dags", "dagruns"], verbs=READ
            ),
            client.V1PolicyRule(api_groups=[""], resources=["pods", "pods/log"], verbs=READ),
        ],
    )
    dags_only = make_account(
        core,
        rbac,
        namespace,
        "dags-only",
        [client.V1PolicyRule(api_groups=["airkube.io"], resources=["dags"], verbs=READ)],
    )
    run = run_with_retried_task(cluster, core, custom, namespace, operator)
    apply_dag(custom, other_namespace, "secret-dag", tasks=[task("t", podTemplate=sim())])
    with Store.from_url(operator.db_url, migrate=False) as store:
        # The server's own credentials (here the admin's) only review access.
        backend = KubeBackend(api.configuration)
        app = create_incluster_app(Authenticator(backend, StoreHistory(store)), namespace=namespace)
        with serve(app) as url:
            yield Setup(url, namespace, other_namespace, run, reader, dags_only, backend)


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def get(s: Setup, path: str, token: str | None) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(s.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Answer(answer.status, answer.read().decode())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.read().decode())


def test_a_token_with_rbac_in_a_only_is_served_a_and_refused_b(setup: Setup) -> None:
    s = setup
    assert get(s, f"/api/v1/namespaces/{s.a}/dags", None).status_code == 401
    assert get(s, f"/api/v1/namespaces/{s.a}/dags", "not-a-token").status_code == 401

    mine = get(s, f"/api/v1/namespaces/{s.a}/dags", s.token)
    assert mine.status_code == 200, mine.text
    assert [d["name"] for d in mine.json()["items"]] == ["chatty"]
    page = get(s, f"/ui/namespaces/{s.a}/dags/chatty/runs/{s.run}", s.token)
    assert page.status_code == 200, page.text
    assert "fetch" in page.text

    # The API server's RBAC refuses the token's own call: 403 naming verb, resource, namespace.
    theirs = get(s, f"/api/v1/namespaces/{s.b}/dags", s.token)
    assert theirs.status_code == 403, theirs.text
    message = theirs.json()["message"]
    assert f"system:serviceaccount:{s.a}:reader" in message
    assert 'cannot list resource "dags"' in message
    assert f'namespace "{s.b}"' in message
    refused_page = get(s, f"/ui/namespaces/{s.b}/dags", s.token)
    assert refused_page.status_code == 403
    assert "cannot list resource" in refused_page.text
    assert "secret-dag" not in refused_page.text


def test_the_history_is_gated_by_a_subject_access_review(setup: Setup) -> None:
    s = setup
    history = f"/api/v1/namespaces/{s.a}/recorded/dags/chatty/runs"
    allowed = get(s, history, s.token)
    assert allowed.status_code == 200, allowed.text
    assert [r["name"] for r in allowed.json()["items"]] == [s.run]

    # May get the DAG, not list the DAGRuns: the database's runs are not shown to it (the
    # records route makes no Kubernetes call with the token: only the review refuses).
    as_it = s.backend.cluster_for(s.dags_only)
    assert as_it.get_dag(s.a, "chatty") is not None
    with pytest.raises(DataError) as caught:
        as_it.list_runs(s.a)
    assert caught.value.status == 403
    denied = get(s, history, s.dags_only)
    assert denied.status_code == 403
    assert (
        f'user "system:serviceaccount:{s.a}:dags-only" cannot list resource '
        f'"dagruns.airkube.io" in namespace "{s.a}"'
    ) in denied.json()["message"]
    other = get(s, f"/api/v1/namespaces/{s.b}/recorded/dags/secret-dag/runs", s.token)
    assert other.status_code == 403
    assert f'in namespace "{s.b}"' in other.json()["message"]


def test_the_cli_reads_history_tries_and_stored_logs_through_the_server(
    setup: Setup, cluster: Cluster, operator: OperatorProcess
) -> None:
    s = setup
    db = ["--db-url", operator.db_url]
    web = ["--web-url", s.url, "--token", s.token]
    for command in (
        ["tries", s.run, "-o", "json"],
        ["tries", s.run, "fetch"],
        ["history", "chatty", "-o", "json"],
        ["logs", s.run, "fetch", "--all-tries"],
    ):
        direct = airkube(cluster, s.a, *command, *db).stdout
        remote = airkube(cluster, s.a, *command, *web).stdout
        assert remote == direct, command
    tries = json.loads(airkube(cluster, s.a, "tries", s.run, "-o", "json", *web).stdout)
    assert sorted((t["task"], t["try"]) for t in tries) == [("fetch", 1), ("fetch", 2), ("load", 1)]
    assert airkube(cluster, s.a, "logs", s.run, "load", *web).stdout == KWOK_LOG

    refused = airkube(cluster, s.b, "history", "secret-dag", *web, check=False)
    assert refused.returncode == 1
    assert f'cannot list resource "dagruns.airkube.io" in namespace "{s.b}"' in refused.stderr
