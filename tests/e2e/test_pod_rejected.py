"""Pods the API server refuses (issue 15): its reason reaches the DAG or the run, never
"PodLost: pod X was deleted", and nothing else is harmed.

Two ways a pod is refused. Most pod mistakes (a sidecar without an image, ``runAsUser:
-1``, an undeclared volumeMount) are found before any run by the DAG's server-side dry
run: the DAG is Ready=False (PodRefused) with the API server's message and its runs wait
saying why. A refusal only the real creation meets (here a ValidatingAdmissionPolicy that
lets dry runs through, as a quota or a webhook might) fails the try with PodRejected and
the API server's message, in the task's status and the TaskFailed event. Beside them, a
good DAG's run finishes, and the operator logs no traceback.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, events_of, state, task, tasks, wait_dag
from .waiting import watch_run

REJECT_LABEL = "e2e.airkube.io/reject"
DENIAL = "no pod labelled reject"


def ready_of(dag: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (dag.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), None)


def not_ready(dag: dict[str, Any]) -> bool:
    ready = ready_of(dag)
    return ready is not None and ready["status"] == "False"


def waiting_of(run: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (run.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Waiting"), None)


def event_notes(
    api: client.ApiClient, namespace: str, name: str, reason: str, needle: str, timeout: float = 30
) -> list[str]:
    """The notes of the events of ``reason`` about ``name``, once one contains ``needle``
    (events are posted after the status that says the same)."""
    deadline = time.monotonic() + timeout
    while True:
        notes = [e.note or "" for e in events_of(api, namespace, name) if e.reason == reason]
        if any(needle in n for n in notes) or time.monotonic() > deadline:
            return notes
        time.sleep(0.2)


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


BAD_TEMPLATES = {
    "deadline": (
        {"spec": {"activeDeadlineSeconds": 0}},
        "spec.activeDeadlineSeconds: Invalid value: 0",
    ),
    "noimage": (
        {"spec": {"containers": [{"name": "side", "command": ["sleep", "1"]}]}},
        "spec.containers[1].image: Required value",
    ),
    "runasuser": (
        {"spec": {"securityContext": {"runAsUser": -1}}},
        "spec.securityContext.runAsUser: Invalid value: -1",
    ),
    "mount": (
        {
            "spec": {
                "containers": [
                    {"name": "task", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}
                ]
            }
        },
        'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_a_pod_the_api_server_refuses_is_named_with_its_message_on_the_dag_and_its_run(
    case: str,
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    namespace: str,
) -> None:
    template, api_message = BAD_TEMPLATES[case]
    offset = len(operator.output())
    apply_dag(custom, namespace, "good", tasks=[task("a")])
    apply_dag(custom, namespace, "bad", tasks=[task("ok"), task("work", podTemplate=template)])
    dag = wait_dag(custom, namespace, "bad", not_ready)
    ready = ready_of(dag)
    assert ready is not None
    assert ready["reason"] == "PodRefused", ready
    assert ready["message"].startswith('task "work": the API server refuses its pod: '), ready
    assert api_message in ready["message"], ready["message"]
    notes = event_notes(api, namespace, "bad", "PodRefused", api_message)
    assert any(api_message in note for note in notes), notes

    create_run(custom, namespace, "bad-1", "bad")
    create_run(custom, namespace, "good-1", "good")

    def waiting(run: dict[str, Any]) -> bool:
        condition = waiting_of(run)
        return condition is not None and condition["reason"] == "DAGInvalid"

    run = watch_run(custom, namespace, "bad-1", waiting, timeout=30)
    condition = waiting_of(run)
    assert condition is not None
    assert api_message in condition["message"], condition
    good = watch_run(custom, namespace, "good-1", finished, timeout=60)
    assert state(good) == "Succeeded"
    assert not core.list_namespaced_pod(namespace, label_selector="airkube.io/dag=bad").items
    assert "Traceback" not in operator.output()[offset:]


@pytest.fixture
def refusing_policy(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> Iterator[None]:
    """A ValidatingAdmissionPolicy refusing the creation of pods labelled REJECT_LABEL in
    ``namespace``, but not their dry runs; in force when the fixture yields."""
    admission = client.AdmissionregistrationV1Api(api)
    # A short name: the event of the failed try shows the first 200 characters of the
    # API server's answer, which names the policy and its binding before the reason.
    name = f"reject-{secrets.token_hex(3)}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": (
                        "(has(request.dryRun) && request.dryRun) || "
                        "!has(object.metadata.labels) || "
                        f"!('{REJECT_LABEL}' in object.metadata.labels)"
                    ),
                    "message": DENIAL,
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            },
        },
    }
    admission.create_validating_admission_policy(policy)
    admission.create_validating_admission_policy_binding(binding)
    try:
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "probe-", "labels": {REJECT_LABEL: "yes"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
        }
        deadline = time.monotonic() + 30
        while True:
            try:
                made = core.create_namespaced_pod(namespace, probe)
            except ApiException as e:
                if e.status in (403, 422) and DENIAL in (e.body or ""):
                    break
                raise
            core.delete_namespaced_pod(made.metadata.name, namespace, grace_period_seconds=0)
            assert time.monotonic() < deadline, "the admission policy never came into force"
            time.sleep(0.5)  # the API server's policy informer catches up
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def test_a_pod_refused_at_creation_fails_the_try_with_the_api_servers_reason(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    refusing_policy: None,
) -> None:
    offset = len(operator.output())
    apply_dag(custom, namespace, "good", tasks=[task("a")])
    refused = {"metadata": {"labels": {REJECT_LABEL: "yes"}}}
    apply_dag(custom, namespace, "bad", tasks=[task("work", podTemplate=refused)])
    wait_dag(custom, namespace, "bad", lambda d: (ready_of(d) or {}).get("status") == "True")
    create_run(custom, namespace, "bad-1", "bad")
    create_run(custom, namespace, "good-1", "good")

    run = watch_run(custom, namespace, "bad-1", finished, timeout=60)
    assert state(run) == "Failed"
    work = tasks(run)["work"]
    assert work["reason"] == "PodRejected", work
    assert work["message"].startswith("the API server refused the pod: "), work
    assert DENIAL in work["message"], work
    notes = event_notes(api, namespace, "bad-1", "TaskFailed", DENIAL)
    assert any("PodRejected: " in n and DENIAL in n for n in notes), notes
    assert not any("PodLost" in n or "was deleted" in n for n in notes), notes

    good = watch_run(custom, namespace, "good-1", finished, timeout=60)
    assert state(good) == "Succeeded"
    assert "Traceback" not in operator.output()[offset:]
