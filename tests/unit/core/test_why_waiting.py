"""Why a task is not running: the planner's own reasons, as a table, and checked against
what the planner does with the same inputs."""

from datetime import timedelta
from typing import Any

import pytest
from plankit import T0, dag, pod, run

from airkube.api import TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.model.observed import PodPhase
from airkube.core.plan import plan
from airkube.core.plan.why import WaitKind, why_waiting
from airkube.core.rules.admission import RunStanding

S = TaskState
NO_SECRET = 'CreateContainerConfigError: secret "creds" not found'


def st(state: TaskState, **fields: Any) -> TaskStatus:
    return TaskStatus(state=state, **fields)


DAG = dag(
    {"name": "a"},
    {"name": "b"},
    {"name": "c", "dependsOn": ["a", "b"]},
    {"name": "d", "dependsOn": ["a", "b"], "triggerRule": "one_success"},
    {"name": "e", "dependsOn": ["a"], "triggerRule": "all_failed"},
    maxActiveTasks=2,
    maxActiveRuns=1,
)


@pytest.mark.parametrize(
    ("tasks", "name", "kind", "words"),
    [
        (
            {"a": st(S.SUCCEEDED), "b": st(S.RUNNING)},
            "c",
            WaitKind.TRIGGER_RULE,
            ["all_success", "waiting for b", "1 of 2"],
        ),
        (
            {"a": st(S.RUNNING), "b": st(S.QUEUED)},
            "d",
            WaitKind.TRIGGER_RULE,
            ["one_success", "a, b", "0 of 2"],
        ),
        ({"a": st(S.RUNNING)}, "e", WaitKind.TRIGGER_RULE, ["all_failed", "waiting for a"]),
        ({"a": st(S.SUCCEEDED), "b": st(S.SUCCEEDED)}, "c", WaitKind.NEXT_PASS, ["Run"]),
        (
            {"a": st(S.RUNNING), "b": st(S.QUEUED), "c": st(S.SCHEDULED)},
            "c",
            WaitKind.MAX_ACTIVE_TASKS,
            ["2 tasks", "maxActiveTasks 2"],
        ),
        ({"a": st(S.RUNNING), "c": st(S.SCHEDULED)}, "c", WaitKind.NEXT_PASS, ["next pass"]),
        (
            {
                "a": st(
                    S.UP_FOR_RETRY,
                    try_number=1,
                    reason="Error",
                    next_retry_time=T0 + timedelta(seconds=95),
                )
            },
            "a",
            WaitKind.RETRY_TIMER,
            ["try 1 failed (Error)", "try 2 starts in 1m35s"],
        ),
        (
            {"a": st(S.UP_FOR_RETRY, try_number=1, next_retry_time=T0 - timedelta(seconds=1))},
            "a",
            WaitKind.NEXT_PASS,
            ["retry delay is over"],
        ),
        (
            {
                "a": st(
                    S.QUEUED,
                    try_number=1,
                    reason="Unschedulable",
                    message="waiting for its pod: Unschedulable: 0/2 nodes are available",
                )
            },
            "a",
            "Unschedulable",
            ["its pod waits: Unschedulable: 0/2 nodes"],
        ),
        (
            {
                "a": st(
                    S.QUEUED,
                    try_number=1,
                    reason="CreateContainerConfigError",
                    message="waiting for its pod: " + NO_SECRET,
                )
            },
            "a",
            "CreateContainerConfigError",
            ['secret "creds" not found'],
        ),
        ({"a": st(S.QUEUED, try_number=1)}, "a", WaitKind.POD_PENDING, ["not started"]),
    ],
)
def test_reasons(tasks: dict[str, TaskStatus], name: str, kind: str, words: list[str]) -> None:
    [reason] = why_waiting(DAG, tasks, name, T0)
    assert reason.reason == kind
    for word in words:
        assert word in reason.message
    if kind == WaitKind.RETRY_TIMER:
        assert reason.until == tasks[name].next_retry_time
    if kind == WaitKind.TRIGGER_RULE:
        assert set(reason.waiting_for) <= {"a", "b"}
        assert reason.waiting_for


@pytest.mark.parametrize("state", [S.RUNNING, S.SUCCEEDED, S.FAILED, S.SKIPPED, S.UPSTREAM_FAILED])
def test_nothing_to_say_of_a_running_or_finished_task(state: TaskState) -> None:
    assert why_waiting(DAG, {"a": st(state, try_number=1)}, "a", T0) == []


def test_a_queued_run_waits_for_max_active_runs() -> None:
    runs = [
        RunStanding("old", RunState.RUNNING, True, T0),
        RunStanding("new", RunState.QUEUED, False, T0 + timedelta(days=1)),
    ]
    [reason] = why_waiting(
        DAG, {}, "a", T0, run="new", dag_name="etl", run_state=RunState.QUEUED, runs=runs
    )
    assert reason.reason == WaitKind.MAX_ACTIVE_RUNS
    assert "maxActiveRuns 1" in reason.message
    assert "etl" in reason.message
    # Once the old one ended, the run is admitted: the task's own reason shows.
    runs[0] = RunStanding("old", RunState.SUCCEEDED, True, T0)
    [reason] = why_waiting(
        DAG, {}, "a", T0, run="new", dag_name="etl", run_state=RunState.QUEUED, runs=runs
    )
    assert reason.reason == WaitKind.NEXT_PASS


def test_agrees_with_the_planner() -> None:
    """What why_waiting says holds a task back is what the planner does with it: tasks it
    says wait for their trigger rule or a slot stay so after a pass; those it says the next
    pass moves on do move."""
    tasks = {
        "a": st(S.RUNNING, try_number=1, pod_name="p-a"),
        "b": st(S.SUCCEEDED, try_number=1),
        "c": st(S.NONE),
        "d": st(S.NONE),
        "e": st(S.NONE),
    }
    p = plan(
        DAG,
        run(state=RunState.RUNNING, start_time=T0),
        tasks,
        [pod("p-a", "a", phase=PodPhase.RUNNING)],
        T0,
    )
    for name in "cde":
        reasons = why_waiting(DAG, tasks, name, T0)
        moved = p.tasks[name].state is not tasks[name].state
        assert moved == (reasons[0].reason == WaitKind.NEXT_PASS), (name, reasons, p.tasks[name])
