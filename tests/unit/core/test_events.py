"""The events that matter follow from the statuses they announce (core.rules.events)."""

from datetime import timedelta

from plankit import T0

from airkube.api import DAGRunStatus, EndedTry, RunState, TaskState, TaskStatus
from airkube.core.rules.events import RECENT, run_end_event, status_events, task_end_event

S = timedelta(seconds=1)


def failed(try_number: int, state: TaskState, ended: timedelta = S) -> TaskStatus:
    return TaskStatus(
        state=state,
        try_number=try_number,
        end_time=T0 + ended,
        reason="Error",
        message="line one\nexit code 1",
        next_retry_time=T0 + 2 * S if state is TaskState.UP_FOR_RETRY else None,
    )


def test_a_retried_try_and_a_failed_task_announce_themselves_with_their_last_line() -> None:
    retrying = task_end_event("a", failed(1, TaskState.UP_FOR_RETRY), 3)
    assert retrying is not None
    assert (retrying.reason, retrying.key) == ("TaskRetrying", "task/a/1/UpForRetry")
    assert retrying.message.startswith('task "a" try 1 of 3 failed (Error: exit code 1)')
    done = task_end_event("a", failed(3, TaskState.FAILED), 3)
    assert done is not None
    assert (done.reason, done.key) == ("TaskFailed", "task/a/3/Failed")


def test_other_task_states_announce_nothing() -> None:
    for state in (TaskState.SUCCEEDED, TaskState.SKIPPED, TaskState.RUNNING):
        assert task_end_event("a", TaskStatus(state=state, try_number=1)) is None


def test_the_same_transition_has_the_same_key_whoever_derives_it() -> None:
    status = failed(2, TaskState.FAILED)
    assert task_end_event("a", status, 2).key == task_end_event("a", status).key  # type: ignore[union-attr]
    assert (
        run_end_event(RunState.FAILED, "x", 1).key
        == run_end_event(RunState.FAILED, "y", 1, "InvalidParams").key
    )
    assert run_end_event(RunState.FAILED, "x", 1).key != run_end_event(RunState.FAILED, "x", 2).key


def test_a_status_gives_the_recent_events_of_its_tries_and_its_end() -> None:
    status = DAGRunStatus(
        state=RunState.FAILED,
        end_time=T0 + 3 * S,
        message="tasks failed: a",
        tasks={
            "a": failed(2, TaskState.FAILED),
            "old": failed(1, TaskState.FAILED, ended=-RECENT),
            "ok": TaskStatus(state=TaskState.SUCCEEDED, try_number=1, end_time=T0),
        },
        ended_tries=[EndedTry(task="a", **dict(failed(1, TaskState.UP_FOR_RETRY)))],
    )
    events = status_events(status, T0 + 10 * S)
    assert [e.key for e in events] == [
        "task/a/1/UpForRetry",
        "task/a/2/Failed",
        "run/0/Failed",
    ]
    assert status_events(status, T0 + RECENT + 10 * S) == []
