"""The history follows the status: the run reconciler writes the status first, then the
database from exactly what the status says; a failed or lost database write is caught up
from the status, and the events a killed process missed are posted once."""

from pathlib import Path
from typing import Any

import pytest

from airkube.controller.runs import RunReconciler
from airkube.store.errors import StoreError
from airkube.store.repository import Store
from unit.controller.fakes import run_body
from unit.controller.test_runs import NS, Scene

RETRIED = {
    "defaults": {"image": "busybox"},
    "tasks": [{"name": "a", "retries": 1, "retryDelay": "0s"}],
}
JOIN = {
    "defaults": {"image": "busybox"},
    "tasks": [
        {"name": "skip", "skipOnExitCode": [99]},
        {"name": "fail"},
        {"name": "join", "dependsOn": ["skip", "fail"]},
    ],
}


def restart(scene: Scene) -> None:
    """A new operator process on the same API server and database (the old one killed)."""
    old = scene.reconciler
    scene.reconciler = RunReconciler(
        kube=old.kube,
        store=old.store,
        runs=old.runs,
        dags=old.dags,
        pods_of=old.pods_of,
        wake_after=old.wake_after,
        db=old.db,
        status_budget=old.status_budget,
        clock=old.clock,
    )


def rows(store: Store, run: str) -> dict[tuple[str, int], tuple[str, bool]]:
    """(task, try) -> (state, whether it has ended) of every recorded try."""
    return {
        (t.task_name, t.try_number): (t.state, t.end_time is not None)
        for t in store.task_tries(NS, run)
    }


def assert_database_agrees(scene: Scene, run: str) -> None:
    status = scene.status(run)
    recorded = {t.task_name: t for t in scene.store.task_tries(NS, run)}  # the last try wins
    for name, task in status["tasks"].items():
        if task.get("tryNumber", 0) == 0 and task.get("state", "None") in ("None", "Scheduled"):
            assert name not in recorded, name
            continue
        row = recorded[name]
        assert (row.state, row.try_number) == (task["state"], task.get("tryNumber", 0)), name
        assert row.exit_code == task.get("exitCode"), name
        assert row.reason == task.get("reason"), name
    stored = scene.store.get_run(NS, run)
    assert stored is not None
    assert stored.state == status["state"]


def failing_store_writes(monkeypatch: pytest.MonkeyPatch, scene: Scene, times: int) -> None:
    real = scene.store.record_pass
    left = [times]

    def record_pass(*args: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise StoreError("metadata database: disk I/O error")
        real(*args)

    monkeypatch.setattr(scene.store, "record_pass", record_pass)


def test_a_pass_whose_status_write_is_refused_writes_nothing_to_the_database(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, JOIN, run_body("r1", "etl"))
    scene.kube.fail("patch_status", times=1)
    with pytest.raises(Exception, match="500"):
        scene.reconcile("r1")
    assert scene.store.get_run(NS, "r1") is None
    assert scene.store.task_tries(NS, "r1") == []
    scene.reconcile("r1")
    assert_database_agrees(scene, "r1")


def test_the_join_after_a_skip_and_a_failure_agrees_in_status_and_database_despite_refusals(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, JOIN, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("skip"), "Failed", 99)
    scene.set_phase(scene.pod_of("fail"), "Failed", 1)
    scene.kube.fail("patch_status", times=3)
    for _ in range(3):  # the status updates refused for a while
        scene.clock.advance(seconds=4)
        with pytest.raises(Exception, match="500"):
            scene.reconcile("r1")
    scene.reconcile("r1")
    status = scene.status("r1")
    assert {n: t["state"] for n, t in status["tasks"].items()} == {
        "skip": "Skipped",
        "fail": "Failed",
        "join": "UpstreamFailed",
    }
    assert_database_agrees(scene, "r1")


def test_a_try_retried_in_the_pass_that_ended_it_is_kept_by_the_status_until_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = Scene(tmp_path, RETRIED, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.clock.advance(seconds=5)
    failing_store_writes(monkeypatch, scene, times=1)
    scene.reconcile("r1")  # status written (try 2), the database write fails

    (ended,) = scene.status("r1")["endedTries"]
    assert (ended["task"], ended["tryNumber"], ended["state"]) == ("a", 1, "UpForRetry")
    assert rows(scene.store, "r1") == {("a", 1): ("Queued", False)}

    restart(scene)  # the process dies; the next one catches the database up from the status
    scene.reconcile("r1")
    assert rows(scene.store, "r1") == {("a", 1): ("UpForRetry", True), ("a", 2): ("Queued", False)}
    scene.set_phase(_pod_of_try(scene, 2), "Succeeded", 0)
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Succeeded"
    assert "endedTries" not in status  # recorded: the status let them go
    assert rows(scene.store, "r1") == {
        ("a", 1): ("UpForRetry", True),
        ("a", 2): ("Succeeded", True),
    }


def _pod_of_try(scene: Scene, try_number: int) -> str:
    (name,) = [
        p
        for p in scene.pods()
        if scene.kube.objects[("pods", NS, p)]["metadata"]["labels"]["airkube.io/try"]
        == str(try_number)
    ]
    return name


def test_tasks_waiting_for_a_slot_get_no_row_and_a_task_that_never_tried_gets_one(
    tmp_path: Path,
) -> None:
    spec = {
        "defaults": {"image": "busybox"},
        "maxActiveTasks": 1,
        "tasks": [{"name": "a"}, {"name": "b"}, {"name": "after", "dependsOn": ["a"]}],
    }
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    scene.reconcile("r1")
    tasks = scene.status("r1")["tasks"]
    assert (tasks["a"]["state"], tasks["b"]["state"]) == ("Queued", "Scheduled")
    assert rows(scene.store, "r1") == {("a", 1): ("Queued", False)}
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.reconcile("r1")
    assert rows(scene.store, "r1") == {
        ("a", 1): ("Failed", True),
        ("after", 0): ("UpstreamFailed", True),
        ("b", 1): ("Queued", False),
    }


def test_a_database_outage_is_caught_up_from_the_status_once_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = Scene(tmp_path, RETRIED, run_body("r1", "etl"))
    failing_store_writes(monkeypatch, scene, times=4)
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.clock.advance(seconds=5)
    scene.reconcile("r1")
    scene.set_phase(_pod_of_try(scene, 2), "Succeeded", 0)
    scene.reconcile("r1")  # the run ends; its database writes fail (the pass's, the end's)
    assert scene.status("r1")["state"] == "Succeeded"
    assert scene.store.get_run(NS, "r1") is None
    scene.reconcile("r1")  # woken again: the database is back
    assert rows(scene.store, "r1") == {
        ("a", 1): ("UpForRetry", True),
        ("a", 2): ("Succeeded", True),
    }
    assert_database_agrees(scene, "r1")
    assert "endedTries" not in scene.status("r1")


def test_events_a_killed_operator_missed_are_posted_by_the_next_one_once(tmp_path: Path) -> None:
    scene = Scene(tmp_path, {**RETRIED, "tasks": [{"name": "a"}]}, run_body("r1", "etl"))
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.kube.fail("post_event", times=2)  # killed after the status write: none posted
    scene.reconcile("r1")
    assert scene.status("r1")["state"] == "Failed"
    assert scene.kube.events == []
    for _ in range(2):
        restart(scene)
        scene.reconcile("r1")
    assert sorted(e["reason"] for e in scene.kube.events) == ["RunFailed", "TaskFailed"]
