"""What a pass measures for the metrics: runs started and finished, tries ended once each,
step latency from the last upstream end, scheduling delay; bounded label values."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from plankit import T0, World, dag

from airkube.api import DAGRunStatus, TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.measures import (
    OTHER,
    PassMeasures,
    TryEnd,
    label_value,
    pass_measures,
    schedule_delay,
)
from airkube.core.model.observed import PodPhase
from airkube.core.model.result import Plan


def measured_step(w: World) -> PassMeasures:
    """One pass of ``w``, measured as the controller does: from the status before it."""
    before = DAGRunStatus(
        state=w.run.state,
        start_time=w.run.start_time,
        end_time=w.run.end_time,
        tasks=dict(w.tasks),
    )
    p = w.step()
    return pass_measures(before, p, w.dag, w.now)


def test_a_chain_starts_measures_each_handoff_and_finishes_with_its_duration() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    first = measured_step(w)
    assert first.started
    assert first.finished is None
    assert first.step_latencies_s == (), "a root task has no upstream task to wait for"

    w.set_pod("a", PodPhase.RUNNING, start_time=T0)
    assert measured_step(w) == PassMeasures(), "nothing ended, nothing was created"

    w.set_pod("a", PodPhase.SUCCEEDED, finish_time=T0 + timedelta(seconds=10))
    w.advance(timedelta(seconds=12.5))
    handoff = measured_step(w)
    assert not handoff.started
    assert handoff.tries == (TryEnd("a", 1, TaskState.SUCCEEDED, ""),)
    assert handoff.step_latencies_s == (2.5,)

    w.set_pod("b", PodPhase.SUCCEEDED, start_time=w.now, finish_time=w.now)
    w.advance(timedelta(seconds=30))
    end = measured_step(w)
    assert end.tries == (TryEnd("b", 1, TaskState.SUCCEEDED, ""),)
    assert end.finished is RunState.SUCCEEDED
    assert end.duration_s == pytest.approx(42.5)

    assert measured_step(w).finished is None, "a finished run is counted once"


def test_the_latency_counts_from_the_last_upstream_end() -> None:
    w = World(dag({"name": "a"}, {"name": "b"}, {"name": "c", "dependsOn": ["a", "b"]}))
    measured_step(w)
    w.set_pod("a", PodPhase.SUCCEEDED, start_time=T0, finish_time=T0 + timedelta(seconds=5))
    w.advance(timedelta(seconds=6))
    assert measured_step(w).step_latencies_s == (), "c still waits for b"
    w.set_pod("b", PodPhase.SUCCEEDED, start_time=T0, finish_time=T0 + timedelta(seconds=8))
    w.advance(timedelta(seconds=4))
    assert measured_step(w).step_latencies_s == (2.0,)


def test_a_failed_try_then_its_retry_count_each_try_once_and_no_step_latency() -> None:
    w = World(
        dag(
            {"name": "up"},
            {"name": "a", "dependsOn": ["up"], "retries": 1, "retryDelay": "10s"},
        )
    )
    measured_step(w)
    w.set_pod("up", PodPhase.SUCCEEDED, start_time=T0, finish_time=T0)
    w.advance(timedelta(seconds=1))
    assert measured_step(w).step_latencies_s == (1.0,)

    w.set_pod("a", PodPhase.FAILED, exit_code=1, container_reason="Error")
    failed = measured_step(w)
    assert failed.tries == (TryEnd("a", 1, TaskState.UP_FOR_RETRY, "Error"),)

    w.advance(timedelta(seconds=11))
    retried = measured_step(w)
    assert [c.task for c in w.plans[-1].creates] == ["a"]
    assert retried.tries == (), "the try that ended was counted when it ended"
    assert retried.step_latencies_s == (), "a retry waits for its delay, not for upstream"

    w.set_pod("a", PodPhase.FAILED, exit_code=2, container_reason="OOMKilled")
    last = measured_step(w)
    assert last.tries == (TryEnd("a", 2, TaskState.FAILED, "OOMKilled"),)
    assert last.finished is RunState.FAILED


def test_a_try_that_ends_and_is_retried_in_the_same_pass_is_counted() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "0s"}))
    measured_step(w)
    w.set_pod("a", PodPhase.FAILED, exit_code=1, container_reason="Error")
    m = measured_step(w)
    assert w.tasks["a"].state is TaskState.QUEUED
    assert m.tries == (TryEnd("a", 1, TaskState.UP_FOR_RETRY, "Error"),)


def replace_state(status: TaskStatus, state: TaskState) -> TaskStatus:
    return status.model_copy(update={"state": state})


def test_a_later_change_of_an_ended_try_is_not_another_try() -> None:
    """A mark (or any rewrite) of a try that already ended changes its state, not the count."""
    ended = TaskStatus(state=TaskState.UP_FOR_RETRY, try_number=1, reason="Error")
    marked = replace_state(ended, TaskState.FAILED)
    plan = Plan(
        run_state=RunState.RUNNING,
        start_time=T0,
        end_time=None,
        tasks={"a": marked},
        changed=("a",),
        actions=(),
        events=(),
        next_wakeup=None,
    )
    before = DAGRunStatus(state=RunState.RUNNING, start_time=T0, tasks={"a": ended})
    assert pass_measures(before, plan, None, T0).tries == ()
    fresh = DAGRunStatus(state=RunState.RUNNING, start_time=T0, tasks={})
    assert pass_measures(fresh, plan, None, T0).tries == (
        TryEnd("a", 1, TaskState.FAILED, "Error"),
    )


def test_tasks_that_never_tried_are_no_tries() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    measured_step(w)
    w.set_pod("a", PodPhase.FAILED, exit_code=1)
    m = measured_step(w)
    assert w.tasks["b"].state is TaskState.UPSTREAM_FAILED
    assert [t.task for t in m.tries] == ["a"]
    assert m.finished is RunState.FAILED


def test_without_the_dag_no_latency_is_measured() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED, start_time=T0, finish_time=T0)
    before = DAGRunStatus(state=w.run.state, start_time=w.run.start_time, tasks=dict(w.tasks))
    p = w.step()
    assert p.creates
    assert pass_measures(before, p, None, w.now).step_latencies_s == ()
    assert pass_measures(before, p, w.dag, w.now).step_latencies_s == (0.0,)


def test_an_upstream_end_after_the_creation_time_counts_as_zero_not_negative() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED, start_time=T0, finish_time=T0 + timedelta(seconds=3))
    before = DAGRunStatus(state=w.run.state, start_time=w.run.start_time, tasks=dict(w.tasks))
    p = w.step()
    assert pass_measures(before, p, w.dag, T0).step_latencies_s == (0.0,)


def test_a_run_that_was_finished_already_is_not_finished_again() -> None:
    plan = Plan(
        run_state=RunState.FAILED,
        start_time=T0,
        end_time=T0 + timedelta(minutes=1),
        tasks={},
        changed=(),
        actions=(),
        events=(),
        next_wakeup=None,
    )
    done = DAGRunStatus(state=RunState.FAILED, start_time=T0)
    assert pass_measures(done, plan, None, T0).finished is None
    running = DAGRunStatus(state=RunState.RUNNING, start_time=T0)
    m = pass_measures(running, plan, None, T0)
    assert (m.finished, m.duration_s) == (RunState.FAILED, 60.0)
    never_started = replace(plan, start_time=None)
    assert pass_measures(DAGRunStatus(), never_started, None, T0).duration_s is None


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        (None, ""),
        ("", ""),
        ("OOMKilled", "OOMKilled"),
        ("Unschedulable", "Unschedulable"),
        ("PendingTimeout", "PendingTimeout"),
        ("not a word", OTHER),
        ("x" * 49, OTHER),
        ("Error: exit 1", OTHER),
        ("9Lives", OTHER),
    ],
)
def test_label_values_stay_few(reason: str | None, label: str) -> None:
    assert label_value(reason) == label


def test_schedule_delay_is_from_the_interval_end_never_negative() -> None:
    assert schedule_delay(T0, T0 + timedelta(seconds=1.5)) == 1.5
    assert schedule_delay(T0, T0 - timedelta(seconds=1)) == 0.0
