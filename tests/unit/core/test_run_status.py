"""The run's status: counts, progress, duration, and the task map under a byte budget."""

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from plankit import T0, World, dag

from airkube.api import DAGRun, RunState, TaskState, TaskStatus
from airkube.core.model.observed import PodPhase
from airkube.core.status import (
    DEFAULT_STATUS_BUDGET,
    TaskMap,
    compact_status,
    count_tasks,
    progress,
    run_status,
)


def size(tasks: dict[str, TaskStatus]) -> int:
    data = {name: status.to_dict() for name, status in tasks.items()}
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def test_counts_and_progress() -> None:
    tasks = {
        "a": TaskStatus(state=TaskState.SUCCEEDED),
        "b": TaskStatus(state=TaskState.FAILED),
        "c": TaskStatus(state=TaskState.RUNNING),
        "d": TaskStatus(state=TaskState.SKIPPED),
        "e": TaskStatus(),
    }
    counts = count_tasks(tasks)
    assert (counts.total, counts.succeeded, counts.failed, counts.running) == (5, 1, 1, 1)
    assert (counts.skipped, counts.none, counts.queued) == (1, 1, 0)
    assert progress(counts) == "3/5"


def test_small_maps_are_kept_whole() -> None:
    tasks = {f"t{i}": TaskStatus(state=TaskState.SUCCEEDED, output="x" * 100) for i in range(10)}
    compact = compact_status(tasks, 10_000)
    assert compact.tasks == tasks
    assert compact.omitted == 0


def test_tasks_the_database_lacks_are_never_left_out_up_to_three_budgets() -> None:
    tasks = {
        f"t{i:04}": TaskStatus(state=TaskState.SUCCEEDED, output="x" * 500) for i in range(100)
    }
    tasks["t0050"] = TaskStatus(state=TaskState.FAILED, message="boom", try_number=3)
    compact = TaskMap(4096).compact(tasks, keep=["t0003", "t0001"])
    assert list(compact.tasks) == ["t0001", "t0003", "t0050"]
    many = TaskMap(4096).compact(tasks, keep=list(tasks))
    assert 4096 < size(many.tasks) <= 3 * 4096
    assert many.omitted == 100 - len(many.tasks)


def test_past_the_budget_running_and_failed_tasks_are_kept() -> None:
    tasks = {
        f"t{i:04}": TaskStatus(state=TaskState.SUCCEEDED, output="x" * 500) for i in range(100)
    }
    tasks["t0050"] = TaskStatus(state=TaskState.FAILED, message="boom", try_number=3)
    tasks["t0007"] = TaskStatus(state=TaskState.RUNNING, try_number=1, pod_name="p")
    tasks["t0009"] = TaskStatus(state=TaskState.UP_FOR_RETRY, try_number=1)
    tasks["t0011"] = TaskStatus(state=TaskState.UPSTREAM_FAILED)
    compact = compact_status(tasks, 4096)
    assert list(compact.tasks) == ["t0007", "t0009", "t0050"]
    assert compact.omitted == 97
    assert size(compact.tasks) <= 4096


def test_big_outputs_are_dropped_before_tasks() -> None:
    tasks = {
        "a": TaskStatus(state=TaskState.RUNNING),
        "b": TaskStatus(state=TaskState.FAILED, message="m" * 3000, output="o" * 3000),
        "c": TaskStatus(state=TaskState.SUCCEEDED),
    }
    compact = compact_status(tasks, 1000)
    assert set(compact.tasks) == {"a", "b"}
    assert compact.tasks["b"].output is None
    assert compact.tasks["b"].message == "m" * 256
    assert size(compact.tasks) <= 1000


statuses = st.builds(
    TaskStatus,
    state=st.sampled_from(list(TaskState)),
    try_number=st.integers(0, 5),
    message=st.one_of(st.none(), st.text(max_size=600)),
    output=st.one_of(st.none(), st.text(max_size=600)),
)


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), statuses, max_size=40
    ),
    budget=st.integers(0, 20_000),
)
def test_compaction_always_fits_the_budget(tasks: dict[str, TaskStatus], budget: int) -> None:
    compact = compact_status(tasks, budget)
    assert compact.omitted == len(tasks) - len(compact.tasks)
    assert list(compact.tasks) == [name for name in tasks if name in compact.tasks]
    if size(tasks) <= budget:
        assert compact.tasks == tasks
    else:
        assert size(compact.tasks) <= max(budget, 2)
        kept = {TaskState.RUNNING, TaskState.QUEUED, TaskState.UP_FOR_RETRY, TaskState.FAILED}
        assert all(status.state in kept for status in compact.tasks.values())


def test_a_5000_task_run_stays_under_256_kib() -> None:
    tasks = {
        f"task-{i:05}": TaskStatus(
            state=TaskState.SUCCEEDED if i % 10 else TaskState.RUNNING,
            try_number=1,
            pod_name=f"warehouse-scheduled-2024-05-01-task-{i:05}-1-0123abcd",
            queued_time=T0,
            start_time=T0,
            end_time=T0 + timedelta(minutes=3),
            exit_code=0,
            output="x" * 200,
        )
        for i in range(5000)
    }
    compact = compact_status(tasks, DEFAULT_STATUS_BUDGET)
    assert compact.omitted > 0
    assert len(compact.tasks) == 500  # every running task fits
    resource = {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAGRun",
        "metadata": {"name": "warehouse-scheduled-2024-05-01", "namespace": "data"},
        "spec": {"dagRef": {"name": "warehouse"}},
        "status": {
            "state": "Running",
            "counts": count_tasks(tasks).to_dict(),
            "tasks": {name: status.to_dict() for name, status in compact.tasks.items()},
            "tasksOmitted": compact.omitted,
        },
    }
    assert len(json.dumps(resource).encode()) < 256 * 1024
    DAGRun.model_validate(resource)


def test_run_status_from_a_plan() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    p = w.step()
    status = run_status(p, dag_version="abc", observed_generation=2)
    assert status.state is RunState.RUNNING
    assert status.start_time == T0
    assert status.progress == "0/2"
    assert status.duration is None
    assert status.dag_version == "abc"
    assert status.tasks_omitted == 0
    assert status.tasks is not None
    assert status.tasks["a"].state is TaskState.QUEUED
    w.advance(timedelta(minutes=61, seconds=1, milliseconds=300))
    w.set_pod("a", PodPhase.SUCCEEDED)
    w.step()
    w.set_pod("b", PodPhase.SUCCEEDED)
    p = w.step()
    status = run_status(p, dag_version="abc")
    assert status.state is RunState.SUCCEEDED
    assert status.progress == "2/2"
    assert status.duration == "1h1m1s"
    assert status.reason == "TasksSucceeded"
    assert status.to_dict()["endTime"] == "2024-05-01T13:01:01.300000Z"
