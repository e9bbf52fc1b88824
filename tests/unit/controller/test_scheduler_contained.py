"""One DAG's bad input never stops the schedule loop (issue 15): runs whose dates no
datetime can hold or the model refuses do not break the DAG's lastRun, and a failure
computing one DAG's schedule is one warning, one event on it and a retry with backoff,
while another DAG's runs are still created."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

import airkube.controller.scheduler as scheduler_module
from airkube.controller.scheduler import SCHEDULE_FAILED, Scheduler, last_run, runs_of
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
TASKS = [{"name": "a", "image": "busybox:1.36"}]
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
CREATED = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "logical",
    [
        "0000-01-01T00:00:00Z",
        "2026-01-01T00:00:00+25:00",
        "0001-01-01T12:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "not a date",
        12,
    ],
)
def test_last_run_passes_over_a_date_the_model_refuses(logical: Any) -> None:
    bad = run_body("bad", "d", spec={"logicalDate": logical}, created=CREATED)
    good = run_body(
        "good", "d", spec={"logicalDate": "2026-11-21T00:00:00Z"}, status={"state": "Succeeded"}
    )
    found = last_run([bad, good])
    assert found is not None
    assert found.name == "good"
    alone = last_run([bad])
    assert alone is not None
    assert alone.logical_date == CREATED


def test_last_run_with_a_state_no_airkube_wrote() -> None:
    found = last_run([run_body("r", "d", status={"state": "Exploded"})])
    assert found is not None
    assert found.state is None


class Loop:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.kube = FakeKube(self.clock)
        self.dags = informer_of()
        self.runs = runs_informer()
        self.kube.watch("dags", self.dags.update)
        self.kube.watch("dagruns", self.runs.update)
        for name in ("good", "bad"):
            self.kube.add(
                "dags",
                dag_body(
                    name,
                    {"schedule": "@daily", "startDate": "2026-11-20", "tasks": TASKS},
                ),
            )
        self.wakeups = Wakeups()
        self.scheduler = Scheduler(
            kube=self.kube.as_kube(),
            dags=self.dags,
            runs=self.runs,
            wake_after=self.wakeups.after,
            wake_status=self.wakeups.now,
            clock=self.clock,
        )

    def reconcile(self, dag: str) -> None:
        asyncio.run(self.scheduler.reconcile((NS, dag)))


def test_a_failing_schedule_is_contained_to_its_dag(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = scheduler_module.next_runs

    def next_runs(dag: str, *args: Any, **kwargs: Any) -> Any:
        if dag == "bad":
            raise OverflowError("date value out of range")
        return real(dag, *args, **kwargs)

    monkeypatch.setattr(scheduler_module, "next_runs", next_runs)
    loop = Loop()
    with caplog.at_level(logging.WARNING):
        loop.reconcile("bad")
        first = loop.wakeups.delays[(NS, "bad")]
        loop.reconcile("bad")
        second = loop.wakeups.delays[(NS, "bad")]
        loop.reconcile("good")
    assert 0 < first < second
    warnings = [r for r in caplog.records if "bad" in r.getMessage()]
    assert len(warnings) == 2
    assert all(r.exc_info is None for r in warnings)
    assert "OverflowError: date value out of range" in warnings[0].getMessage()
    events = [e for e in loop.kube.events if e["regarding"]["name"] == "bad"]
    assert [e["reason"] for e in events] == [SCHEDULE_FAILED]
    assert "OverflowError" in events[0]["note"]
    assert loop.kube.names("dagruns", NS) == ["good-scheduled-20261123t000000"]


def test_a_fixed_schedule_resets_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    real = scheduler_module.next_runs
    broken = [True]

    def next_runs(*args: Any, **kwargs: Any) -> Any:
        if broken[0]:
            raise ValueError("no")
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduler_module, "next_runs", next_runs)
    loop = Loop()
    loop.reconcile("bad")
    assert loop.scheduler.failures[(NS, "bad")] == 1
    broken[0] = False
    loop.reconcile("bad")
    assert (NS, "bad") not in loop.scheduler.failures
    assert loop.kube.names("dagruns", NS) == ["bad-scheduled-20261123t000000"]


def test_a_dag_whose_runs_carry_hostile_dates_still_schedules() -> None:
    loop = Loop()
    for i, logical in enumerate(["0000-01-01T00:00:00Z", "2026-01-01T00:00:00+25:00"]):
        loop.kube.add("dagruns", run_body(f"odd-{i}", "good", spec={"logicalDate": logical}))
    assert len(runs_of(loop.runs, NS, "good")) == 2
    loop.reconcile("good")
    assert "good-scheduled-20261123t000000" in loop.kube.names("dagruns", NS)
