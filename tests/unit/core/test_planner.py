"""The run planner, scenario by scenario."""

from dataclasses import replace
from datetime import timedelta

import pytest
from plankit import T0, World, dag, pod, run

from airkube.api import DAGRunSpec, RunState, TaskState, TaskStatus
from airkube.core.model.actions import DeletePod, EventType, FinishRun
from airkube.core.model.observed import PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.render import RenderError
from airkube.core.model.result import PlannerOptions
from airkube.core.plan import plan
from airkube.core.resolve import ResolvedTask
from airkube.core.states import task_transition_allowed

S = timedelta(seconds=1)


def linear() -> World:
    return World(
        dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}, {"name": "c", "dependsOn": ["b"]})
    )


def test_a_linear_run_succeeds_task_by_task() -> None:
    w = linear()
    p = w.step()
    assert p.run_state is RunState.RUNNING
    assert p.start_time == T0
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 1)]
    assert w.states() == {"a": "Queued", "b": "None", "c": "None"}
    assert p.changed == ("a",)
    assert p.next_wakeup == T0 + timedelta(seconds=60)  # until the pod must have been seen

    w.advance(S)
    w.set_pod("a", PodPhase.RUNNING)
    p = w.step()
    assert not p.actions
    assert w.states()["a"] == "Running"
    assert w.tasks["a"].start_time == T0 + S

    for task in ("a", "b"):
        w.advance(S)
        w.set_pod(task, PodPhase.SUCCEEDED, termination_message=f"{task} done")
        w.step()
    assert w.states() == {"a": "Succeeded", "b": "Succeeded", "c": "Queued"}
    assert w.tasks["a"].output == "a done"
    assert w.tasks["a"].exit_code == 0

    w.advance(S)
    w.set_pod("c", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert p.end_time == w.now
    assert p.finish == FinishRun(RunState.SUCCEEDED, Reason.TASKS_SUCCEEDED, "all 3 tasks finished")
    assert p.next_wakeup is None
    assert [(e.type, e.reason) for e in p.events] == [(EventType.NORMAL, Reason.RUN_SUCCEEDED)]


def test_a_failure_fails_downstream_tasks_and_the_run() -> None:
    w = World(
        dag(
            {"name": "a"},
            {"name": "b", "dependsOn": ["a"]},
            {"name": "c", "dependsOn": ["b"]},
            {"name": "side"},
        )
    )
    w.step()
    log_tail = "Traceback (most recent call last):\n  File x\nValueError: boom\n"
    w.set_pod("a", PodPhase.FAILED, exit_code=1, termination_message=log_tail)
    w.set_pod("side", PodPhase.SUCCEEDED)
    p = w.step()
    assert w.states() == {
        "a": "Failed",
        "b": "UpstreamFailed",
        "c": "UpstreamFailed",
        "side": "Succeeded",
    }
    assert w.tasks["a"].message == log_tail
    assert w.tasks["a"].reason == "Error"
    assert w.tasks["a"].exit_code == 1
    assert w.tasks["b"].message == "upstream tasks failed: a"
    assert p.run_state is RunState.FAILED
    assert p.finish == FinishRun(RunState.FAILED, Reason.TASK_FAILED, "tasks failed: a")
    reasons = [e.reason for e in p.events]
    assert reasons == [Reason.TASK_FAILED, Reason.RUN_FAILED]
    assert p.events[0].message == 'task "a" failed on try 1 of 1 (Error: ValueError: boom)'
    assert p.events[0].task == "a"


def test_the_run_state_follows_the_leaves_like_airflow() -> None:
    # A failed task whose only downstream is an all_done leaf that succeeds: the run succeeds.
    w = World(
        dag({"name": "work"}, {"name": "cleanup", "dependsOn": ["work"], "triggerRule": "all_done"})
    )
    w.step()
    w.set_pod("work", PodPhase.FAILED, exit_code=2)
    w.step()
    assert w.states() == {"work": "Failed", "cleanup": "Queued"}
    w.set_pod("cleanup", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED


def test_skip_exit_code_skips_and_skips_propagate() -> None:
    w = World(
        dag(
            {"name": "check"},
            {"name": "other"},
            {"name": "load", "dependsOn": ["check"]},
            {
                "name": "report",
                "dependsOn": ["check", "other"],
                "triggerRule": "none_failed_min_one_success",
            },
            {"name": "notify", "dependsOn": ["load"], "triggerRule": "all_done"},
        )
    )
    w.step()
    w.set_pod("check", PodPhase.FAILED, exit_code=99)
    w.set_pod("other", PodPhase.SUCCEEDED)
    p = w.step()
    assert w.states() == {
        "check": "Skipped",
        "other": "Succeeded",
        "load": "Skipped",
        "report": "Queued",
        "notify": "Queued",
    }
    assert w.tasks["check"].reason == Reason.SKIP_EXIT_CODE
    assert w.tasks["load"].reason == Reason.TRIGGER_RULE
    assert w.tasks["load"].message == "trigger rule all_success not met (check Skipped)"
    assert not p.events  # skips are not news


def test_retries_wait_their_delay_with_exponential_backoff() -> None:
    w = World(
        dag(
            {
                "name": "a",
                "retries": 3,
                "retryDelay": "10s",
                "retryExponentialBackoff": True,
                "maxRetryDelay": "25s",
            }
        )
    )
    w.step()
    w.advance(S)
    w.set_pod("a", PodPhase.FAILED, exit_code=1)
    failed_at = w.now
    p = w.step()
    assert w.states() == {"a": "UpForRetry"}
    assert w.tasks["a"].next_retry_time == failed_at + 10 * S
    assert p.next_wakeup == failed_at + 10 * S
    assert not p.creates
    assert [e.reason for e in p.events] == [Reason.TASK_RETRYING]
    assert "try 1 of 4 failed" in p.events[0].message

    w.now = failed_at + 9 * S
    assert not w.step().creates
    w.now = failed_at + 10 * S
    p = w.step()
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]
    assert w.tasks["a"] == TaskStatus(
        state=TaskState.QUEUED, try_number=2, pod_name=p.creates[0].name, queued_time=w.now
    )

    expected_delays = [20, 25]  # 10 * 2, then 10 * 4 capped at 25
    for try_number, delay in zip((2, 3), expected_delays, strict=True):
        w.set_pod("a", PodPhase.FAILED, exit_code=1)
        w.step()
        assert w.tasks["a"].next_retry_time == w.now + delay * S, try_number
        w.advance(delay * S)
        assert w.step().creates[0].try_number == try_number + 1

    w.set_pod("a", PodPhase.FAILED, exit_code=1)
    p = w.step()
    assert w.states() == {"a": "Failed"}
    assert w.tasks["a"].try_number == 4
    assert p.run_state is RunState.FAILED


def test_a_zero_retry_delay_retries_in_the_same_pass() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "0s"}))
    w.step()
    w.set_pod("a", PodPhase.FAILED, exit_code=1)
    p = w.step()
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]
    assert w.tasks["a"].state is TaskState.QUEUED


def test_execution_timeout_stops_the_pod_and_fails_the_try() -> None:
    w = World(dag({"name": "a", "executionTimeout": "1m", "retries": 1, "retryDelay": "5s"}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, start_time=T0)
    p = w.step()
    assert p.next_wakeup == T0 + timedelta(minutes=1)
    name = w.pod_of("a").name

    w.now = T0 + timedelta(minutes=1)
    p = w.step()
    assert p.deletes == (DeletePod(name, "a", 1, Reason.TIMEOUT),)
    assert w.tasks["a"].state is TaskState.UP_FOR_RETRY
    assert w.tasks["a"].reason == Reason.TIMEOUT
    assert w.tasks["a"].message == "ran longer than its executionTimeout (1m)"
    assert p.next_wakeup == w.now + 5 * S


def test_a_pod_killed_at_its_deadline_counts_as_a_timeout() -> None:
    w = World(dag({"name": "a", "executionTimeout": "30s"}))
    w.step()
    w.set_pod(
        "a", PodPhase.FAILED, start_time=T0, finish_time=T0 + 30 * S, exit_code=137, reason="Error"
    )
    w.advance(31 * S)
    w.step()
    assert w.tasks["a"].reason == Reason.TIMEOUT
    w2 = World(dag({"name": "a"}))
    w2.step()
    w2.set_pod("a", PodPhase.FAILED, reason="DeadlineExceeded", message="Pod was active too long")
    w2.step()
    assert w2.tasks["a"].reason == Reason.TIMEOUT
    assert w2.tasks["a"].message == "ran longer than its executionTimeout: Pod was active too long"


def test_dagrun_timeout_fails_the_run_and_skips_what_is_unfinished() -> None:
    w = World(
        dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}, {"name": "c"}, dagrunTimeout="1h")
    )
    p = w.step()
    assert p.next_wakeup == T0 + timedelta(seconds=60)
    w.set_pod("a", PodPhase.RUNNING)
    w.set_pod("c", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.next_wakeup == T0 + timedelta(hours=1)
    w.now = T0 + timedelta(hours=1)
    p = w.step()
    assert p.run_state is RunState.FAILED
    message = "the run took longer than its dagrunTimeout (1h)"
    assert p.finish == FinishRun(RunState.FAILED, Reason.RUN_TIMEOUT, message)
    assert w.tasks["b"].message == message
    assert [d.task for d in p.deletes] == ["a"]
    assert w.states() == {"a": "Skipped", "b": "Skipped", "c": "Succeeded"}
    assert w.tasks["a"].reason == Reason.RUN_TIMEOUT
    assert p.next_wakeup is None


def test_max_active_tasks_limits_pods() -> None:
    w = World(dag(*({"name": f"t{i}"} for i in range(5)), maxActiveTasks=2))
    p = w.step()
    assert [c.task for c in p.creates] == ["t0", "t1"]
    assert w.states() == {
        "t0": "Queued",
        "t1": "Queued",
        "t2": "Scheduled",
        "t3": "Scheduled",
        "t4": "Scheduled",
    }
    assert not w.step().creates
    w.set_pod("t0", PodPhase.SUCCEEDED)
    p = w.step()
    assert [c.task for c in p.creates] == ["t2"]
    assert sum(1 for s in w.tasks.values() if s.state.has_pod) == 2


def test_max_new_pods_option_caps_one_pass() -> None:
    w = World(dag(*({"name": f"t{i}"} for i in range(5))))
    p = w.step(options=PlannerOptions(max_new_pods=1))
    assert len(p.creates) == 1


def test_cancel_stops_pods_and_skips_unfinished_tasks() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}, {"name": "c"}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.set_pod("c", PodPhase.SUCCEEDED)
    w.run = replace(w.run, spec=w.run.spec.model_copy(update={"cancel": True}))
    p = w.step()
    assert p.run_state is RunState.CANCELLED
    assert [(d.task, d.reason) for d in p.deletes] == [("a", Reason.RUN_CANCELLED)]
    assert w.states() == {"a": "Skipped", "b": "Skipped", "c": "Succeeded"}
    assert p.finish == FinishRun(RunState.CANCELLED, Reason.CANCELLED, "the run was cancelled")
    assert w.tasks["b"].message == "the run was cancelled"
    assert [(e.type, e.reason) for e in p.events] == [(EventType.NORMAL, Reason.CANCELLED)]
    # Later passes on the finished run change nothing.
    again = w.step()
    assert again.run_state is RunState.CANCELLED
    assert not again.actions
    assert not again.changed


def test_cancelling_a_queued_run() -> None:
    spec = DAGRunSpec.model_validate({"dagRef": {"name": "etl"}, "cancel": True})
    p = plan(dag({"name": "a"}), run(spec=spec), {}, [], T0)
    assert p.run_state is RunState.CANCELLED
    assert not p.creates
    assert p.tasks["a"].state is TaskState.SKIPPED


def test_a_deleted_pod_is_a_failed_try_that_is_retried() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "1m"}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, missing=True)
    p = w.step()
    assert w.tasks["a"].state is TaskState.UP_FOR_RETRY
    assert w.tasks["a"].reason == Reason.DELETED
    assert not p.deletes


def test_an_evicted_pod_is_a_failed_try() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.FAILED, reason="Evicted", message="The node was low on memory.")
    w.step()
    assert w.tasks["a"].state is TaskState.FAILED
    assert w.tasks["a"].reason == "Evicted"
    assert w.tasks["a"].message.endswith("was evicted: The node was low on memory.")


def test_a_pod_never_seen_is_lost_after_the_grace_period() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "0s"}))
    p = w.step()
    name = p.creates[0].name
    w.pods.clear()  # the watch has not delivered the pod
    w.advance(59 * S)
    p = w.step()
    assert not p.actions
    assert p.next_wakeup == T0 + 60 * S
    w.advance(S)
    p = w.step()
    assert w.tasks["a"].reason is None  # the new try's status
    assert w.plans[-1].events[0].reason == Reason.TASK_RETRYING
    assert f"pod {name} disappeared" in w.plans[-1].events[0].message
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]


def test_a_pod_stuck_terminating_is_lost() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, deletion_time=T0)
    p = w.step()
    assert w.tasks["a"].state is TaskState.RUNNING
    assert p.next_wakeup == T0 + timedelta(minutes=5)
    w.now = T0 + timedelta(minutes=5)
    w.step()
    assert w.tasks["a"].state is TaskState.FAILED
    assert w.tasks["a"].reason == Reason.POD_LOST


def test_pods_found_without_status_are_adopted_not_recreated() -> None:
    spec = dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]})
    first = plan(spec, run(), {}, [], T0)
    [create] = first.creates
    # The status write was lost, the pod exists: the next pass adopts it.
    seen = pod(create.name, "a", 1, PodPhase.RUNNING, start_time=T0)
    p = plan(spec, run(), {}, [seen], T0 + S)
    assert not p.creates
    assert p.tasks["a"].state is TaskState.RUNNING
    assert p.tasks["a"].pod_name == create.name


def test_a_newer_try_found_is_adopted() -> None:
    spec = dag({"name": "a", "retries": 2, "retryDelay": "0s"})
    status = {"a": TaskStatus(state=TaskState.UP_FOR_RETRY, try_number=1, next_retry_time=T0)}
    pods = [
        pod("old", "a", 1, PodPhase.FAILED, exit_code=1),
        pod("new", "a", 2, PodPhase.PENDING),
    ]
    p = plan(spec, run(state=RunState.RUNNING, start_time=T0), status, pods, T0 + S)
    assert not p.creates
    assert p.tasks["a"].try_number == 2
    assert p.tasks["a"].state is TaskState.QUEUED
    assert p.tasks["a"].pod_name == "new"


def test_tries_ended_and_replaced_by_passes_whose_status_was_lost_go_to_the_history() -> None:
    spec = dag({"name": "a", "retries": 3, "retryDelay": "0s"})
    pods = [
        pod("p1", "a", 1, PodPhase.FAILED, exit_code=1, start_time=T0, finish_time=T0 + S),
        pod("p2", "a", 2, PodPhase.FAILED, exit_code=2),
        pod("p3", "a", 3, PodPhase.RUNNING, start_time=T0 + 3 * S),
    ]
    p = plan(spec, run(state=RunState.RUNNING, start_time=T0), {}, pods, T0 + 5 * S)
    assert not p.creates
    assert (p.tasks["a"].try_number, p.tasks["a"].state) == (3, TaskState.RUNNING)
    ended = {status.try_number: status for name, status in p.ended if name == "a"}
    assert sorted(ended) == [1, 2]
    assert (ended[1].state, ended[1].exit_code, ended[1].end_time) == (
        TaskState.UP_FOR_RETRY,
        1,
        T0 + S,
    )
    assert ended[2].end_time == T0 + 5 * S  # its end was never seen: when it was found


def test_the_try_a_lost_pass_replaced_is_ended_in_the_history_when_its_successor_is_adopted() -> (
    None
):
    spec = dag({"name": "a", "retries": 3, "retryDelay": "0s"})
    status = {"a": TaskStatus(state=TaskState.RUNNING, try_number=1, pod_name="p1", start_time=T0)}
    pods = [
        pod("p1", "a", 1, PodPhase.FAILED, exit_code=4, finish_time=T0 + S),
        pod("p2", "a", 2, PodPhase.PENDING),
    ]
    p = plan(spec, run(state=RunState.RUNNING, start_time=T0), status, pods, T0 + 5 * S)
    assert (p.tasks["a"].try_number, p.tasks["a"].state) == (2, TaskState.QUEUED)
    [(name, ended)] = p.ended
    assert (name, ended.try_number, ended.state, ended.exit_code) == (
        "a",
        1,
        TaskState.UP_FOR_RETRY,
        4,
    )
    assert (ended.start_time, ended.end_time, ended.reason) == (T0, T0 + S, "Error")


def test_planning_twice_before_the_pod_is_seen_creates_it_once() -> None:
    spec = dag({"name": "a"})
    first = plan(spec, run(), {}, [], T0)
    second = plan(spec, run(state=RunState.RUNNING, start_time=T0), first.tasks, [], T0 + S)
    assert len(first.creates) == 1
    assert not second.creates


def test_leftover_pods_are_deleted() -> None:
    spec = dag({"name": "a", "retries": 1, "retryDelay": "1h"})
    status = {
        "a": TaskStatus(
            state=TaskState.UP_FOR_RETRY, try_number=1, next_retry_time=T0 + timedelta(hours=1)
        )
    }
    pods = [
        pod("a-1", "a", 1, PodPhase.RUNNING),
        pod("gone", "removed-task", 1, PodPhase.PENDING),
        pod("done", "removed-task", 2, PodPhase.SUCCEEDED),
        pod("going", "removed-task", 3, PodPhase.RUNNING, deletion_time=T0),
    ]
    p = plan(spec, run(state=RunState.RUNNING, start_time=T0), status, pods, T0)
    assert {(d.name, d.reason) for d in p.deletes} == {
        ("a-1", Reason.TRY_ENDED),
        ("gone", Reason.UNKNOWN_TASK),
    }


def test_a_finished_run_only_cleans_up() -> None:
    spec = dag({"name": "a"})
    status = {"a": TaskStatus(state=TaskState.SUCCEEDED, try_number=1)}
    finished = run(state=RunState.SUCCEEDED, start_time=T0, end_time=T0 + S)
    p = plan(spec, finished, status, [pod("x", "a", 2, PodPhase.RUNNING)], T0 + 2 * S)
    assert p.run_state is RunState.SUCCEEDED
    assert p.end_time == T0 + S
    assert p.deletes == (DeletePod("x", "a", 2, Reason.RUN_FINISHED),)
    assert not p.creates
    assert p.finish is None
    assert p.tasks["a"].state is TaskState.SUCCEEDED


def test_the_renderer_seam() -> None:
    def render(task: ResolvedTask, try_number: int, tasks: object) -> ResolvedTask:
        return replace(task, command=("echo", f"{task.name} try {try_number}"))

    w = World(dag({"name": "a", "command": ["echo", "{{ ds }}"]}))
    p = w.step(renderer=render)
    assert p.creates[0].manifest["spec"]["containers"][0]["command"] == ["echo", "a try 1"]


def test_a_task_whose_templates_fail_fails_without_a_pod() -> None:
    def render(task: ResolvedTask, try_number: int, tasks: object) -> ResolvedTask:
        raise RenderError("'tasks.extract' is undefined")

    w = World(dag({"name": "a", "retries": 3}, {"name": "b", "dependsOn": ["a"]}))
    p = w.step(renderer=render)
    assert not p.creates
    assert w.states() == {"a": "Failed", "b": "UpstreamFailed"}
    assert w.tasks["a"].reason == Reason.TEMPLATE_ERROR
    assert p.run_state is RunState.FAILED
    assert p.events[0].message == (
        "task \"a\" failed: its templates cannot be rendered: 'tasks.extract' is undefined"
    )


def test_outputs_are_capped_at_4_kib() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED, termination_message="é" * 3000)
    w.step()
    output = w.tasks["a"].output
    assert output is not None
    assert len(output.encode()) <= 4096
    assert output == "é" * 2048


def test_plans_are_deterministic() -> None:
    spec = dag(*({"name": f"t{i}", "dependsOn": [f"t{i - 1}"] if i else []} for i in range(4)))
    status = {
        "t0": TaskStatus(state=TaskState.RUNNING, try_number=1, pod_name="p0", queued_time=T0)
    }
    pods = [pod("p0", "t0", 1, PodPhase.SUCCEEDED, exit_code=0)]
    current = run(state=RunState.RUNNING, start_time=T0)
    assert plan(spec, current, status, pods, T0 + S) == plan(spec, current, status, pods, T0 + S)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(dag({"name": "a"}), run(), {}, [], T0.replace(tzinfo=None))


def test_every_transition_of_the_scenarios_is_allowed() -> None:
    w = World(
        dag({"name": "a", "retries": 1, "retryDelay": "0s"}, {"name": "b", "dependsOn": ["a"]})
    )
    w.step()
    w.set_pod("a", PodPhase.FAILED, exit_code=1)
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED)
    w.step()
    w.set_pod("b", PodPhase.SUCCEEDED)
    w.step()
    previous: dict[str, TaskState] = {}
    for p in w.plans:
        for name, status in p.tasks.items():
            assert task_transition_allowed(previous.get(name, TaskState.NONE), status.state)
            previous[name] = status.state
    assert w.finished


def test_a_task_container_that_ended_ends_the_try_even_if_a_sidecar_runs_on() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, exit_code=0, termination_message="42", finish_time=T0 + S)
    name = w.pod_of("a").name
    p = w.step()
    assert w.tasks["a"].state is TaskState.SUCCEEDED
    assert w.tasks["a"].output == "42"
    assert p.deletes == (DeletePod(name, "a", 1, Reason.TRY_ENDED),)
    assert [c.task for c in p.creates] == ["b"]


def test_a_pod_whose_containers_all_ended_is_kept_while_its_phase_catches_up() -> None:
    """A real kubelet reports the containers terminated before the pod's terminal phase:
    the pod is done, not a running one to delete (podGC decides what happens to it)."""
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING, exit_code=0, finish_time=T0 + S, containers_stopped=True)
    p = w.step()
    assert w.tasks["a"].state is TaskState.SUCCEEDED
    assert p.deletes == ()
    assert [c.task for c in p.creates] == ["b"]


def test_an_old_try_still_running_is_superseded() -> None:
    spec = dag({"name": "a", "retries": 1})
    status = {
        "a": TaskStatus(state=TaskState.RUNNING, try_number=2, pod_name="a-2", queued_time=T0)
    }
    pods = [pod("a-1", "a", 1, PodPhase.RUNNING), pod("a-2", "a", 2, PodPhase.RUNNING)]
    p = plan(spec, run(state=RunState.RUNNING, start_time=T0), status, pods, T0)
    assert p.deletes == (DeletePod("a-1", "a", 1, Reason.SUPERSEDED),)
