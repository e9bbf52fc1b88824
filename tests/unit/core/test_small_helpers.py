"""Merge patches, spec hashes, retry delays, state machines and list merging."""

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airkube.api import DAGSpec, RunState, TaskState
from airkube.core.merge import deep_merge
from airkube.core.patch import apply_merge_patch, merge_patch
from airkube.core.resolve import resolve_task
from airkube.core.rules.retries import retry_delay
from airkube.core.spec_hash import canonical_json, spec_hash
from airkube.core.states import (
    RUN_TRANSITIONS,
    TASK_TRANSITIONS,
    run_outcome,
    run_transition_allowed,
    task_transition_allowed,
)

# -- merge patches -----------------------------------------------------------------------

json_leaves = st.one_of(st.booleans(), st.integers(), st.text(max_size=5))
documents = st.recursive(
    st.dictionaries(st.text(max_size=3), json_leaves, max_size=4),
    lambda children: st.dictionaries(st.text(max_size=3), children | json_leaves, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(old=documents, new=documents)
def test_merge_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert apply_merge_patch(old, merge_patch(old, new)) == new


def test_merge_patch_is_minimal_and_nulls_removed_keys() -> None:
    old = {"state": "Running", "tasks": {"a": {"state": "Running", "exitCode": 1}, "b": {}}}
    new = {"state": "Running", "tasks": {"a": {"state": "Succeeded"}}}
    assert merge_patch(old, new) == {
        "tasks": {"a": {"state": "Succeeded", "exitCode": None}, "b": None}
    }
    assert merge_patch(new, new) == {}


# -- spec hashes -------------------------------------------------------------------------


def spec(**fields: Any) -> DAGSpec:
    return DAGSpec.model_validate({"tasks": [{"name": "a", "image": "x"}], **fields})


def test_spec_hash_is_stable_and_canonical() -> None:
    assert spec_hash(spec(dagrunTimeout="90m")) == spec_hash(spec(dagrunTimeout="1h30m"))
    assert spec_hash(spec(params={"x": 1, "y": 2})) == spec_hash(spec(params={"y": 2, "x": 1}))
    assert spec_hash(spec()) == spec_hash(spec(paused=True))
    assert spec_hash(spec()) != spec_hash(spec(maxActiveTasks=3))
    assert len(spec_hash(spec())) == 16
    assert '"tasks":[{"image":"x","name":"a","triggerRule":"all_success"}]' in canonical_json(
        spec()
    )


def test_spec_hash_is_pinned() -> None:
    # Changing how specs are hashed makes every run's pinned version unfindable: only on
    # purpose, with a migration.
    assert spec_hash(spec()) == "e87c023790804ff4"


# -- retry delays ------------------------------------------------------------------------


def task(**fields: Any) -> Any:
    dag = DAGSpec.model_validate({"tasks": [{"name": "a", "image": "x", **fields}]})
    return resolve_task(dag, dag.tasks[0])


@pytest.mark.parametrize(
    ("fields", "delays"),
    [
        ({}, [300, 300, 300]),
        ({"retryDelay": "10s"}, [10, 10, 10]),
        ({"retryDelay": "10s", "retryExponentialBackoff": True}, [10, 20, 40, 80]),
        (
            {"retryDelay": "10s", "retryExponentialBackoff": True, "maxRetryDelay": "30s"},
            [10, 20, 30, 30],
        ),
        ({"retryDelay": "1h", "retryExponentialBackoff": True}, [3600, 7200, 14400, 28800]),
        ({"retryDelay": "0s", "retryExponentialBackoff": True}, [0, 0]),
    ],
)
def test_retry_delays(fields: dict[str, Any], delays: list[int]) -> None:
    t = task(**fields)
    assert [retry_delay(t, n).total_seconds() for n in range(1, len(delays) + 1)] == delays


def test_backoff_is_capped_at_a_day_by_default_even_after_many_tries() -> None:
    t = task(retryDelay="5m", retryExponentialBackoff=True)
    assert retry_delay(t, 1000) == timedelta(hours=24)


def test_try_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(task(), 0)


# -- state machines ----------------------------------------------------------------------


def test_finished_states_are_final() -> None:
    for state in TaskState:
        if state.finished:
            assert TASK_TRANSITIONS[state] == frozenset()
    for run_state in RunState:
        if run_state.finished:
            assert RUN_TRANSITIONS[run_state] == frozenset()
    assert task_transition_allowed(TaskState.RUNNING, TaskState.RUNNING)
    assert not task_transition_allowed(TaskState.SUCCEEDED, TaskState.RUNNING)
    assert not run_transition_allowed(RunState.FAILED, RunState.RUNNING)


@pytest.mark.parametrize(
    ("leaves", "outcome"),
    [
        ([TaskState.SUCCEEDED, TaskState.SKIPPED], RunState.SUCCEEDED),
        ([TaskState.SKIPPED], RunState.SUCCEEDED),
        ([TaskState.SUCCEEDED, TaskState.FAILED], RunState.FAILED),
        ([TaskState.UPSTREAM_FAILED, TaskState.SUCCEEDED], RunState.FAILED),
    ],
)
def test_run_outcome_follows_the_leaves(leaves: list[TaskState], outcome: RunState) -> None:
    assert run_outcome(leaves) is outcome


def test_run_outcome_needs_finished_leaves() -> None:
    with pytest.raises(ValueError, match="unfinished"):
        run_outcome([TaskState.RUNNING])


# -- merging -----------------------------------------------------------------------------


def test_deep_merge_keyed_and_plain_lists() -> None:
    base = {
        "containers": [{"name": "task", "env": [{"name": "A", "value": "1"}]}, {"name": "side"}],
        "args": ["a"],
        "nodeSelector": {"x": "1"},
    }
    override = {
        "containers": [{"name": "task", "env": [{"name": "A", "value": "2"}, {"name": "B"}]}],
        "args": ["b"],
        "nodeSelector": {"y": "2"},
    }
    assert deep_merge(base, override) == {
        "containers": [
            {"name": "task", "env": [{"name": "A", "value": "2"}, {"name": "B"}]},
            {"name": "side"},
        ],
        "args": ["b"],
        "nodeSelector": {"x": "1", "y": "2"},
    }
    assert base["containers"][0]["env"] == [{"name": "A", "value": "1"}]  # not modified
