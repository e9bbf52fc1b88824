"""The run reconciler with a fake Kubernetes, a fake clock and a real (SQLite) database:
it fetches, calls the kernel and applies; these tests check what reaches the API server."""

import asyncio
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from airkube.api import DAGSpec
from airkube.controller.podmap import observe_pod, owner_uid, run_key
from airkube.controller.runs import RunReconciler
from airkube.core.model.observed import ObservedPod
from airkube.core.spec_hash import spec_hash
from airkube.store.repository import Store
from unit.controller.fakes import (
    FakeClock,
    FakeKube,
    Wakeups,
    dag_body,
    informer_of,
    run_body,
    runs_informer,
)

NS = "default"
CHAIN = {
    "defaults": {"image": "busybox"},
    "tasks": [{"name": "a"}, {"name": "b", "dependsOn": ["a"]}],
}


class Scene:
    """A DAG, its runs, the fake API server and a reconciler wired to them."""

    def __init__(self, tmp_path: Path, dag_spec: Mapping[str, Any], *runs: dict[str, Any]) -> None:
        self.clock = FakeClock()
        self.kube = FakeKube(self.clock)
        self.dags = informer_of(dag_body("etl", dag_spec))
        self.runs = runs_informer()
        self.kube.watch("dagruns", self.runs.update)
        for body in runs:
            self.kube.add("dagruns", body)
        self.store = Store.from_url(f"sqlite:///{tmp_path / 'airkube.db'}")
        self.wakeups = Wakeups()
        self._seen: dict[tuple[str, str], ObservedPod] = {}
        self.reconciler = RunReconciler(
            kube=self.kube.as_kube(),
            store=self.store,
            runs=self.runs,
            dags=self.dags,
            pods_of=self.pods_of,
            wake_after=self.wakeups.after,
            db=self.db,
            status_budget=256 * 1024,
            clock=self.clock,
        )

    async def db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def pods_of(self, key: tuple[str, str], uid: str) -> Iterable[ObservedPod]:
        """As the watch index gives them: an unchanged pod is the same object."""
        for (plural, _, name), body in list(self.kube.objects.items()):
            if plural != "pods" or run_key(body) != key or owner_uid(body) != uid:
                continue
            version = (name, str(body["metadata"].get("resourceVersion")))
            if version not in self._seen:
                pod = observe_pod(body)
                assert pod is not None
                self._seen[version] = pod
            yield self._seen[version]

    def reconcile(self, name: str) -> None:
        asyncio.run(self.reconciler.reconcile((NS, name)))

    def status(self, name: str) -> dict[str, Any]:
        body = self.kube.get("dagruns", NS, name)
        assert body is not None
        return dict(body.get("status") or {})

    def pods(self) -> list[str]:
        return sorted(self.kube.names("pods", NS))

    def pod_of(self, task: str) -> str:
        (name,) = [p for p in self.pods() if f"-{task}-" in p]
        return name

    def set_phase(self, pod: str, phase: str, exit_code: int | None = None) -> None:
        status: dict[str, Any] = {"phase": phase, "startTime": "2026-11-24T00:00:01Z"}
        if exit_code is not None:
            status["containerStatuses"] = [
                {
                    "name": "task",
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "finishedAt": "2026-11-24T00:00:02Z",
                        }
                    },
                }
            ]
        self.kube.change("pods", NS, pod, {"status": status})


def test_a_run_pins_its_dag_creates_its_first_pod_and_records_the_version(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Running"
    assert status["tasks"]["a"]["state"] == "Queued"
    assert scene.pods() == [status["tasks"]["a"]["podName"]]
    assert scene.store.get_dag_version(NS, "etl", status["dagVersion"]) is not None


def test_a_run_goes_on_as_its_pods_end_and_finishes(tmp_path: Path) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Succeeded", 0)
    scene.reconcile("r1")
    assert scene.status("r1")["tasks"]["b"]["state"] == "Queued"
    scene.set_phase(scene.pod_of("b"), "Succeeded", 0)
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Succeeded"
    assert status["progress"] == "2/2"
    assert [c.args["reason"] for c in scene.kube.calls_to("post_event")] == ["RunSucceeded"]


def test_a_run_waits_for_a_slot_among_max_active_runs(tmp_path: Path) -> None:
    running = run_body(
        "r0",
        "etl",
        spec={"logicalDate": "2026-11-20T00:00:00Z"},
        status={"state": "Running", "startTime": "2026-11-20T00:00:00Z"},
    )
    scene = Scene(tmp_path, {**CHAIN, "maxActiveRuns": 1}, running, run_body("r1", "etl"))
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status.get("state", "Queued") == "Queued"
    (waiting,) = status["conditions"]
    assert waiting["reason"] == "MaxActiveRuns"
    assert "maxActiveRuns 1" in waiting["message"]
    assert scene.pods() == []


def test_a_run_whose_params_become_invalid_stops_its_tasks_and_pods(tmp_path: Path) -> None:
    spec = {**CHAIN, "params": {"limit": {"type": "integer", "default": 1}}}
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    scene.reconcile("r1")
    pod = scene.pod_of("a")
    scene.set_phase(pod, "Running")
    scene.reconcile("r1")
    assert scene.status("r1")["tasks"]["a"]["state"] == "Running"
    scene.kube.change("dagruns", NS, "r1", {"spec": {"params": {"limit": "many"}}})
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Failed"
    assert status["reason"] == "InvalidParams"
    assert {t["state"] for t in status["tasks"].values()} <= {"Skipped"}
    assert scene.pods() == []
    reasons = [c.args["reason"] for c in scene.kube.calls_to("post_event")]
    assert "InvalidParams" in reasons


def test_a_run_whose_dag_version_is_lost_fails_and_leaves_no_pod(tmp_path: Path) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Running")
    # Another process (say): its memory is gone, and so is the version it pinned.
    scene.reconciler.forget((NS, "r1"))
    scene.kube.change("dagruns", NS, "r1", {"status": {"dagVersion": "0" * 16}})
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Failed"
    assert status["reason"] == "DAGVersionLost"
    assert status["tasks"]["a"]["state"] == "Skipped"
    assert scene.pods() == []


def test_a_refused_status_write_never_leads_to_a_second_pod(tmp_path: Path) -> None:
    scene = Scene(tmp_path, {**CHAIN, "tasks": [{"name": "a"}]}, run_body("r1", "etl"))
    scene.kube.fail("patch_status", times=1)
    with pytest.raises(Exception, match="500"):
        scene.reconcile("r1")
    scene.reconcile("r1")
    created = [r for c in scene.kube.calls_to("create_pods") for r in c.result if r.created]
    assert len(created) == 1
    assert scene.status("r1")["tasks"]["a"]["podName"] == created[0].name


def test_finished_runs_past_the_history_limit_are_deleted_oldest_first(tmp_path: Path) -> None:
    def done(name: str, ended: str) -> dict[str, Any]:
        status = {"state": "Succeeded", "startTime": ended, "endTime": ended}
        return run_body(name, "etl", status=status)

    spec = {**CHAIN, "tasks": [{"name": "a"}], "successfulRunsHistoryLimit": 2}
    scene = Scene(
        tmp_path, spec, done("old", "2026-11-01T00:00:00Z"), done("mid", "2026-11-02T00:00:00Z")
    )
    scene.kube.add("dagruns", run_body("new", "etl"))
    scene.reconcile("new")
    scene.set_phase(scene.pod_of("a"), "Succeeded", 0)
    scene.reconcile("new")
    assert scene.status("new")["state"] == "Succeeded"
    assert sorted(scene.kube.names("dagruns", NS)) == ["mid", "new"]


def test_a_run_of_a_dag_whose_pods_the_api_server_refuses_waits_and_creates_none(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    version = spec_hash(DAGSpec.from_dict(CHAIN))
    refused = {
        "dagVersion": version,
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "PodRefused",
                "message": 'task "a": spec.dnsPolicy: Unsupported value: "Sometimes"',
            }
        ],
    }
    scene.dags.update("MODIFIED", dag_body("etl", CHAIN, status=refused))
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status.get("state", "Queued") == "Queued"
    (waiting,) = status["conditions"]
    assert waiting["reason"] == "DAGInvalid"
    assert "dnsPolicy" in waiting["message"]
    assert scene.pods() == []


def test_a_deleted_run_is_recorded_as_deleted_by_its_next_pass_and_keeps_its_history(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    uid = scene.kube.get("dagruns", NS, "r1")["metadata"]["uid"]  # type: ignore[index]
    scene.kube.remove("dagruns", NS, "r1")
    scene.reconciler.deleted((NS, "r1"), uid)
    scene.clock.advance(seconds=30)
    scene.reconcile("r1")
    stored = scene.store.get_run(NS, "r1")
    assert stored is not None
    assert stored.resource_deleted_at == scene.clock()
    assert scene.reconciler.memory == {}


def test_a_try_that_fails_and_is_retried_in_the_same_pass_keeps_its_own_row(
    tmp_path: Path,
) -> None:
    spec = {
        "defaults": {"image": "busybox"},
        "tasks": [{"name": "a", "retries": 1, "retryDelay": "0s"}],
    }
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.clock.advance(seconds=5)  # past the pod's end: the retry is due at once
    scene.reconcile("r1")
    assert scene.status("r1")["tasks"]["a"]["tryNumber"] == 2
    tries = {t.try_number: t.state for t in scene.store.task_tries(NS, "r1")}
    assert tries == {1: "UpForRetry", 2: "Queued"}


def test_a_failed_pass_is_one_warning_event_on_the_run_per_distinct_error(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))

    async def fail_twice_then_another() -> None:
        for error in ("KeyError: 'x'", "KeyError: 'x'", "ValueError: y"):
            await scene.reconciler.failed((NS, "r1"), error, 5.0)

    asyncio.run(fail_twice_then_another())
    notes = [e["note"] for e in scene.kube.events if e["reason"] == "ReconcileError"]
    assert len(notes) == 2
    assert notes[0].startswith("airkube could not handle this run: KeyError: 'x'; it tries again")
    assert "ValueError: y" in notes[1]


def test_a_mark_request_reopens_a_finished_run_and_the_database_follows_it(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.reconcile("r1")
    assert scene.status("r1")["state"] == "Failed"
    scene.reconcile("r1")  # a finished run without a new request: nothing planned
    mark = {"id": "m1", "state": "Succeeded", "tasks": ["a"]}
    scene.kube.change("dagruns", NS, "r1", {"spec": {"mark": mark}})
    scene.reconcile("r1")
    status = scene.status("r1")
    assert (status["state"], status["lastMarkId"], status["clearNumber"]) == ("Running", "m1", 1)
    assert (status["tasks"]["a"]["state"], status["tasks"]["a"]["reason"]) == (
        "Succeeded",
        "MarkedSuccess",
    )
    assert status["tasks"]["b"]["state"] == "Queued"
    tries = {
        (t.task_name, t.try_number): (t.state, t.reason) for t in scene.store.task_tries(NS, "r1")
    }
    assert tries[("a", 1)] == ("Succeeded", "MarkedSuccess")
    scene.set_phase(scene.pod_of("b"), "Succeeded", 0)
    scene.reconcile("r1")
    assert scene.status("r1")["state"] == "Succeeded"
    stored = scene.store.get_run(NS, "r1")
    assert stored is not None
    assert (stored.state, stored.clear_number) == ("Succeeded", 1)

    # The run as a whole marked Failed: the finished run's row follows it too.
    scene.kube.change(
        "dagruns", NS, "r1", {"spec": {"mark": {"id": "m2", "state": "Failed", "tasks": None}}}
    )
    scene.reconcile("r1")
    assert (scene.status("r1")["state"], scene.status("r1")["reason"]) == ("Failed", "MarkedFailed")
    stored = scene.store.get_run(NS, "r1")
    assert stored is not None
    assert stored.state == "Failed"
