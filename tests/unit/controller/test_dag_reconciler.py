"""The DAG reconciler with a fake Kubernetes, a fake clock and a real (SQLite) store:
the Ready condition, the version in the database, the dry run once per version, events,
waking the schedule and the waiting runs, deletion, and failures left to the work queue
to retry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airkube.controller.dags import DagReconciler
from airkube.controller.informer import Informer, Key, dag_of_run
from airkube.controller.workqueue import retry_delay
from airkube.store import Store
from unit.controller.fakes import FakeClock, FakeKube

NS = "team"
KEY: Key = (NS, "etl")
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class DagKube(FakeKube):
    """The shared fake Kubernetes, with the views a DAG pass's tests read."""

    @property
    def patches(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The status patches the API server took."""
        return [
            (c.args["plural"], c.args["namespace"], c.args["name"], dict(c.args["status"]))
            for c in self.calls_to("patch_status")
            if c.error is None and c.result
        ]

    @property
    def dry_runs(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (c.args["namespace"], c.args["manifest"])
            for c in self.calls_to("dry_run_pod")
            if c.error is None
        ]


@dataclass
class Harness:
    reconciler: DagReconciler
    kube: DagKube
    clock: FakeClock
    store: Store
    dags: Informer
    runs: Informer
    failed: list[str] = field(default_factory=list)
    """What each failed pass raised (the work queue retries it)."""
    scheduled: list[Key] = field(default_factory=list)
    forgotten: list[Key] = field(default_factory=list)
    woken_runs: list[Key] = field(default_factory=list)

    def apply(self, spec: dict[str, Any], *, uid: str = "uid-1", generation: int = 1) -> None:
        body = {
            "apiVersion": "airkube.io/v1alpha1",
            "kind": "DAG",
            "metadata": {"namespace": NS, "name": KEY[1], "uid": uid, "generation": generation},
            "spec": spec,
        }
        self.dags.update("MODIFIED", body)
        ref = ("dags", NS, KEY[1])
        stored = self.kube.objects.get(ref)
        if stored is None or stored["metadata"].get("uid") != uid:
            self.kube.objects.pop(ref, None)
            self.kube.add("dags", body)
        else:
            self.kube.change("dags", NS, KEY[1], {"spec": spec})

    def write_back_status(self) -> None:
        """What the watch brings back after the status patch (generation unchanged)."""
        body = self.dags.get(KEY)
        assert body is not None
        status = dict(body.get("status") or {})
        for *_, patch in self.kube.patches:
            status.update({k: v for k, v in patch.items() if v is not None})
        self.dags.update("MODIFIED", {**body, "status": status})

    def pass_(self) -> None:
        try:
            asyncio.run(self.reconciler.reconcile(KEY))
        except Exception as e:
            self.failed.append(f"{type(e).__name__}: {e}")

    def status(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for *_, patch in self.kube.patches:
            merged.update(patch)
        return merged

    def ready(self) -> dict[str, Any]:
        [condition] = [c for c in self.status()["conditions"] if c["type"] == "Ready"]
        return condition


async def _db(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'airkube.db'}")
    clock = FakeClock(T0)
    kube = DagKube(clock)
    dags = Informer()
    runs = Informer(group_of=dag_of_run)
    harness = Harness(
        reconciler=None,  # type: ignore[arg-type]
        kube=kube,
        clock=clock,
        store=store,
        dags=dags,
        runs=runs,
    )
    harness.reconciler = DagReconciler(
        kube=kube,
        store=store,
        dags=dags,
        runs=runs,
        db=_db,
        clock=clock,
        wake_schedule=harness.scheduled.append,
        forget_schedule=harness.forgotten.append,
        wake_run=harness.woken_runs.append,
    )
    try:
        yield harness
    finally:
        store.close()


def spec(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"defaults": {"image": "busybox"}, "tasks": list(tasks) or [{"name": "a"}]}


def add_run(h: Harness, name: str, **status: Any) -> Key:
    body = {
        "metadata": {"namespace": NS, "name": name},
        "spec": {"dagRef": {"name": KEY[1]}},
        "status": status,
    }
    return h.runs.update("ADDED", body)


def test_a_valid_dag_is_ready_recorded_and_wakes_its_schedule_and_waiting_runs(
    h: Harness,
) -> None:
    waiting = add_run(h, "etl-1")
    started = add_run(h, "etl-2", dagVersion="abc")
    h.apply(spec({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    h.pass_()

    ready = h.ready()
    assert (ready["status"], ready["reason"]) == ("True", "Valid")
    assert ready["lastTransitionTime"] == "2026-11-28T09:00:00Z"
    version = h.status()["dagVersion"]
    assert h.status()["observedGeneration"] == 1
    stored = h.store.get_dag(*KEY)
    assert stored is not None
    assert stored.current_spec_hash == version
    assert [ns for ns, _ in h.kube.dry_runs] == [NS]  # a and b are alike: one trial pod
    assert h.kube.events == []
    assert h.scheduled == [KEY]
    assert h.woken_runs == [waiting]
    assert started not in h.woken_runs
    assert h.failed == []


def test_our_own_status_write_coming_back_is_no_work(h: Harness) -> None:
    h.apply(spec())
    h.pass_()
    h.write_back_status()
    h.pass_()
    assert len(h.kube.patches) == 1
    assert len(h.kube.dry_runs) == 1
    assert h.scheduled == [KEY]


@pytest.mark.parametrize(
    ("task", "reason", "message"),
    [
        (
            {"name": "a", "args": ["{{ ds | nosuchfilter }}"]},
            "BadTemplate",
            'task "a": args[0]: unknown filter "nosuchfilter"',
        ),
        (
            {"name": "a", "podTemplate": {"spec": {"nodeSelecter": {"disk": "ssd"}}}},
            "InvalidPodField",
            'task "a": podTemplate.spec.nodeSelecter: unknown field (did you mean "nodeSelector"?)',
        ),
        ({"name": "a", "dependsOn": ["zz"]}, "UnknownDependency", "which is not a task"),
    ],
)
def test_an_invalid_dag_is_not_ready_with_an_event_and_no_version(
    h: Harness, task: dict[str, Any], reason: str, message: str
) -> None:
    h.apply(spec(task))
    h.pass_()
    ready = h.ready()
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert message in ready["message"]
    assert "dagVersion" not in h.status()
    assert h.store.get_dag(*KEY) is None
    assert h.kube.dry_runs == []  # no dry run of an invalid spec
    [event] = h.kube.events
    assert (event["type"], event["reason"]) == ("Warning", reason)
    assert message in event["note"]
    assert h.failed == []  # a bad spec is an answer, not a failure to retry


def test_a_pod_the_api_server_refuses_makes_the_dag_not_ready_naming_the_task(
    h: Harness,
) -> None:
    refused = 'Pod "airkube-dry-run-abcde" is invalid: spec.dnsPolicy: Unsupported value: "S"'
    h.kube.refuse_pod("web", refused)
    h.apply(spec({"name": "ok"}, {"name": "web", "podTemplate": {"spec": {"dnsPolicy": "S"}}}))
    h.pass_()
    ready = h.ready()
    assert (ready["status"], ready["reason"]) == ("False", "PodRefused")
    assert ready["message"] == (
        'task "web": the API server refuses its pod: spec.dnsPolicy: Unsupported value: "S"'
    )
    assert len(h.kube.dry_runs) == 2
    assert [e["reason"] for e in h.kube.events] == ["PodRefused"]

    # The same version again (the DAG deleted and created anew): no second dry run.
    h.dags.update("DELETED", h.dags.get(KEY) or {})
    h.pass_()
    h.apply(spec({"name": "ok"}, {"name": "web", "podTemplate": {"spec": {"dnsPolicy": "S"}}}))
    h.pass_()
    assert len(h.kube.dry_runs) == 4  # deletion forgot the verdict: asked again once
    h.apply(
        spec({"name": "ok"}, {"name": "web", "podTemplate": {"spec": {"dnsPolicy": "S"}}}),
        generation=2,
    )
    h.pass_()
    assert len(h.kube.dry_runs) == 4  # a new generation with the same spec: cached


def test_a_failing_pass_raises_for_the_work_queue_and_a_later_pass_succeeds(h: Harness) -> None:
    add_run(h, "etl-1")
    h.kube.fail("patch_status", ConnectionError("refused"))
    h.kube.fail("patch_status", TimeoutError("slow"))
    h.apply(spec())
    h.pass_()
    h.clock.advance(seconds=1)
    h.pass_()
    assert h.failed == ["ConnectionError: refused", "TimeoutError: slow"]
    assert h.kube.patches == []
    assert h.woken_runs == [(NS, "etl-1")] * 2  # woken even by a failed pass, as before
    h.clock.advance(seconds=2)
    h.pass_()
    assert h.ready()["status"] == "True"
    assert h.ready()["lastTransitionTime"] == "2026-11-28T09:00:03Z"
    assert len(h.failed) == 2


def test_a_dry_run_that_cannot_be_answered_fails_the_pass_before_any_status(h: Harness) -> None:
    h.kube.fail("dry_run_pod", OSError("connection reset"))
    h.apply(spec())
    h.pass_()
    assert h.failed == ["OSError: connection reset"]
    assert h.kube.patches == []
    h.pass_()
    assert h.ready()["status"] == "True"


def test_retry_delays_double_up_to_five_minutes() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 9, 10, 100)] == [1, 2, 4, 256, 300, 300]


def test_a_deleted_dag_is_marked_deleted_and_a_new_one_is_validated_afresh(h: Harness) -> None:
    h.apply(spec())
    h.pass_()
    h.dags.update("DELETED", h.dags.get(KEY) or {})
    h.clock.advance(seconds=60)
    h.pass_()
    stored = h.store.get_dag(*KEY)
    assert stored is not None
    assert stored.deleted_at is not None
    assert h.forgotten == [KEY]
    h.apply(spec({"name": "a"}, {"name": "b"}), uid="uid-2")
    h.pass_()
    assert len(h.kube.patches) == 2
    stored = h.store.get_dag(*KEY)
    assert stored is not None
    assert stored.deleted_at is None


def test_a_dag_deleted_while_its_status_is_written_is_left_alone(h: Harness) -> None:
    h.apply(spec({"name": "a", "dependsOn": ["zz"]}))
    h.kube.remove("dags", NS, KEY[1])
    h.pass_()
    assert h.kube.events == []
    assert h.failed == []


def test_the_reconciler_can_run_from_the_work_queue(h: Harness) -> None:
    from airkube.controller.workqueue import WorkQueue

    async def main() -> None:
        queue: WorkQueue[Key] = WorkQueue(first_retry_delay=0.01)
        h.kube.fail("patch_status", ConnectionError("refused"))
        h.apply(spec())
        queue.add(KEY)
        runner = asyncio.create_task(queue.run(h.reconciler.reconcile, 2))
        deadline = asyncio.get_running_loop().time() + 5
        while not h.kube.patches and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(main())
    assert h.ready()["status"] == "True"  # the retry after 1 s wrote it
