"""Clearing tasks (Airflow's clear): what a request selects, and how a run goes on."""

from datetime import timedelta

import pytest
from plankit import World, dag

from airkube.api import RunState, TaskState, TaskStatus
from airkube.api.dagrun import ClearRequest
from airkube.core.graph import graph_of
from airkube.core.model.actions import EventType
from airkube.core.model.observed import PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.plan.clear import ClearError, clear_selection

S = timedelta(seconds=1)

# a → b → d, a → c → d, plus a lone e
SPEC = dag(
    {"name": "a"},
    {"name": "b", "dependsOn": ["a"]},
    {"name": "c", "dependsOn": ["a"]},
    {"name": "d", "dependsOn": ["b", "c"]},
    {"name": "e"},
)
STATES = {
    "a": TaskStatus(state=TaskState.SUCCEEDED, try_number=1),
    "b": TaskStatus(state=TaskState.FAILED, try_number=2),
    "c": TaskStatus(state=TaskState.SUCCEEDED, try_number=1),
    "d": TaskStatus(state=TaskState.UPSTREAM_FAILED),
    "e": TaskStatus(state=TaskState.SKIPPED),
}


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({}, ("a", "b", "c", "d", "e")),
        ({"tasks": ["b"]}, ("b",)),
        ({"tasks": ["d", "b"]}, ("b", "d")),
        ({"tasks": ["a"], "downstream": True}, ("a", "b", "c", "d")),
        ({"tasks": ["c"], "downstream": True}, ("c", "d")),
        ({"onlyFailed": True}, ("b", "d")),
        ({"tasks": ["a"], "downstream": True, "onlyFailed": True}, ("b", "d")),
        ({"tasks": ["c"], "onlyFailed": True}, ()),
    ],
)
def test_clear_selects_named_tasks_downstream_and_failed(
    request_fields: dict[str, object], expected: tuple[str, ...]
) -> None:
    request = ClearRequest.model_validate({"id": "1", **request_fields})
    graph = graph_of(SPEC)
    selected = clear_selection(graph, STATES, request)
    assert sorted(selected) == list(expected)
    assert list(selected) == [n for n in graph.order if n in selected]  # upstream first


def test_clear_of_unknown_tasks_names_them() -> None:
    request = ClearRequest.model_validate({"id": "1", "tasks": ["b", "nope", "zap"]})
    with pytest.raises(ClearError, match='the run has no task "nope", "zap" to clear'):
        clear_selection(graph_of(SPEC), STATES, request)


def failed_run() -> World:
    """a → b → c with b failing on its only retry: the run Failed."""
    w = World(
        dag(
            {"name": "a"},
            {"name": "b", "dependsOn": ["a"], "retries": 1, "retryDelay": "10s"},
            {"name": "c", "dependsOn": ["b"]},
        )
    )
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED)
    w.step()
    for _ in range(2):
        w.set_pod("b", PodPhase.FAILED, exit_code=1)
        w.step()
        w.advance(10 * S)
        w.step()
    assert w.run.state is RunState.FAILED
    assert w.states() == {"a": "Succeeded", "b": "Failed", "c": "UpstreamFailed"}
    return w


def test_clearing_failed_tasks_reopens_the_run_with_new_tries_and_full_retries() -> None:
    w = failed_run()
    w.advance(60 * S)
    w.clear("r1", onlyFailed=True)
    p = w.step()
    assert p.run_state is RunState.RUNNING
    assert p.start_time == w.now  # a reopened run starts anew, as in Airflow
    assert p.end_time is None
    assert p.finish is None
    assert p.last_clear_id == "r1"
    assert p.clear_number == 1
    assert [(c.task, c.try_number) for c in p.creates] == [("b", 3)]
    assert w.tasks["b"].max_tries == 4  # two tries made, then retries + 1 more
    assert w.states() == {"a": "Succeeded", "b": "Queued", "c": "None"}
    assert [(e.reason, e.message) for e in p.events] == [(Reason.CLEARED, "cleared 2 tasks: b, c")]

    # The cleared task has its retries again: try 3 fails and is retried as try 4.
    w.set_pod("b", PodPhase.FAILED, exit_code=1)
    p = w.step()
    assert w.states()["b"] == "UpForRetry"
    assert p.events[0].message.startswith('task "b" try 3 of 4 failed')
    w.advance(10 * S)  # the first retry's delay again, not a backed-off one
    w.step()
    w.set_pod("b", PodPhase.SUCCEEDED)
    w.step()
    w.set_pod("c", PodPhase.SUCCEEDED)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert [e.reason for e in p.events] == [Reason.RUN_SUCCEEDED]


def test_a_clear_request_is_applied_once() -> None:
    w = failed_run()
    w.clear("r1", tasks=["b"])
    w.step()
    w.set_pod("b", PodPhase.FAILED, exit_code=1)
    w.step()
    w.advance(10 * S)
    w.step()
    w.set_pod("b", PodPhase.FAILED, exit_code=1)
    p = w.step()
    # Failed again: the same request does not reopen the run a second time.
    assert p.run_state is RunState.FAILED
    p = w.step()
    assert p.run_state is RunState.FAILED
    assert not p.actions
    w.clear("r2", tasks=["b"])
    p = w.step()
    assert p.run_state is RunState.RUNNING
    assert [(c.task, c.try_number) for c in p.creates] == [("b", 5)]


def test_clearing_a_running_task_stops_its_pod_and_starts_a_new_try() -> None:
    w = World(dag({"name": "a"}, {"name": "b", "dependsOn": ["a"]}))
    w.step()
    w.set_pod("a", PodPhase.RUNNING)
    w.step()
    old = w.pod_of("a").name
    w.clear("r1", tasks=["a"])
    p = w.step()
    assert [(d.name, d.reason) for d in p.deletes] == [(old, Reason.CLEARED)]
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]
    assert p.run_state is RunState.RUNNING
    # The stopped try ends in the history: another follows.
    assert [(n, t.try_number, t.state, t.reason) for n, t in p.ended] == [
        ("a", 1, TaskState.UP_FOR_RETRY, Reason.CLEARED)
    ]


def test_a_clear_that_selects_nothing_leaves_a_finished_run_alone() -> None:
    w = World(dag({"name": "a"}))
    w.step()
    w.set_pod("a", PodPhase.SUCCEEDED)
    done = w.step()
    w.clear("r1", onlyFailed=True)
    p = w.step()
    assert p.run_state is RunState.SUCCEEDED
    assert p.end_time == done.end_time
    assert not p.actions
    assert p.last_clear_id == "r1"
    assert p.clear_number == 0
    assert [(e.type, e.reason, e.message) for e in p.events] == [
        (EventType.NORMAL, Reason.CLEARED, "clear request: no task matched")
    ]


def test_a_clear_naming_unknown_tasks_is_refused_with_an_event() -> None:
    w = failed_run()
    w.clear("r1", tasks=["nope"])
    p = w.step()
    assert p.run_state is RunState.FAILED
    assert not p.actions
    assert p.last_clear_id == "r1"
    assert [(e.type, e.reason, e.message) for e in p.events] == [
        (EventType.WARNING, Reason.CLEAR_REFUSED, 'the run has no task "nope" to clear')
    ]
