"""Kube's raw requests (dry runs, pod creation, status patches): what each answer of the
API server means (a refusal of the pod, no verdict, a failure to retry), and that the body
goes out as it is, through no client model."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
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


@pytest.mark.parametrize(
    ("status", "message", "created", "error"),
    [
        (201, None, True, None),
        (409, 'pods "p" already exists', False, None),
        (422, INVALID, False, INVALID),
        (400, STRICT, False, STRICT),
    ],
)
def test_a_pod_is_created_from_its_manifest_as_it_is_and_a_refusal_is_a_rejected_pod(
    status: int, message: str | None, created: bool, error: str | None
) -> None:
    api = FakeApi(status, message)
    kube = Kube(api, concurrency=1)  # type: ignore[arg-type]
    manifest = {"metadata": {"name": "p"}, "spec": {"nodeSelecter": {"a": "b"}}}
    try:
        [result] = asyncio.run(kube.create_pods("team", [manifest]))
    finally:
        kube.close()
    assert (result.name, result.created, result.error) == ("p", created, error)
    assert api.request["method"] == "POST"
    assert api.request["path_params"] == {"namespace": "team"}
    assert api.request["query_params"] == []
    assert api.request["body"] == manifest  # no client model in between


def test_a_pod_create_the_api_server_cannot_answer_raises() -> None:
    api = FakeApi(503, "etcdserver: leader changed")
    kube = Kube(api, concurrency=1)  # type: ignore[arg-type]
    try:
        with pytest.raises(ApiException) as caught:
            asyncio.run(kube.create_pods("team", [{"metadata": {"name": "p"}}]))
    finally:
        kube.close()
    assert caught.value.status == 503


@pytest.mark.parametrize(("status", "written"), [(200, True), (404, False)])
def test_a_status_is_merge_patched_and_a_gone_resource_says_so(status: int, written: bool) -> None:
    api = FakeApi(status, None)
    kube = Kube(api, concurrency=1)  # type: ignore[arg-type]
    try:
        result = asyncio.run(kube.patch_status("dagruns", "team", "r1", {"state": "Running"}))
    finally:
        kube.close()
    assert result is written
    assert api.request["method"] == "PATCH"
    assert api.request["resource_path"].endswith("/dagruns/{name}/status")
    assert api.request["header_params"]["Content-Type"] == "application/merge-patch+json"
    assert api.request["body"] == {"status": {"state": "Running"}}


def test_an_event_note_is_cut_to_1024_bytes_not_characters() -> None:
    posted: list[Any] = []

    class Events:
        def create_namespaced_event(self, namespace: str, event: Any) -> None:
            posted.append(event)

    kube = Kube.__new__(Kube)
    kube.events = Events()  # type: ignore[assignment]

    async def write(fn: Any, *args: Any) -> None:
        fn(*args)

    kube._write = write  # type: ignore[method-assign,assignment]
    involved = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "d", "namespace": "n"}}
    note = "a → b " * 400  # 3-byte arrows: 2,800 characters, 4,000 bytes
    asyncio.run(
        kube.post_event(involved, type_="Warning", reason="Cycle", note=note, now=datetime.now(UTC))
    )
    sent = posted[0].note
    assert len(sent.encode()) <= 1024
    assert note.startswith(sent)
