"""The schedule loop (controller/scheduler.py) against a fake Kubernetes and a fake clock:
due runs are created with deterministic names, catchup is bounded by maxActiveRuns and
resumes as runs end, a paused DAG gets nothing, a restarted operator creates nothing
twice, and the DAG's status and timer follow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from airkube.api import RunState
from airkube.controller.scheduler import Scheduler
from unit.controller.fakes import (
    FakeClock,
    FakeKube,
    Wakeups,
    api_error,
    dag_body,
    informer_of,
    runs_informer,
)

NS, DAG = "default", "etl"
KEY = (NS, DAG)
TASKS = [{"name": "extract", "image": "busybox:1.36", "command": ["true"]}]


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def scheduled(day: int) -> str:
    """The name of the daily run whose logical date is midnight of November ``day``."""
    return f"{DAG}-scheduled-202611{day:02d}t000000"


class World:
    """One DAG in a fake cluster, the operator's informers fed by the fake's watch, and a
    schedule loop (:meth:`restart` replaces it by a fresh one, as a new process)."""

    def __init__(self, now: datetime, **spec: Any) -> None:
        self.clock = FakeClock(now)
        self.kube = FakeKube(self.clock)
        self.dags = informer_of()
        self.runs = runs_informer()
        self.kube.watch("dags", self.dags.update)
        self.kube.watch("dagruns", self._run_event)
        self.woken = False
        self.kube.add("dags", dag_body(DAG, {"schedule": "@daily", "tasks": TASKS, **spec}))
        self.wakeups = Wakeups()
        self.scheduler = self.restart()

    def restart(self) -> Scheduler:
        self.scheduler = Scheduler(
            kube=self.kube.as_kube(),
            dags=self.dags,
            runs=self.runs,
            wake_after=self.wakeups.after,
            wake_status=self.wakeups.now,
            clock=self.clock,
        )
        return self.scheduler

    def _run_event(self, event: str, body: dict[str, Any]) -> None:
        """The operator's run handler: a run that appears, ends or goes wakes its DAG."""
        before = self.runs.get((NS, body["metadata"]["name"]))
        self.runs.update(event, body)
        ended = RunState(body.get("status", {}).get("state", RunState.QUEUED)).finished
        was_ended = (
            before is not None
            and RunState(before.get("status", {}).get("state", RunState.QUEUED)).finished
        )
        if before is None or event == "DELETED" or (ended and not was_ended):
            self.woken = True

    def reconcile(self) -> None:
        """One pass of the DAG's key, its status write left queued."""
        asyncio.run(self.scheduler.reconcile(KEY))

    def write_status(self) -> None:
        """The status queue's worker: write what the passes queued."""
        woken, self.wakeups.woken = self.wakeups.woken, []
        for key in dict.fromkeys(woken):
            asyncio.run(self.scheduler.write_status(key))

    def tick(self) -> None:
        """One pass and its status write."""
        self.woken = False
        self.reconcile()
        self.write_status()

    def settle(self) -> None:
        """Passes until no run event wakes the DAG again (lastRun follows run events)."""
        for _ in range(10):
            self.tick()
            if not self.woken:
                return
        raise AssertionError("the schedule loop does not settle")

    def run_names(self) -> list[str]:
        return self.kube.names("dagruns", NS)

    def created(self) -> list[str]:
        """The runs created by the loop's calls, in call order (AlreadyExists included)."""
        return [c.args["body"]["metadata"]["name"] for c in self.kube.calls_to("create_resource")]

    def status(self) -> dict[str, Any]:
        body = self.kube.get("dags", NS, DAG)
        assert body is not None
        return dict(body.get("status") or {})

    def end(self, run: str, state: RunState = RunState.SUCCEEDED) -> None:
        self.kube.change("dagruns", NS, run, {"status": {"state": state.value}})

    def delay(self) -> timedelta | None:
        seconds = self.wakeups.delays.pop(KEY, None)
        return None if seconds is None else timedelta(seconds=seconds)


def test_a_due_interval_gets_its_run_with_a_deterministic_name() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-20", catchup=False)
    world.settle()
    assert world.run_names() == [scheduled(23)]
    run = world.kube.get("dagruns", NS, scheduled(23))
    assert run is not None
    assert run["metadata"]["labels"] == {"airkube.io/dag": DAG}
    assert run["spec"] == {
        "dagRef": {"name": DAG},
        "runType": "scheduled",
        "logicalDate": "2026-11-23T00:00:00Z",
        "dataIntervalStart": "2026-11-23T00:00:00Z",
        "dataIntervalEnd": "2026-11-24T00:00:00Z",
        "cancel": False,
    }
    status = world.status()
    assert status["nextRunTime"] == "2026-11-25T00:00:00Z"
    assert status["lastScheduledRun"]["name"] == scheduled(23)
    assert status["lastRun"]["name"] == scheduled(23)
    assert world.delay() == at(25) - at(24, 0, 30)


def test_nothing_is_created_before_the_interval_ends_then_once_at_its_end() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-24")
    world.tick()
    assert world.run_names() == []
    assert world.status()["nextRunTime"] == "2026-11-25T00:00:00Z"
    assert world.delay() == timedelta(hours=23, minutes=30)

    world.clock.set(at(25))  # the timer fires
    world.settle()
    assert world.run_names() == [scheduled(24)]
    assert world.delay() == timedelta(days=1)

    world.clock.advance(seconds=1)  # woken again (a watch event) within the same interval
    world.tick()
    assert world.created() == [scheduled(24)]
    assert world.delay() == timedelta(days=1, seconds=-1)


def test_catchup_creates_missed_intervals_oldest_first_within_max_active_runs() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-19", catchup=True, maxActiveRuns=2)
    world.settle()
    assert world.created() == [scheduled(19), scheduled(20)]
    assert world.delay() is None  # held back: a run's end wakes the loop, not a timer
    world.tick()  # woken without a run ending: still held back
    assert world.created() == [scheduled(19), scheduled(20)]

    world.end(scheduled(19))
    world.settle()
    assert world.created() == [scheduled(19), scheduled(20), scheduled(21)]
    assert world.status()["lastRun"]["name"] == scheduled(21)

    world.end(scheduled(20), RunState.FAILED)  # a failed run frees its slot as well
    world.end(scheduled(21))
    world.settle()
    assert world.created() == [scheduled(d) for d in (19, 20, 21, 22, 23)]
    # 22 and 23 fill both slots and catch up: the timer waits for 24's interval to end.
    assert world.delay() == timedelta(hours=23, minutes=30)

    world.end(scheduled(22))
    world.settle()
    assert len(world.created()) == 5
    assert world.status()["nextRunTime"] == "2026-11-25T00:00:00Z"
    assert world.delay() == timedelta(hours=23, minutes=30)


def test_a_paused_dag_gets_no_run_and_no_next_run_time_until_unpaused() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-19", catchup=False, paused=True)
    world.kube.change("dags", NS, DAG, {"status": {"nextRunTime": "2026-11-20T00:00:00Z"}})
    world.tick()
    assert world.run_names() == []
    assert "nextRunTime" not in world.status()
    assert world.delay() is None

    world.kube.change("dags", NS, DAG, {"spec": {"paused": False}})
    world.tick()
    assert world.run_names() == [scheduled(23)]  # catchup false: only the latest interval


def test_a_restarted_operator_does_not_create_a_run_again() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-19", catchup=True)
    world.settle()
    first = world.run_names()
    assert first == [scheduled(d) for d in (19, 20, 21, 22, 23)]
    calls = len(world.kube.calls)

    world.restart()
    world.settle()
    assert world.run_names() == first
    assert world.kube.calls_to("create_resource")[5:] == []
    assert len(world.kube.calls) == calls  # nothing changed, so nothing written either


def test_a_restart_before_the_status_was_written_meets_already_exists() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-20", catchup=False)
    world.reconcile()  # the run is created; the process dies before its status write
    assert world.run_names() == [scheduled(23)]
    assert "lastScheduledRun" not in world.status()

    world.restart()
    world.wakeups.woken.clear()
    world.tick()
    (again,) = world.kube.calls_to("create_resource")[1:]
    assert again.args["body"]["metadata"]["name"] == scheduled(23)
    assert again.result is False  # AlreadyExists: success, nothing created twice
    assert world.run_names() == [scheduled(23)]
    assert world.status()["lastScheduledRun"]["name"] == scheduled(23)


def test_a_failed_status_write_is_written_by_the_retry() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-20", catchup=False)
    world.kube.fail("patch_status")
    world.reconcile()
    with pytest.raises(ApiException):
        asyncio.run(world.scheduler.write_status(KEY))
    assert world.status() == {}

    asyncio.run(world.scheduler.write_status(KEY))  # the work queue's retry
    assert world.status()["lastScheduledRun"]["name"] == scheduled(23)
    assert world.status()["nextRunTime"] == "2026-11-25T00:00:00Z"


def test_a_failed_run_creation_fails_the_pass_and_the_next_pass_creates_it() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-20", catchup=False)
    world.kube.fail("create_resource", api_error(503, "Service Unavailable"))
    with pytest.raises(ApiException):
        world.reconcile()
    assert world.run_names() == []
    world.tick()
    assert world.run_names() == [scheduled(23)]


def test_an_invalid_dag_gets_no_run_and_no_status_from_the_loop() -> None:
    world = World(at(24, 0, 30), startDate="2026-11-20", schedule="not a cron")
    world.tick()
    assert world.run_names() == []
    assert world.kube.calls == []
    assert world.delay() is None
