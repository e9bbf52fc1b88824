"""The chart's web server (web.enabled) on a real API server: it installs beside the
operator under the restricted Pod Security Standard, its ServiceAccount may read and
review access but write nothing, its pod shares the SQLite volume on the operator's node,
and the CLI finds its Service and a ready pod to port-forward to.

KWOK only simulates the pods: the server's own code and the port-forward itself do not
run here (tests/e2e/test_web_incluster.py runs the server in-process)."""

from __future__ import annotations

from kubernetes import client

from airkube.cli.remote import _ready_pod, find_web_service

from .cluster import Cluster
from .conftest import Helm
from .test_helm_install import (  # noqa: F401 (fixtures)
    can,
    install,
    prebound_volume,
    release,
    restrict,
    volumes,
)


def test_web_enabled_installs_a_read_only_server_the_cli_can_find(
    cluster: Cluster,
    core: client.CoreV1Api,
    helm: Helm,
    namespace: str,
    release: str,  # noqa: F811
    volumes: list[str],  # noqa: F811
) -> None:
    fullname = f"{release}-airkube"
    web = f"{fullname}-web"
    restrict(core, namespace)
    pv = core.create_persistent_volume(prebound_volume(namespace, f"{fullname}-data"))
    volumes.append(pv.metadata.name)

    install(helm, release, namespace, {"web.enabled": "true"})

    pods = {
        p.metadata.labels["app.kubernetes.io/component"]: p
        for p in core.list_namespaced_pod(
            namespace, label_selector=f"app.kubernetes.io/instance={release}"
        ).items
    }
    assert sorted(pods) == ["operator", "web"]
    assert pods["web"].status.phase == "Running"
    assert pods["web"].spec.node_name == pods["operator"].spec.node_name
    claims = [v.persistent_volume_claim for v in pods["web"].spec.volumes]
    assert f"{fullname}-data" in [c.claim_name for c in claims if c]

    sa = f"system:serviceaccount:{namespace}:{web}"
    for verb, resource in [
        ("list", "dagruns.airkube.io"),
        ("watch", "dags.airkube.io"),
        ("get", "pods/log"),
        ("list", "events"),
        ("create", "subjectaccessreviews.authorization.k8s.io"),
    ]:
        assert can(cluster, sa, verb, resource, "--all-namespaces"), (verb, resource)
    for verb, resource in [
        ("create", "dagruns.airkube.io"),
        ("patch", "dagruns.airkube.io"),
        ("delete", "pods"),
        ("create", "pods"),
        ("get", "secrets"),
        ("create", "serviceaccounts/token"),
    ]:
        assert not can(cluster, sa, verb, resource, "-n", "default"), (verb, resource)

    found = find_web_service(core)
    assert found is not None
    assert (found.namespace, found.name, found.port) == (namespace, web, "http")
    assert _ready_pod(core, found) == (pods["web"].metadata.name, 8080)
