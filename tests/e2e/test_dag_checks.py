"""The operator's checks of a DAG on a real API server: a typo in podTemplate and a broken
template make the DAG Ready=False naming them (and no run starts); a pod the API server
would refuse, found by a server-side dry run, does too; a valid DAG is Ready."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client

from airkube.kube.apply import Kube

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, events_of, task, wait_dag
from .waiting import watch_run


def ready_is(status: str) -> Any:
    def check(d: dict[str, Any]) -> bool:
        conditions = (d.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == status for c in conditions)

    return check


def ready_of(dag: dict[str, Any]) -> dict[str, Any]:
    [ready] = [c for c in dag["status"]["conditions"] if c["type"] == "Ready"]
    return ready


def test_a_typo_in_a_tasks_pod_template_makes_the_dag_not_ready_naming_the_field(
    operator: OperatorProcess,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "typo",
        tasks=[
            task("extract"),
            task("load", "extract", podTemplate={"spec": {"nodeSelecter": {"disk": "ssd"}}}),
        ],
    )
    dag = wait_dag(custom, namespace, "typo", ready_is("False"))
    ready = ready_of(dag)
    assert ready["reason"] == "InvalidPodField"
    assert ready["message"] == (
        'task "load": podTemplate.spec.nodeSelecter: unknown field (did you mean "nodeSelector"?)'
    )
    assert "dagVersion" not in dag["status"]
    notes = [e.note for e in events_of(api, namespace, "typo") if e.reason == "InvalidPodField"]
    assert notes == [ready["message"]]

    create_run(custom, namespace, "typo-1", "typo")

    def waiting(run: dict[str, Any]) -> bool:
        conditions = (run.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Waiting" and c["reason"] == "DAGInvalid" for c in conditions)

    watch_run(custom, namespace, "typo-1", waiting, timeout=30)
    assert not core.list_namespaced_pod(namespace).items


def test_an_unknown_filter_makes_the_dag_not_ready_instead_of_a_reconcile_loop(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(custom, namespace, "filters", tasks=[task("a", args=["{{ ds | nosuchfilter }}"])])
    ready = ready_of(wait_dag(custom, namespace, "filters", ready_is("False")))
    assert ready["reason"] == "BadTemplate"
    assert ready["message"] == 'task "a": args[0]: unknown filter "nosuchfilter"'


def test_a_pod_the_api_server_would_refuse_makes_the_dag_not_ready(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    # Every field is known and well typed (the offline check passes): only the API
    # server's validation, asked by the dry run, refuses the value.
    apply_dag(
        custom,
        namespace,
        "refused",
        tasks=[task("ok"), task("dns", podTemplate={"spec": {"dnsPolicy": "Sometimes"}})],
    )
    ready = ready_of(wait_dag(custom, namespace, "refused", ready_is("False")))
    assert ready["reason"] == "PodRefused"
    assert ready["message"].startswith(
        'task "dns": the API server refuses its pod: spec.dnsPolicy: Unsupported value: "Sometimes"'
    ), ready["message"]


def test_a_valid_dag_with_a_rich_pod_template_is_ready(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    pod_template = {
        "metadata": {"labels": {"team": "data"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "securityContext": {"runAsUser": 1000},
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [
                {"name": "task", "ports": [{"containerPort": 8080}]},
                {"name": "side", "image": "busybox:1.36", "resources": {"limits": {"cpu": 0.1}}},
            ],
        },
    }
    apply_dag(custom, namespace, "rich", tasks=[task("a", podTemplate=pod_template)])
    dag = wait_dag(custom, namespace, "rich", ready_is("True"))
    assert dag["status"]["dagVersion"]


def test_the_dry_run_is_strict_about_unknown_fields(api: client.ApiClient, namespace: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "airkube-dry-run-"},
        "spec": {
            "nodeSelecter": {"disk": "ssd"},
            "containers": [{"name": "task", "image": "busybox:1.36"}],
        },
    }

    async def main() -> tuple[str | None, str | None]:
        kube = Kube(api, concurrency=2, name="test")
        try:
            typo = await kube.dry_run_pod(namespace, manifest)
            del manifest["spec"]["nodeSelecter"]
            fine = await kube.dry_run_pod(namespace, manifest)
            return typo, fine
        finally:
            kube.close()

    typo, fine = asyncio.run(main())
    assert typo is not None
    assert 'unknown field "spec.nodeSelecter"' in typo
    assert fine is None
    assert not client.CoreV1Api(api).list_namespaced_pod(namespace).items  # nothing stored
