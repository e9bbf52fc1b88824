"""Which callbacks a pass's transitions call, their payload and keys, and run deadlines
(core.rules.callbacks)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from plankit import T0, dag

from airkube.api import DAGRunStatus, RunState, TaskState, TaskStatus
from airkube.api.callbacks import Callback, RunDeadline
from airkube.core.rules.callbacks import (
    DEADLINE_CONDITION,
    PAYLOAD_VERSION,
    Hook,
    RunFacts,
    check_deadline,
    has_callbacks,
    notifier_pod,
    notifier_pod_name,
    recall_notices,
    slack_text,
    task_callbacks,
    transition_notices,
)
from airkube.core.rules.events import RunEnded, TryEnded, pass_transitions, recent_transitions
from airkube.core.validation import ProblemReason, check_dag

S = timedelta(seconds=1)
RUN = RunFacts("ns", "etl-manual-1", "uid-1", "etl", logical_date=T0, queued_at=T0 + 5 * S)


def hook(url: str) -> dict[str, Any]:
    return {"webhook": {"url": url}}


def ended(state: TaskState, try_number: int = 1) -> TaskStatus:
    return TaskStatus(
        state=state, try_number=try_number, end_time=T0 + 10 * S, reason="Error", message="boom"
    )


SPEC = dag(
    {"name": "a", "onFailure": [hook("http://task/fail")]},
    {"name": "b"},
    defaults={
        "onFailure": [hook("http://defaults/fail")],
        "onRetry": [hook("http://defaults/retry"), hook("http://defaults/retry2")],
    },
    onRunFailure=[hook("http://run/fail")],
    onRunSuccess=[hook("http://run/ok")],
)


def urls(notices: list[Any]) -> list[str]:
    return [n.callback.webhook.url for n in notices]


@pytest.mark.parametrize(
    ("task", "hook_", "expected"),
    [
        ("a", Hook.ON_FAILURE, ["http://task/fail"]),  # the task's own list wins
        ("b", Hook.ON_FAILURE, ["http://defaults/fail"]),  # else the defaults'
        ("a", Hook.ON_RETRY, ["http://defaults/retry", "http://defaults/retry2"]),
        ("a", Hook.ON_SUCCESS, []),
        ("missing", Hook.ON_FAILURE, ["http://defaults/fail"]),
    ],
)
def test_a_task_s_callbacks_are_its_own_else_the_dag_defaults(
    task: str, hook_: Hook, expected: list[str]
) -> None:
    assert [c.webhook.url for c in task_callbacks(SPEC, task, hook_) if c.webhook] == expected


@pytest.mark.parametrize(
    ("transition", "expected"),
    [
        (TryEnded("a", ended(TaskState.FAILED, 2)), ["http://task/fail"]),
        (
            TryEnded("b", ended(TaskState.UP_FOR_RETRY)),
            ["http://defaults/retry", "http://defaults/retry2"],
        ),
        (TryEnded("b", ended(TaskState.SUCCEEDED)), []),
        (TryEnded("b", ended(TaskState.SKIPPED)), []),
        (RunEnded(RunState.FAILED, 0, "TaskFailed", "a failed", T0), ["http://run/fail"]),
        (RunEnded(RunState.SUCCEEDED, 0, "TasksSucceeded", None, T0), ["http://run/ok"]),
        (RunEnded(RunState.CANCELLED, 0, "Cancelled", None, T0), []),
    ],
)
def test_each_transition_calls_the_hook_that_matches_it(
    transition: Any, expected: list[str]
) -> None:
    assert urls(transition_notices(SPEC, RUN, [transition])) == expected


def test_the_payload_says_what_happened_with_a_link_and_a_deterministic_key() -> None:
    (notice,) = transition_notices(SPEC, RUN, [TryEnded("a", ended(TaskState.FAILED, 2))])
    assert notice.payload == {
        "version": PAYLOAD_VERSION,
        "event": "TaskFailed",
        "hook": "onFailure",
        "namespace": "ns",
        "dag": "etl",
        "run": "etl-manual-1",
        "task": "a",
        "try": 2,
        "state": "Failed",
        "reason": "Error",
        "message": "boom",
        "logicalDate": "2024-05-01T12:00:00Z",
        "time": "2024-05-01T12:00:10Z",
        "link": "kubectl airkube logs -n ns etl-manual-1 a --try 2",
        "idempotencyKey": "uid-1/task/a/2/Failed/onFailure/0",
    }
    again = transition_notices(SPEC, RUN, [TryEnded("a", ended(TaskState.FAILED, 2))])
    assert again[0].key == notice.key
    other = transition_notices(SPEC, RUN, [TryEnded("a", ended(TaskState.FAILED, 3))])
    assert other[0].key != notice.key
    json.dumps(notice.payload)  # JSON-ready


def test_slack_format_is_one_text_with_the_link() -> None:
    (notice,) = transition_notices(SPEC, RUN, [TryEnded("a", ended(TaskState.FAILED, 2))])
    body = slack_text(notice.payload)
    assert list(body) == ["text"]
    assert 'TaskFailed: task "a" try 2 of ns/etl-manual-1 (DAG etl): Failed (Error)' in body["text"]
    assert "kubectl airkube logs -n ns etl-manual-1 a --try 2" in body["text"]


def test_a_pass_s_transitions_are_tries_that_reached_an_end_and_the_run_s_end() -> None:
    before = {
        "a": TaskStatus(state=TaskState.RUNNING, try_number=1),
        "b": ended(TaskState.FAILED),
        "c": TaskStatus(state=TaskState.QUEUED, try_number=2),
    }
    tasks = {
        "a": ended(TaskState.FAILED),
        "b": ended(TaskState.FAILED),  # already Failed: listed as changed, not a transition
        "c": TaskStatus(state=TaskState.QUEUED, try_number=3),  # a retry due at once
        "d": TaskStatus(state=TaskState.UPSTREAM_FAILED),
    }
    replaced = [("c", ended(TaskState.UP_FOR_RETRY, 2))]
    run_end = RunEnded(RunState.FAILED, 0, "TaskFailed", "x", T0)
    found = pass_transitions(before, tasks, ["a", "b", "c", "d"], replaced, run_end)
    assert [t.key for t in found] == ["task/c/2/UpForRetry", "task/a/1/Failed", "run/0/Failed"]


def test_a_restart_finds_the_recent_transitions_and_the_deadline_it_recorded() -> None:
    deadline = {"reference": "Queued", "interval": "1m", "callbacks": [hook("http://late")]}
    spec = dag({"name": "a"}, defaults={"onFailure": [hook("http://f")]}, deadline=deadline)
    now = T0 + timedelta(minutes=5)
    verdict = check_deadline(spec.deadline, RUN, DAGRunStatus(state=RunState.RUNNING), now)
    assert verdict.condition is not None
    status = DAGRunStatus(
        state=RunState.FAILED,
        end_time=now,
        tasks={"a": ended(TaskState.FAILED), "old": ended(TaskState.FAILED)},
        conditions=[verdict.condition.model_copy(update={"last_transition_time": now})],
    ).model_copy(update={"tasks": {"a": ended(TaskState.FAILED)}})
    notices = recall_notices(spec, RUN, status, recent_transitions(status, now), now)
    assert [(n.hook, n.key) for n in notices] == [
        (Hook.ON_FAILURE, "uid-1/task/a/1/Failed/onFailure/0"),
        (Hook.DEADLINE, "uid-1/deadline/deadline/0"),
    ]
    later = now + timedelta(hours=2)
    assert recall_notices(spec, RUN, status, recent_transitions(status, later), later) == []


@pytest.mark.parametrize(
    ("reference", "state", "now", "fires", "wake", "ended"),
    [
        # Queued at T0+5s; the logical date is T0; the interval 1m.
        ("Queued", RunState.RUNNING, T0 + 30 * S, False, T0 + 65 * S, None),
        ("Queued", RunState.RUNNING, T0 + 65 * S, True, None, None),
        ("Queued", RunState.QUEUED, T0 + 99 * S, True, None, None),  # not started: still late
        ("LogicalDate", RunState.RUNNING, T0 + 60 * S, True, None, None),
        ("LogicalDate", RunState.RUNNING, T0 + 59 * S, False, T0 + 60 * S, None),
        ("LogicalDate", RunState.SUCCEEDED, T0 + 99 * S, False, None, T0 + 60 * S),  # in time
        # Finished late, seen by a later pass: still missed.
        ("LogicalDate", RunState.FAILED, T0 + 99 * S, True, None, T0 + 61 * S),
    ],
)
def test_a_deadline_fires_once_when_an_unfinished_run_passes_it(
    reference: str, state: RunState, now: Any, fires: bool, wake: Any, ended: Any
) -> None:
    deadline = RunDeadline.model_validate(
        {"reference": reference, "interval": "1m", "callbacks": [hook("http://late")]}
    )
    verdict = check_deadline(deadline, RUN, DAGRunStatus(state=state, end_time=ended), now)
    assert (verdict.condition is not None) == fires
    assert verdict.wake_at == wake
    assert len(verdict.notices) == (1 if fires else 0)
    if fires:
        assert verdict.condition is not None
        assert verdict.condition.type == DEADLINE_CONDITION
        assert verdict.notices[0].payload["event"] == "DeadlineMissed"
        recorded = DAGRunStatus(state=state, end_time=ended, conditions=[verdict.condition])
        assert check_deadline(deadline, RUN, recorded, now + 99 * S).notices == ()


def test_a_notifier_pod_is_named_after_its_key_and_carries_the_payload() -> None:
    spec = dag(
        {"name": "a"},
        defaults={
            "onSuccess": [
                {
                    "pod": {
                        "image": "me/notify:1",
                        "command": ["notify"],
                        "env": [{"name": "X", "value": "1"}],
                    }
                }
            ]
        },
    )
    (notice,) = transition_notices(spec, RUN, [TryEnded("a", ended(TaskState.SUCCEEDED))])
    assert notice.callback.pod is not None
    manifest = notifier_pod(notice.callback.pod, notice, RUN, "airkube.io/v1alpha1")
    assert manifest["metadata"]["name"] == notifier_pod_name(RUN.name, notice.key)
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert "app.kubernetes.io/managed-by" not in manifest["metadata"]["labels"]
    container = manifest["spec"]["containers"][0]
    assert container["image"] == "me/notify:1"
    assert container["command"] == ["notify"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert json.loads(env["AIRKUBE_CALLBACK"]) == notice.payload
    assert env["X"] == "1"
    long = notifier_pod_name("r" * 250, notice.key)
    assert len(long) <= 63
    assert notifier_pod_name("r" * 39 + "-x", "k").startswith("r" * 39 + "-cb-")


def test_has_callbacks_is_false_for_a_dag_without_any() -> None:
    assert not has_callbacks(dag({"name": "a"}))
    assert has_callbacks(dag({"name": "a", "onSuccess": [hook("http://x")]}))
    assert has_callbacks(SPEC)


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        ({}, "exactly one of webhook and pod"),
        ({"webhook": {"url": "http://x"}, "pod": {"image": "x"}}, "exactly one of webhook and pod"),
        ({"webhook": {}}, "Value error, set exactly one of url and urlFrom"),
        ({"webhook": {"url": "ftp://x/y"}}, "is not an http:// or https:// URL"),
        (
            {"webhook": {"url": "http://x", "headers": [{"name": "A"}]}},
            "header A: set exactly one of value and valueFrom",
        ),
        ({"webhook": {"url": "http://x", "format": "teams"}}, "'generic' or 'slack'"),
    ],
)
def test_a_bad_callback_is_refused_with_a_clear_message(
    callback: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Callback.model_validate(callback)


def test_a_dag_with_a_bad_callback_is_not_ready_with_the_field_named() -> None:
    spec = {
        "defaults": {"image": "busybox", "onFailure": [{"webhook": {"url": "x"}}]},
        "deadline": {"reference": "Queued", "interval": "1h", "callbacks": [{}]},
        "tasks": [
            {"name": "a", "onRetry": [{"pod": {"image": "x"}, "webhook": {"url": "http://h"}}]}
        ],
    }
    parsed, problems = check_dag(spec)
    assert parsed is None
    assert {p.reason for p in problems} == {ProblemReason.INVALID_SPEC}
    messages = sorted(p.message for p in problems)
    assert messages == [
        "deadline.callbacks[0]: a callback sets exactly one of webhook and pod",
        "defaults.onFailure[0].webhook.url: url 'x' is not an http:// or https:// URL with a host",
        'task "a": onRetry[0]: a callback sets exactly one of webhook and pod',
    ]
