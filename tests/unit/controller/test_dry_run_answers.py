"""Kube.dry_run_pod: what each answer of the API server means for a DAG (a refusal of the
pod, no verdict, or a failure to retry), and that the manifest goes out as it is, with
dryRun=All and fieldValidation=Strict."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from airkube.kube.apply import Kube


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body

    def read(self) -> bytes:
        return self._body


class FakeApi:
    """The two ApiClient calls dry_run_pod makes."""

    def __init__(self, status: int, message: str | None) -> None:
        self.status = status
        self.body = json.dumps({"kind": "Status", "message": message}).encode() if message else b""
        self.request: dict[str, Any] = {}

    def param_serialize(self, **request: Any) -> tuple[Any, ...]:
        self.request = request
        return (request["method"], request["resource_path"], {}, request["body"], None)

    def call_api(self, *args: Any) -> FakeResponse:
        return FakeResponse(self.status, self.body)


def ask(status: int, message: str | None = None) -> tuple[str | None, FakeApi]:
    api = FakeApi(status, message)
    kube = Kube(api, concurrency=1)  # type: ignore[arg-type]
    manifest = {"metadata": {"generateName": "x-"}, "spec": {"nodeSelecter": {"a": "b"}}}
    try:
        return asyncio.run(kube.dry_run_pod("team", manifest)), api
    finally:
        kube.close()


STRICT = 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field'
INVALID = 'Pod "x-abcde" is invalid: spec.containers[1].image: Required value'
POLICY = 'pods "x-abcde" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot'


@pytest.mark.parametrize(
    ("status", "message", "verdict"),
    [
        (201, None, None),
        (400, STRICT, STRICT),
        (422, INVALID, INVALID),
        (403, POLICY, POLICY),
        (403, 'pods "x" is forbidden: exceeded quota: q, requested: pods=1', None),
        (
            403,
            "unable to create new content in namespace team because it is being terminated",
            None,
        ),
        (400, 'admission webhook "w.example.com" does not support dry run', None),
        (404, 'namespaces "team" not found', None),
    ],
)
def test_what_an_answer_means(status: int, message: str | None, verdict: str | None) -> None:
    answer, api = ask(status, message)
    assert answer == verdict
    assert api.request["query_params"] == [("dryRun", "All"), ("fieldValidation", "Strict")]
    assert api.request["path_params"] == {"namespace": "team"}
    assert api.request["body"]["spec"] == {"nodeSelecter": {"a": "b"}}  # sent as it is


@pytest.mark.parametrize(("status", "message"), [(500, "etcdserver: timeout"), (429, None)])
def test_an_answer_that_says_nothing_about_the_pod_raises(status: int, message: str | None) -> None:
    with pytest.raises(ApiException) as caught:
        ask(status, message)
    assert caught.value.status == status


def test_a_pod_the_client_itself_refuses_is_a_rejected_pod_not_an_exception() -> None:
    from kubernetes import client

    # The client checks the body against its models before any request: no server needed.
    api = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))
    kube = Kube(api, concurrency=1)
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"nodeSelecter": {"a": "b"}, "containers": [{"name": "task", "image": "x"}]},
    }
    try:
        [result] = asyncio.run(kube.create_pods("team", [manifest]))
    finally:
        kube.close()
    assert not result.created
    assert result.error == (
        "the Kubernetes client refuses the pod: spec.nodeSelecter: Extra inputs are not permitted"
    )
