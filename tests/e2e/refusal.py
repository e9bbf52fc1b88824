"""Making the real kube-apiserver refuse DAGRun status writes for a while.

:func:`refusing_status_writes` creates a ValidatingAdmissionPolicy whose CEL validation
is ``false`` for every UPDATE (a PATCH is an UPDATE to admission) of the
``dagruns/status`` subresource, bound with ``Deny`` to one namespace (a
``namespaceSelector`` on ``kubernetes.io/metadata.name``) or to all of them. The API
server then answers the operator's status patches with 422 Invalid, as it would a real
refusal, while every other write (pods, events, the DAGRun's spec) goes through.

Admission policies take effect asynchronously (the API server compiles them from its
informer), so entering waits until a probe is refused and leaving waits until the probe
passes again. The probe is a dry-run status patch of a throwaway DAGRun made for it
(its DAG does not exist, so the operator only marks it Waiting); nothing it sends is
stored. The policy, its binding and the probe run are always removed on the way out.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .waiting import GROUP, VERSION

REFUSAL_MESSAGE = "airkube test: DAGRun status writes are refused for a while"
PROBE_PREFIX = "airkube-refuse-status-"
"""The name of the policy, its binding and the probe run, before a random suffix."""
PROBE_NAMESPACE = "default"
"""Where the probe run goes when every namespace is refused."""


def _policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"airkube.io/test": "refusal"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["UPDATE"],
                        "resources": ["dagruns/status"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": REFUSAL_MESSAGE}],
        },
    }


def _binding(name: str, namespace: str | None) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if namespace is not None:
        match["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": namespace},
        }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": {"airkube.io/test": "refusal"}},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": match},
    }


def _probe_run(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAGRun",
        "metadata": {"name": name, "labels": {"airkube.io/test": "refusal"}},
        "spec": {"dagRef": {"name": f"{name}-no-such-dag"}},
    }


def status_write_refused(custom: client.CustomObjectsApi, namespace: str, run: str) -> bool:
    """Whether a (dry-run, so harmless) status patch of ``run`` is refused by the policy."""
    try:
        custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            "dagruns",
            run,
            {"status": {"reason": "RefusalProbe"}},
            dry_run="All",
        )
    except ApiException as e:
        if e.status == 422 and REFUSAL_MESSAGE in (e.body or ""):
            return True
        raise
    return False


def _wait_probe(
    custom: client.CustomObjectsApi, namespace: str, run: str, refused: bool, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while status_write_refused(custom, namespace, run) != refused:
        if time.monotonic() > deadline:
            what = "in force" if refused else "lifted"
            raise TimeoutError(f"status-write refusal not {what} after {timeout}s")
        time.sleep(0.1)


@contextlib.contextmanager
def refusing_status_writes(
    api: client.ApiClient, namespace: str | None, timeout: float = 30
) -> Iterator[None]:
    """For the duration of the block, the API server refuses every write of a DAGRun's
    status in ``namespace`` (None: in every namespace). The refusal is in force when the
    block starts and lifted when this returns."""
    admission = client.AdmissionregistrationV1Api(api)
    custom = client.CustomObjectsApi(api)
    name = f"{PROBE_PREFIX}{secrets.token_hex(4)}"
    probe_ns = namespace or PROBE_NAMESPACE
    custom.create_namespaced_custom_object(GROUP, VERSION, probe_ns, "dagruns", _probe_run(name))
    try:
        admission.create_validating_admission_policy(_policy(name))
        try:
            admission.create_validating_admission_policy_binding(_binding(name, namespace))
            try:
                _wait_probe(custom, probe_ns, name, refused=True, timeout=timeout)
                yield
            finally:
                _delete(admission.delete_validating_admission_policy_binding, name)
        finally:
            _delete(admission.delete_validating_admission_policy, name)
        _wait_probe(custom, probe_ns, name, refused=False, timeout=timeout)
    finally:
        _delete(
            lambda n: custom.delete_namespaced_custom_object(
                GROUP, VERSION, probe_ns, "dagruns", n
            ),
            name,
        )


def _delete(delete: Any, name: str) -> None:
    try:
        delete(name)
    except ApiException as e:
        if e.status != 404:
            raise
