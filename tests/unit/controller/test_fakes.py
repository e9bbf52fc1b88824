"""The controller's fakes answer as the real things do (the tests that use them rely on it)."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes.client.exceptions import ApiException

from airkube.kube.apply import Kube, PodResult
from unit.controller.fakes import FakeClock, FakeKube, dag_body, run_body, runs_informer

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_fake_kube_has_every_public_method_of_kube_with_its_parameters() -> None:
    fake = public_methods(FakeKube)
    for name, signature in public_methods(Kube).items():
        assert name in fake, f"FakeKube lacks Kube.{name}"
        assert list(fake[name].parameters) == list(signature.parameters), name
        assert inspect.iscoroutinefunction(getattr(FakeKube, name)) == (
            inspect.iscoroutinefunction(getattr(Kube, name))
        ), name


def pod(name: str, owner_uid: str | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "DAGRun", "name": "r", "uid": owner_uid}]
    return {"metadata": meta, "spec": {"containers": [{"name": "task", "image": "x"}]}}


def test_a_second_create_of_the_same_name_is_already_exists() -> None:
    kube = FakeKube(FakeClock(NOW))
    body = run_body("r", "etl")
    assert asyncio.run(kube.create_resource("dagruns", "default", body)) is True
    assert asyncio.run(kube.create_resource("dagruns", "default", body)) is False
    assert kube.names("dagruns") == ["r"]
    results = asyncio.run(kube.create_pods("default", [pod("p"), pod("p"), pod("q")]))
    assert results == [PodResult("p", True), PodResult("p", False), PodResult("q", True)]
    assert kube.get("pods", "default", "p")["status"] == {"phase": "Pending"}


def test_a_refused_pod_is_an_error_result_and_is_not_created() -> None:
    kube = FakeKube()
    kube.refuse_pod("p", 'Pod "p" is invalid: spec.containers[0].image: Required value')
    (result,) = asyncio.run(kube.create_pods("default", [pod("p")]))
    assert result == PodResult("p", created=False, error=kube.refused["p"])
    assert kube.names("pods") == []


def test_deleting_what_is_gone_is_done_and_a_patch_of_it_is_false() -> None:
    kube = FakeKube()
    asyncio.run(kube.delete_pods("default", ["nope"]))
    asyncio.run(kube.delete_resource("dagruns", "default", "nope"))
    assert asyncio.run(kube.patch_status("dagruns", "default", "nope", {"state": "x"})) is False
    assert [c.method for c in kube.calls] == ["delete_pods", "delete_resource", "patch_status"]


def test_a_status_patch_is_a_merge_patch_and_is_watched() -> None:
    kube = FakeKube()
    runs = runs_informer()
    kube.add("dagruns", run_body("r", "etl", status={"a": 1, "b": {"c": 2, "d": 3}}))
    kube.watch("dagruns", runs.update)  # the objects that exist come first, as ADDED
    assert asyncio.run(kube.patch_status("dagruns", "default", "r", {"a": None, "b": {"c": 5}}))
    assert kube.get("dagruns", "default", "r")["status"] == {"b": {"c": 5, "d": 3}}
    assert runs.get(("default", "r"))["status"] == {"b": {"c": 5, "d": 3}}
    assert [key for key, _ in runs.in_group(("default", "etl"))] == [("default", "r")]


def test_a_method_made_to_fail_raises_then_works_again() -> None:
    kube = FakeKube()
    kube.add("dags", dag_body("etl", {}))
    kube.fail("patch_status", times=2)
    for _ in range(2):
        with pytest.raises(ApiException):
            asyncio.run(kube.patch_status("dags", "default", "etl", {"x": 1}))
    assert asyncio.run(kube.patch_status("dags", "default", "etl", {"x": 1}))
    assert [c.error is not None for c in kube.calls_to("patch_status")] == [True, True, False]


def test_a_failed_event_is_not_posted_and_does_not_raise() -> None:
    kube = FakeKube()
    run = run_body("r", "etl")
    kube.fail("post_event")
    asyncio.run(kube.post_event(run, type_="Normal", reason="A", note="n", now=NOW))
    asyncio.run(kube.post_event(run, type_="Warning", reason="B", note="n", now=NOW))
    assert [e["reason"] for e in kube.events] == ["B"]


def test_deleting_a_run_deletes_its_pods() -> None:
    kube = FakeKube()
    seen: list[tuple[str, str]] = []
    kube.watch("pods", lambda event, body: seen.append((event, body["metadata"]["name"])))
    run = kube.add("dagruns", run_body("r", "etl"))
    asyncio.run(kube.create_pods("default", [pod("mine", run["metadata"]["uid"]), pod("other")]))
    asyncio.run(kube.delete_resource("dagruns", "default", "r"))
    assert kube.names("pods") == ["other"]
    assert seen == [("ADDED", "mine"), ("ADDED", "other"), ("DELETED", "mine")]


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(NOW)
    assert clock() == NOW == clock()
    assert clock.advance(minutes=5) == NOW + timedelta(minutes=5)
    assert clock.advance(timedelta(hours=1)) == NOW + timedelta(hours=1, minutes=5)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(seconds=-1)
    assert clock.set(NOW) == clock() == NOW
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))
