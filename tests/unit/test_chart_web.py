"""The chart's web server (web.enabled): off by default; on, a Deployment of `airkube web`
with its own read-only ServiceAccount, a Service, probes and the operator's database."""

from __future__ import annotations

import os
from typing import Any

import pytest
from test_chart import (
    FULLNAME,
    NAMESPACE,
    OPERATOR_NEEDS,
    PG,
    SQLITE_URL,
    allows,
    kinds,
    only,
    pinned_helm,
    refused,
    render,
)

Obj = dict[str, Any]
WEB = f"{FULLNAME}-web"
ON: Obj = {"web": {"enabled": True}}

READS = [
    ("airkube.io", "dags"),
    ("airkube.io", "dagruns"),
    ("", "pods"),
    ("", "pods/log"),
    ("", "events"),
]
WRITES = ("create", "update", "patch", "delete", "deletecollection", "*")


@pytest.fixture(scope="module")
def helm() -> str:
    found = pinned_helm()
    if found is None:
        reason = "helm is not built: run `make tools`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def web_objects(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["metadata"]["labels"].get("app.kubernetes.io/component") == "web"]


def web_container(objs: list[Obj]) -> Obj:
    [c] = only(objs, "Deployment", WEB)["spec"]["template"]["spec"]["containers"]
    return c


def web_env(objs: list[Obj]) -> dict[str, Obj]:
    return {e["name"]: e for e in web_container(objs)["env"]}


def test_off_by_default(helm: str) -> None:
    assert web_objects(render(helm)) == []


def test_on_it_deploys_airkube_web_with_a_service_probes_and_resources(helm: str) -> None:
    objs = render(helm, ON)
    assert kinds(web_objects(objs)) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    deployment = only(objs, "Deployment", WEB)
    operator = only(objs, "Deployment", FULLNAME)
    pod = deployment["spec"]["template"]
    c = web_container(objs)
    assert c["command"] == ["airkube", "web"]
    assert c["image"] == operator["spec"]["template"]["spec"]["containers"][0]["image"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTP"}
    assert c["resources"]["requests"] == {"cpu": "50m", "memory": "192Mi"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert web_env(objs)["AIRKUBE_WEB_PORT"]["value"] == "8080"
    # Neither Deployment selects the other's pods.
    web_labels = pod["metadata"]["labels"]
    op_selector = operator["spec"]["selector"]["matchLabels"]
    assert not op_selector.items() <= web_labels.items()
    web_selector = deployment["spec"]["selector"]["matchLabels"]
    assert not web_selector.items() <= operator["spec"]["template"]["metadata"]["labels"].items()
    service = only(objs, "Service", WEB)
    assert service["spec"]["selector"] == web_selector
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    # The CLI finds the Service by these labels.
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    assert service["metadata"]["labels"]["app.kubernetes.io/part-of"] == "airkube"


def test_its_own_service_account_only_reads_and_reviews_access(helm: str) -> None:
    objs = render(helm, ON)
    sa = only(objs, "ServiceAccount", WEB)
    pod = only(objs, "Deployment", WEB)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"] != FULLNAME
    role = only(objs, "ClusterRole", f"{NAMESPACE}-{WEB}")
    rules = role["rules"]
    for group, resource in READS:
        for verb in ("get", "list", "watch"):
            assert allows(rules, group, resource, verb), (resource, verb)
    assert allows(rules, "authorization.k8s.io", "subjectaccessreviews", "create")
    for rule in rules:
        if rule["resources"] == ["subjectaccessreviews"]:
            continue
        assert not set(rule["verbs"]) & set(WRITES), rule
    for group, resource, verb in OPERATOR_NEEDS:
        if verb in WRITES:
            assert not allows(rules, group, resource, verb), (resource, verb)
    assert not allows(rules, "", "secrets", "get")
    binding = only(objs, "ClusterRoleBinding", f"{NAMESPACE}-{WEB}")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}
    ]


def test_with_watch_namespaces_it_reads_only_there(helm: str) -> None:
    objs = render(helm, {**ON, "watchNamespaces": ["team-a"]})
    cluster_rules = only(objs, "ClusterRole", f"{NAMESPACE}-{WEB}")["rules"]
    assert not allows(cluster_rules, "airkube.io", "dagruns", "list")
    assert allows(cluster_rules, "authorization.k8s.io", "subjectaccessreviews", "create")
    role = only(objs, "Role", f"{NAMESPACE}-{WEB}")
    assert role["metadata"]["namespace"] == "team-a"
    assert allows(role["rules"], "airkube.io", "dagruns", "list")


def test_sqlite_shares_the_operator_volume_on_its_node(helm: str) -> None:
    objs = render(helm, ON)
    pod = only(objs, "Deployment", WEB)["spec"]["template"]["spec"]
    assert web_env(objs)["AIRKUBE_DB_URL"]["value"] == SQLITE_URL
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = only(objs, "PersistentVolumeClaim")["metadata"]["name"]
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": claim}
    [term] = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"


def test_postgresql_comes_from_the_operator_secret(helm: str) -> None:
    objs = render(helm, {**ON, **PG})
    db = web_env(objs)["AIRKUBE_DB_URL"]
    assert db["valueFrom"]["secretKeyRef"] == {"name": f"{FULLNAME}-db", "key": "url"}
    pod = only(objs, "Deployment", WEB)["spec"]["template"]["spec"]
    assert "affinity" not in pod
    assert "data" not in {v["name"] for v in pod["volumes"]}


def test_tls_mounts_the_secret_and_probes_https(helm: str) -> None:
    objs = render(helm, {"web": {"enabled": True, "tls": {"secretName": "web-tls"}}})
    c = web_container(objs)
    assert web_env(objs)["AIRKUBE_WEB_TLS_CERT"]["value"] == "/etc/airkube/tls/tls.crt"
    assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    pod = only(objs, "Deployment", WEB)["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "web-tls"}} in pod["volumes"]


def test_bad_web_values_are_refused(helm: str) -> None:
    assert "web" in refused(helm, {"web": {"enabled": True, "port": 0}})
    assert "web" in refused(helm, {"web": {"enabled": True, "servicePort": 80}})
