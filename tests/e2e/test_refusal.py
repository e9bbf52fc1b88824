"""The tests' refusal of DAGRun status writes (tests/e2e/refusal.py), on the real API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import fresh_namespace
from .operator_process import OperatorProcess
from .refusal import REFUSAL_MESSAGE, refusing_status_writes
from .resources import SIMULATED, TERMINAL, apply_dag, create_run, get_run, sim, state, task
from .waiting import GROUP, VERSION, watch_run


@pytest.fixture
def other_namespace(request: pytest.FixtureRequest, core: client.CoreV1Api) -> Iterator[str]:
    yield from fresh_namespace(request, core, SIMULATED)


def patch_status(custom: client.CustomObjectsApi, namespace: str, run: str) -> None:
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "dagruns", run, {"status": {"reason": "Patched"}}
    )


def refusal_objects(api: client.ApiClient) -> list[str]:
    admission = client.AdmissionregistrationV1Api(api)
    selector = "airkube.io/test=refusal"
    policies = admission.list_validating_admission_policy(label_selector=selector).items
    bindings = admission.list_validating_admission_policy_binding(label_selector=selector).items
    return [p.metadata.name for p in policies] + [b.metadata.name for b in bindings]


def test_status_writes_are_refused_in_the_namespace_only_and_only_inside_the_block(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    crds: None,
    namespace: str,
    other_namespace: str,
) -> None:
    # No DAG: the operator (if one runs) leaves these runs Queued and Waiting.
    create_run(custom, namespace, "here", "absent")
    create_run(custom, other_namespace, "there", "absent")

    with refusing_status_writes(api, namespace):
        with pytest.raises(ApiException) as refused:
            patch_status(custom, namespace, "here")
        assert refused.value.status == 422
        assert REFUSAL_MESSAGE in refused.value.body
        # Only the status: the run's metadata and spec can still be written.
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "dagruns", "here", {"metadata": {"labels": {"x": "y"}}}
        )
        patch_status(custom, other_namespace, "there")
        assert len(refusal_objects(api)) == 2

    patch_status(custom, namespace, "here")
    assert get_run(custom, namespace, "here")["status"]["reason"] == "Patched"
    assert refusal_objects(api) == []
    probes = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "dagruns", label_selector="airkube.io/test=refusal"
    )["items"]
    assert [p["metadata"]["name"] for p in probes] == []


def test_a_run_started_while_its_status_is_refused_finishes_once_the_refusal_is_lifted(
    api: client.ApiClient,
    operator: OperatorProcess,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "patient",
        defaults={"podTemplate": sim(duration="100ms")},
        tasks=[task("a"), task("b", "a")],
    )
    with refusing_status_writes(api, namespace):
        create_run(custom, namespace, "patient-1", "patient")
        # The operator cannot record even the run's start.
        with pytest.raises(TimeoutError):
            watch_run(custom, namespace, "patient-1", lambda r: state(r) is not None, timeout=3)
    run = watch_run(custom, namespace, "patient-1", lambda r: state(r) in TERMINAL, timeout=60)
    assert state(run) == "Succeeded", run["status"]
