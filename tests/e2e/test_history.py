"""The metadata database agrees with the run's status, try by try, on a real API server:
also when the API server refuses the status writes for a while."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from kubernetes import client

from .history import recorded
from .operator_process import OperatorProcess
from .refusal import refusing_status_writes
from .resources import TERMINAL, apply_dag, create_run, events_of, sim, state, task, tasks
from .waiting import watch_run


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def assert_database_agrees(
    custom: client.CustomObjectsApi, operator: OperatorProcess, namespace: str, run: dict[str, Any]
) -> None:
    """Every task's current try in the status is the task's last row, field by field."""
    name = run["metadata"]["name"]
    stored, rows = recorded(custom, operator.db_url, namespace, name)
    last = {t.task_name: t for t in rows}  # ordered by try: the last one wins
    got = {n: (r.try_number, r.state, r.exit_code, r.reason, r.pod_name) for n, r in last.items()}
    want = {
        n: (t.get("tryNumber", 0), t["state"], t.get("exitCode"), t.get("reason"), t.get("podName"))
        for n, t in tasks(run).items()
    }
    assert got == want
    assert all(r.end_time is not None for r in rows), rows
    assert stored is not None
    assert stored.state == state(run)


def test_a_join_after_a_skip_and_a_failure_agrees_in_status_and_database_through_refusals(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "joins",
        tasks=[
            task("skip", skipOnExitCode=[99], podTemplate=sim(duration="2s", exit_code="99")),
            task("fail", podTemplate=sim(duration="2s", exit_code="1")),
            task("join", "skip", "fail"),
        ],
    )
    create_run(custom, namespace, "joins-1", "joins")
    watch_run(
        custom,
        namespace,
        "joins-1",
        lambda r: all(tasks(r).get(t, {}).get("state") == "Queued" for t in ("skip", "fail")),
        timeout=30,
    )
    with refusing_status_writes(api, namespace):
        # The pods end while no status can be written: passes decide and are refused.
        time.sleep(10)
    run = watch_run(custom, namespace, "joins-1", finished, timeout=60)

    assert state(run) == "Failed", run["status"]
    assert (tasks(run)["skip"]["state"], tasks(run)["fail"]["state"]) == ("Skipped", "Failed")
    assert tasks(run)["join"]["state"] in ("Skipped", "UpstreamFailed")
    assert_database_agrees(custom, operator, namespace, run)


def test_every_try_of_a_retried_task_is_recorded_and_ended_and_no_row_is_a_placeholder(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "flaky",
        maxActiveTasks=1,
        tasks=[
            task(
                "flaky",
                retries=2,
                retryDelay="0s",
                podTemplate=sim(duration="300ms", exit_code="1", message="no route to host"),
            ),
            task("waits", podTemplate=sim(duration="300ms")),
            task("after", "flaky"),
        ],
    )
    create_run(custom, namespace, "flaky-1", "flaky")
    run = watch_run(custom, namespace, "flaky-1", finished, timeout=60)

    assert state(run) == "Failed", run["status"]
    _, rows = recorded(custom, operator.db_url, namespace, "flaky-1")
    assert [(r.task_name, r.try_number, r.state) for r in rows] == [
        ("after", 0, "UpstreamFailed"),
        ("flaky", 1, "UpForRetry"),
        ("flaky", 2, "UpForRetry"),
        ("flaky", 3, "Failed"),
        ("waits", 1, "Succeeded"),
    ]
    for r in rows:
        assert r.end_time is not None, r
        if r.try_number:
            assert r.pod_name, r
            assert r.exit_code is not None, r
            assert r.start_time is not None, r
    flaky = [r for r in rows if r.task_name == "flaky"]
    assert all(r.exit_code == 1 and r.message == "no route to host" for r in flaky), flaky
    assert_database_agrees(custom, operator, namespace, run)
    assert "endedTries" not in run["status"]

    events = events_of(api, namespace, "flaky-1", {"TaskRetrying", "TaskFailed"})
    notes = Counter((e.reason, e.note) for e in events)
    ends = sorted(r for (r, _) in notes if r in ("TaskRetrying", "TaskFailed"))
    assert ends == ["TaskFailed", "TaskRetrying", "TaskRetrying"], notes
    assert set(notes.values()) == {1}, notes
