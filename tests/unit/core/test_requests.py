"""core.requests: the run a trigger creates, the patches of clear, mark and cancel, what
a cancel stops, and who asked, as the CLI and the web server both write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airkube.api.dagrun import ClearRequest, MarkRequest, MarkState, TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.backfill import ExistingRun
from airkube.core.params import ParamsError
from airkube.core.requests import (
    CLEARED_BY,
    TRIGGERED_BY,
    TimeError,
    cancel_effect,
    cancel_patch,
    clear_patch,
    existing_runs,
    in_dag_zone,
    mark_patch,
    problems_by_param,
    read_time,
    trigger_command,
    trigger_plan,
)

WHEN = datetime(2026, 11, 2, 6, tzinfo=UTC)
PARAMS = {"limit": {"default": 1, "type": "integer"}, "lim": {"type": "string"}}


def test_trigger_plan_is_the_manual_run_with_who_triggered_it() -> None:
    plan = trigger_plan("ns", "etl", PARAMS, {"limit": "3", "lim": "x"}, WHEN, None, "bob")
    assert plan.name == "etl-manual-20261102t060000"
    assert plan.values == {"limit": 3, "lim": "x"}
    meta = plan.manifest["metadata"]
    assert meta["annotations"] == {TRIGGERED_BY: "bob"}
    assert plan.manifest["spec"]["params"] == {"limit": "3", "lim": "x"}
    anonymous = trigger_plan("ns", "etl", PARAMS, {"lim": "x"}, WHEN, "mine")
    assert "annotations" not in anonymous.manifest["metadata"]
    assert anonymous.name == "mine"


def test_trigger_plan_refuses_bad_params_with_each_problem() -> None:
    with pytest.raises(ParamsError) as caught:
        trigger_plan("ns", "etl", PARAMS, {"limit": "many"}, WHEN)
    by_param = problems_by_param(PARAMS, caught.value.problems)
    # "lim" is a prefix of "limit": each problem still goes to its own param.
    assert list(by_param) == ["limit", "lim"]
    assert by_param["limit"] == ["param limit must be an integer, got 'many'"]
    assert by_param["lim"][0].startswith("param lim is required")


def test_trigger_command_quotes_what_a_shell_would_split() -> None:
    command = trigger_command("ns", "etl", {"q": "a b", "n": "1"}, "2026-11-02", "r")
    assert command == (
        "kubectl airkube trigger etl -n ns --param 'q=a b' --param n=1 "
        "--logical-date 2026-11-02 --name r"
    )


def test_clear_patch_lifts_a_cancel_and_says_who() -> None:
    request = ClearRequest(id="x", tasks=["a"])
    patch = clear_patch(request, {"cancel": True}, "carol")
    assert patch["spec"]["cancel"] is False
    assert patch["spec"]["clear"] == {
        "id": "x",
        "tasks": ["a"],
        "downstream": False,
        "onlyFailed": False,
    }
    assert patch["metadata"] == {"annotations": {CLEARED_BY: "carol"}}
    assert "metadata" not in clear_patch(request, {}, None)
    assert "cancel" not in clear_patch(request, {}, None)["spec"]


def test_marking_the_run_keeps_a_cancel_marking_tasks_lifts_it() -> None:
    whole = mark_patch(MarkRequest(id="x", state=MarkState.FAILED), {"cancel": True})
    assert "cancel" not in whole["spec"]
    tasks = mark_patch(MarkRequest(id="x", state=MarkState.FAILED, tasks=["a"]), {"cancel": True})
    assert tasks["spec"]["cancel"] is False
    assert cancel_patch() == {"spec": {"cancel": True}}


def test_cancel_effect_skips_the_unfinished_tasks_and_stops_their_pods() -> None:
    states = {
        "a": TaskStatus(state=TaskState.SUCCEEDED),
        "b": TaskStatus(state=TaskState.RUNNING),
        "c": TaskStatus(state=TaskState.UP_FOR_RETRY),
    }
    effect = cancel_effect(["a", "b", "c", "d"], states, RunState.RUNNING)
    assert effect.skipped == (
        ("b", TaskState.RUNNING),
        ("c", TaskState.UP_FOR_RETRY),
        ("d", TaskState.NONE),
    )
    assert effect.stopped == ("b",)
    with pytest.raises(ValueError, match="already ended Succeeded"):
        cancel_effect(["a"], states, RunState.SUCCEEDED)


def test_existing_runs_are_the_dags_by_logical_date() -> None:
    runs = [
        {
            "metadata": {"name": "r1"},
            "spec": {"dagRef": {"name": "etl"}, "logicalDate": "2026-11-01T00:00:00Z"},
            "status": {"state": "Failed"},
        },
        {
            "metadata": {"name": "r2"},
            "spec": {"dagRef": {"name": "other"}, "logicalDate": "2026-11-01T00:00:00Z"},
        },
        {"metadata": {"name": "r3"}, "spec": {"dagRef": {"name": "etl"}}},
    ]
    found = existing_runs(runs, "etl")
    assert found == {datetime(2026, 11, 1, tzinfo=UTC): ExistingRun("r1", RunState.FAILED)}


def test_times_people_type() -> None:
    assert in_dag_zone(read_time("2026-11-01T06:00", "x"), "Europe/Paris") == datetime(
        2026, 11, 1, 5, tzinfo=UTC
    )
    with pytest.raises(TimeError, match="start: 'soon' is not a time"):
        read_time("soon", "start")
    with pytest.raises(TimeError, match="outside the dates"):
        read_time("0900-01-01", "start")
