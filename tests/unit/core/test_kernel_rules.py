"""Table tests of the kernel's run-level rules: pinning, retention, and abort."""

from datetime import UTC, datetime, timedelta

import pytest

from airkube.api import DAGRunStatus, DAGSpec, RunState, TaskState, TaskStatus
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.plan.finish import abort
from airkube.core.rules.pinning import pin
from airkube.core.rules.retention import (
    FinishedRun,
    HistoryLimits,
    pods_to_collect,
    runs_past_history,
)
from airkube.core.spec_hash import spec_hash

T0 = datetime(2026, 11, 24, tzinfo=UTC)
SPEC = {"defaults": {"image": "busybox"}, "tasks": [{"name": "a"}]}
PARSED = DAGSpec.from_dict(SPEC)
VERSION = spec_hash(PARSED)


@pytest.mark.parametrize(
    ("pinned", "stored", "current", "refused", "expect"),
    [
        # First pass: the DAG as it is now.
        (None, None, SPEC, None, ("pinned", True)),
        (None, None, None, None, ("wait", "DAGNotFound")),
        (None, None, {"tasks": []}, None, ("wait", "DAGInvalid")),
        (None, None, SPEC, {VERSION: "refused"}, ("wait", "DAGInvalid")),
        # Afterwards: the version pinned, from the database, else the DAG if unchanged.
        (VERSION, PARSED, {"tasks": []}, None, ("pinned", False)),
        (VERSION, None, SPEC, None, ("pinned", False)),
        ("0" * 16, None, SPEC, None, ("fail", "DAGVersionLost")),
        ("0" * 16, None, None, None, ("fail", "DAGVersionLost")),
    ],
)
def test_pin(
    pinned: str | None,
    stored: DAGSpec | None,
    current: dict[str, object] | None,
    refused: dict[str, str] | None,
    expect: tuple[str, object],
) -> None:
    pinning = pin("etl", pinned, stored, current, refused)
    kind, detail = expect
    if kind == "pinned":
        assert pinning.spec is not None
        assert pinning.verdict.ok
        assert pinning.new is detail
        assert pinning.version == (pinned or VERSION)
    else:
        assert pinning.spec is None
        assert pinning.verdict.reason == detail
        assert pinning.fatal is (kind == "fail")
        assert "etl" in (pinning.verdict.message or "") or kind == "fail"


def pod(name: str, task: str, phase: PodPhase, **fields: object) -> ObservedPod:
    return ObservedPod(name=name, task=task, try_number=1, phase=phase, **fields)  # type: ignore[arg-type]


PODS = [
    pod("p-ok", "a", PodPhase.SUCCEEDED),
    pod("p-bad", "b", PodPhase.FAILED),
    pod("p-live", "c", PodPhase.RUNNING),
    pod("p-going", "d", PodPhase.SUCCEEDED, deletion_time=T0),
]
TASKS = {
    "a": TaskStatus(state=TaskState.SUCCEEDED, try_number=1),
    "b": TaskStatus(state=TaskState.FAILED, try_number=1),
    "c": TaskStatus(state=TaskState.RUNNING, try_number=1),
    "d": TaskStatus(state=TaskState.SUCCEEDED, try_number=1),
}


@pytest.mark.parametrize(
    ("strategy", "run_state", "expect"),
    [
        (None, RunState.SUCCEEDED, ["p-ok", "p-bad"]),
        (None, RunState.FAILED, []),
        ("OnRunSuccess", RunState.RUNNING, []),
        ("OnRunCompletion", RunState.FAILED, ["p-ok", "p-bad"]),
        ("OnPodSuccess", RunState.RUNNING, ["p-ok"]),
        ("Never", RunState.SUCCEEDED, []),
    ],
)
def test_pods_to_collect_never_a_running_or_going_pod(
    strategy: str | None, run_state: RunState, expect: list[str]
) -> None:
    spec = dict(SPEC)
    if strategy is not None:
        spec["podGC"] = {"strategy": strategy}
    assert pods_to_collect(DAGSpec.from_dict(spec), run_state, TASKS, PODS) == expect


def test_runs_past_history_oldest_first_per_outcome() -> None:
    day = timedelta(days=1)
    runs = [
        FinishedRun("s1", RunState.SUCCEEDED, T0),
        FinishedRun("s2", RunState.SUCCEEDED, T0 + day),
        FinishedRun("s3", RunState.SUCCEEDED, T0 + 2 * day),
        FinishedRun("f1", RunState.FAILED, T0),
        FinishedRun("c1", RunState.CANCELLED, T0 + day),
        FinishedRun("r1", RunState.RUNNING, T0),
    ]
    assert runs_past_history(HistoryLimits(succeeded=2, failed=1), runs) == ["s1", "f1"]
    assert HistoryLimits.of({"successfulRunsHistoryLimit": 3, "failedRunsHistoryLimit": "x"}) == (
        HistoryLimits(3, 10)
    )


def test_abort_skips_unfinished_tasks_and_deletes_every_live_pod() -> None:
    status = DAGRunStatus(
        state=RunState.RUNNING,
        start_time=T0,
        tasks={
            "a": TaskStatus(state=TaskState.SUCCEEDED, try_number=1),
            "c": TaskStatus(state=TaskState.RUNNING, try_number=1, pod_name="p-live"),
            "e": TaskStatus(state=TaskState.UP_FOR_RETRY, try_number=1, next_retry_time=T0),
        },
    )
    result = abort(status, PODS, T0, "InvalidParams", "param limit: not an integer")
    assert result.run_state is RunState.FAILED
    assert result.finish is not None
    assert result.finish.reason == "InvalidParams"
    assert {n: s.state for n, s in result.tasks.items()} == {
        "a": TaskState.SUCCEEDED,
        "c": TaskState.SKIPPED,
        "e": TaskState.SKIPPED,
    }
    assert result.tasks["e"].next_retry_time is None
    assert [d.name for d in result.deletes] == ["p-live"]
    assert set(result.changed) == {"c", "e"}


def test_a_run_of_a_dag_with_many_problems_waits_with_a_small_message() -> None:
    current = {
        "defaults": {"image": "busybox"},
        "tasks": [{"name": f"t{i}", "dependsOn": ["missing"]} for i in range(3000)],
    }
    pinning = pin("big", None, None, current)
    message = pinning.verdict.message or ""
    assert pinning.verdict.reason == "DAGInvalid"
    assert message.startswith('DAG big is invalid: task "t0" depends on "missing"')
    assert message.endswith("(and 2999 more: see the DAG's Ready condition)")
    assert len(message) < 300
