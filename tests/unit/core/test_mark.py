"""Marking tasks or a run Succeeded or Failed by hand (Airflow's mark success / mark failed):
what a request changes, and how the run goes on."""

from dataclasses import replace
from datetime import timedelta

import pytest
from plankit import T0, World, dag, run

from airkube.api import RunState, TaskState, TaskStatus
from airkube.api.dagrun import MarkRequest
from airkube.core.graph import graph_of
from airkube.core.model.actions import EventType, FinishRun
from airkube.core.model.observed import PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.plan import plan
from airkube.core.plan.mark import MarkError, mark_effect

S = timedelta(seconds=1)
T = TaskState

# a → b → d, a → c → d, d → f, plus a lone e
SPEC = dag(
    {"name": "a"},
    {"name": "b", "dependsOn": ["a"]},
    {"name": "c", "dependsOn": ["a"]},
    {"name": "d", "dependsOn": ["b", "c"]},
    {"name": "e"},
    {"name": "f", "dependsOn": ["d"]},
)
STATES = {
    "a": TaskStatus(state=T.SUCCEEDED, try_number=1),
    "b": TaskStatus(state=T.FAILED, try_number=2),
    "c": TaskStatus(state=T.RUNNING, try_number=1),
    "d": TaskStatus(state=T.UPSTREAM_FAILED),
    "e": TaskStatus(state=T.QUEUED, try_number=1),
    # f: None (missing)
}


@pytest.mark.parametrize(
    ("fields", "marked", "cleared", "run_state"),
    [
        # A failed task marked success: the failed tasks downstream are cleared.
        ({"tasks": ["b"], "state": "Succeeded"}, [("b", T.SUCCEEDED)], ["d"], None),
        # Marked failed: downstream still cleared, to proceed by their trigger rules.
        ({"tasks": ["c"], "state": "Failed"}, [("c", T.FAILED)], ["d"], None),
        # Already in the state: nothing changes (Airflow's API: "already in that state").
        ({"tasks": ["b"], "state": "Failed"}, [], [], None),
        # --downstream marks them; the marked ones are not cleared.
        (
            {"tasks": ["b"], "state": "Succeeded", "downstream": True},
            [("b", T.SUCCEEDED), ("d", T.SUCCEEDED), ("f", T.SUCCEEDED)],
            [],
            None,
        ),
        # --upstream: a succeeded already; c was running.
        (
            {"tasks": ["d"], "state": "Succeeded", "upstream": True},
            [("b", T.SUCCEEDED), ("c", T.SUCCEEDED), ("d", T.SUCCEEDED)],
            [],
            None,
        ),
        ({"tasks": ["e"], "state": "Succeeded"}, [("e", T.SUCCEEDED)], [], None),
        # The run as a whole: success marks every task not Succeeded.
        (
            {"state": "Succeeded"},
            [(n, T.SUCCEEDED) for n in ("b", "c", "d", "e", "f")],
            [],
            RunState.SUCCEEDED,
        ),
        # Failed: running tasks Failed, other unfinished ones Skipped, finished ones kept.
        (
            {"state": "Failed"},
            [("c", T.FAILED), ("e", T.SKIPPED), ("f", T.SKIPPED)],
            [],
            RunState.FAILED,
        ),
    ],
)
def test_what_a_mark_request_changes(
    fields: dict[str, object],
    marked: list[tuple[str, TaskState]],
    cleared: list[str],
    run_state: RunState | None,
) -> None:
    request = MarkRequest.model_validate({"id": "1", **fields})
    graph = graph_of(SPEC)
    effect = mark_effect(graph, STATES, request)
    position = graph.order.index
    assert list(effect.marked) == sorted(marked, key=lambda m: position(m[0]))  # upstream first
    assert list(effect.cleared) == cleared
    assert effect.run_state is run_state


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"tasks": ["b", "nope"]}, 'the run has no task "nope" to mark'),
        ({"downstream": True}, "upstream and downstream need tasks"),
    ],
)
def test_a_mark_that_cannot_apply_says_why(fields: dict[str, object], error: str) -> None:
    request = MarkRequest.model_validate({"id": "1", "state": "Failed", **fields})
    with pytest.raises(MarkError, match=error):
        mark_effect(graph_of(SPEC), STATES, request)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"state": "Running"}, "Input should be 'Succeeded' or 'Failed'"),
        ({"state": "Failed", "tasks": []}, "at least 1 item"),
    ],
)
def test_bad_mark_requests_are_refused_by_the_model(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        MarkRequest.model_validate({"id": "1", **fields})


def failed_run() -> World:
    """a → b → c, b failing (no retries): the run Failed, c UpstreamFailed."""
    w = World(
        dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}, {"name": "c", "dependsOn": ["b"]})
    )
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED)
    w.step()
    w.set_pod("b", PodPhase.FAILED, exit_code=1)
    w.step()
    assert w.run.state is RunState.FAILED
    assert w.states() == {"a": "Succeeded", "b": "Failed", "c": "UpstreamFailed"}
    return w


def test_a_failed_task_marked_success_lets_its_downstream_run_and_the_run_succeed() -> None:
    w = failed_run()
    w.advance(60 * S)
    w.mark("m1", tasks=["b"], state="Succeeded")
    p = w.step()
    assert p.run_state is RunState.RUNNING  # reopened: c must run
    assert p.last_mark_id == "m1"
    assert p.clear_number == 1  # its downstream clear counts as one, as in Airflow
    b = w.tasks["b"]
    assert (b.state, b.try_number, b.reason) == (T.SUCCEEDED, 1, Reason.MARKED_SUCCESS)
    assert b.message == "marked Succeeded by hand (it was Failed, Error)"
    assert b.exit_code == 1  # what the try did is kept
    assert [(c.task, c.try_number) for c in p.creates] == [("c", 1)]
    assert [(e.reason, e.message) for e in p.events] == [
        (Reason.MARKED, "marked by hand: Succeeded: b; cleared downstream: c")
    ]
    w.set_pod("c", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert p.reason == Reason.TASKS_SUCCEEDED
    # Applied once: the same request changes nothing more.
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert not p.actions
    assert w.tasks["b"].reason == Reason.MARKED_SUCCESS


def test_a_running_task_marked_failed_has_its_pod_deleted_and_no_retry() -> None:
    w = World(
        dag(
            {"name": "a", "retries": 3},
            {"name": "b", "dependsOn": ["a"]},
            {"name": "c", "dependsOn": ["a"], "triggerRule": "all_failed"},
        )
    )
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.step()
    pod = w.pod_of("a").name
    w.advance(5 * S)
    w.mark("m1", tasks=["a"], state="Failed")
    p = w.step()
    assert [(d.name, d.reason) for d in p.deletes] == [(pod, Reason.MARKED_FAILED)]
    a = w.tasks["a"]
    assert (a.state, a.try_number, a.reason, a.end_time) == (
        T.FAILED,
        1,
        Reason.MARKED_FAILED,
        w.now,
    )
    assert a.message == f"marked Failed by hand (it was Running); its pod {pod} was deleted"
    # The event of a failed task, as a restarted operator would derive it from the status.
    assert [(e.type, e.reason, e.task) for e in p.events] == [
        (EventType.WARNING, Reason.TASK_FAILED, "a"),
        (EventType.NORMAL, Reason.MARKED, None),
    ]
    assert p.events[0].message.startswith('task "a" failed on try 1 (MarkedFailed: marked')
    # Downstream tasks proceed by their trigger rules: b is UpstreamFailed, c runs.
    assert w.states() == {"a": "Failed", "b": "UpstreamFailed", "c": "Queued"}
    assert not p.ended  # the try ends as marked: its status is its record
    w.set_pod("c", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.FAILED  # b, a leaf, is UpstreamFailed: Airflow's rule


def test_a_running_task_marked_success_ends_its_try_and_the_run_goes_on() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.step()
    w.mark("m1", tasks=["a"], state="Succeeded")
    p = w.step()
    assert [d.reason for d in p.deletes] == [Reason.MARKED_SUCCESS]
    assert w.states() == {"a": "Succeeded", "b": "Queued"}
    # The deleted pod is gone: nothing more about a.
    p = w.step()
    assert w.states()["a"] == "Succeeded"
    assert not p.deletes


def test_a_pending_task_marked_success_never_runs() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.mark("m1", tasks=["b"], state="Succeeded")
    w.step()
    assert w.states() == {"a": "Queued", "b": "Succeeded"}
    assert w.tasks["b"].try_number == 0
    w.set_pod("a", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert not p.creates


def test_marking_the_failed_leaf_of_a_finished_run_ends_it_by_airflows_rule() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.FAILED, exit_code=2)
    failed = w.step()
    assert failed.run_state is RunState.FAILED
    w.advance(30 * S)
    w.mark("m1", tasks=["a"], state="Succeeded")
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert p.start_time == failed.start_time
    assert p.end_time == w.now
    assert p.finish == FinishRun(RunState.SUCCEEDED, Reason.TASKS_SUCCEEDED, "all 1 tasks finished")
    assert p.clear_number == 0
    assert [e.reason for e in p.events] == [Reason.MARKED, Reason.RUN_SUCCEEDED]


def test_marking_the_run_success_marks_every_task_and_stops_the_pods() -> None:
    w = World(dag({"name": "a"}, {"name": "b"}, {"name": "c", "dependsOn": ["a", "b"]}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.set_pod("b", PodPhase.FAILED, exit_code=1)
    w.step()
    assert w.states() == {"a": "Running", "b": "Failed", "c": "UpstreamFailed"}
    w.mark("m1", state="Succeeded")
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert (p.reason, p.message) == (Reason.MARKED_SUCCESS, "the run was marked Succeeded by hand")
    assert w.states() == {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}
    assert [d.reason for d in p.deletes] == [Reason.MARKED_SUCCESS]
    assert not p.creates
    assert p.finish == FinishRun(
        RunState.SUCCEEDED, Reason.MARKED_SUCCESS, "the run was marked Succeeded by hand"
    )


def test_marking_the_run_failed_fails_running_tasks_and_skips_the_rest() -> None:
    w = World(
        dag({"name": "a"}, {"name": "b"}, {"name": "c", "dependsOn": ["a"]}, maxActiveTasks=1)
    )
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.step()
    assert w.states() == {"a": "Running", "b": "Scheduled", "c": "None"}
    w.mark("m1", state="Failed")
    p = w.step()
    assert p.run_state is RunState.FAILED
    assert p.reason == Reason.MARKED_FAILED
    assert w.states() == {"a": "Failed", "b": "Skipped", "c": "Skipped"}
    assert [(n, t.reason) for n, t in w.tasks.items()] == [
        ("a", Reason.MARKED_FAILED),
        ("b", Reason.RUN_MARKED_FAILED),
        ("c", Reason.RUN_MARKED_FAILED),
    ]
    assert [d.reason for d in p.deletes] == [Reason.MARKED_FAILED]
    assert not p.creates


def test_marking_a_failed_run_success_flips_it() -> None:
    w = failed_run()
    w.mark("m1", state="Succeeded")
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert w.states() == {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}
    assert p.end_time == w.now


def test_a_mark_that_changes_nothing_leaves_the_run_alone() -> None:
    w = failed_run()
    before = w.plans[-1]
    w.mark("m1", tasks=["a"], state="Succeeded", downstream=False)
    p = w.step()
    assert p.run_state is RunState.FAILED
    assert (p.reason, p.message, p.end_time) == (before.reason, before.message, before.end_time)
    assert not p.actions
    assert p.last_mark_id == "m1"
    assert [(e.type, e.message) for e in p.events] == [
        (EventType.NORMAL, "mark request: nothing to change")
    ]


def test_a_mark_naming_unknown_tasks_is_refused_with_an_event() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.mark("m1", tasks=["zap"], state="Failed")
    p = w.step()
    assert p.run_state is RunState.RUNNING
    assert p.last_mark_id == "m1"
    assert [(e.type, e.reason, e.message) for e in p.events] == [
        (EventType.WARNING, Reason.MARK_REFUSED, 'the run has no task "zap" to mark')
    ]


def test_a_cancelled_run_stays_cancelled_when_a_mark_reopens_nothing() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.run = w.run.__class__(
        **{**w.run.__dict__, "spec": w.run.spec.model_copy(update={"cancel": True})}
    )
    w.step()
    assert w.run.state is RunState.CANCELLED
    w.mark("m1", tasks=["a", "b"], state="Succeeded")
    p = w.step()
    assert p.run_state is RunState.CANCELLED
    assert w.states() == {"a": "Succeeded", "b": "Succeeded"}


def test_a_mark_of_an_aborted_run_never_restarts_it() -> None:
    """A run aborted before its tasks ran (its params invalid, say) has tasks in None: a
    mark that leaves some so keeps it as it ended, and starts nothing."""
    spec = dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]})
    aborted = run(state=RunState.FAILED, start_time=T0, end_time=T0, reason="InvalidParams")
    request = MarkRequest.model_validate({"id": "m1", "tasks": ["a"], "state": "Succeeded"})
    marked = replace(aborted, spec=aborted.spec.model_copy(update={"mark": request}))
    p = plan(spec, marked, {}, [], T0 + 60 * S)
    assert (p.run_state, p.reason, p.end_time) == (RunState.FAILED, "InvalidParams", T0)
    assert p.tasks["a"].state is T.SUCCEEDED
    assert not p.creates
    assert p.last_mark_id == "m1"
