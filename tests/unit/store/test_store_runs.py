"""Runs: idempotent upserts, no regression, incarnations, history listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from store_testing import DAG, NOW, NS, at, run, task_try

from airkube.store import Store, StoreError
from airkube.store.models import DagRun


def count_runs(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(DagRun)).scalar_one()


def test_a_run_is_recorded_with_every_field(store: Store) -> None:
    record = run(
        run_type="scheduled",
        data_interval_start=NOW - timedelta(days=1),
        data_interval_end=NOW,
        params={"date": "2026-03-01", "n": [1, 2]},
        dag_version="sha256:abc",
        state="Running",
        start_time=at(5),
        message="started",
    )
    store.upsert_run(record, now=at(6))

    got = store.get_run(NS, record.name)
    assert got is not None
    assert (got.namespace, got.name, got.uid, got.dag_name) == (NS, record.name, record.uid, DAG)
    assert got.run_type == "scheduled"
    assert (got.logical_date, got.data_interval_start, got.data_interval_end) == (
        NOW,
        NOW - timedelta(days=1),
        NOW,
    )
    assert got.params == {"date": "2026-03-01", "n": [1, 2]}
    assert (got.dag_version, got.state, got.start_time, got.end_time) == (
        "sha256:abc",
        "Running",
        at(5),
        None,
    )
    assert got.message == "started"
    assert (got.created_at, got.updated_at, got.resource_deleted_at) == (at(6), at(6), None)


def test_writing_the_same_run_twice_keeps_one_row_and_the_same_facts(store: Store) -> None:
    record = run(state="Running", start_time=at(1))
    store.upsert_run(record, now=at(2))
    first = store.get_run(NS, record.name)
    store.upsert_run(record, now=at(3))

    assert count_runs(store) == 1
    again = store.get_run(NS, record.name)
    assert first is not None
    assert again is not None
    assert again.state == first.state == "Running"
    assert again.start_time == first.start_time
    assert again.created_at == first.created_at == at(2)


def test_a_run_moves_forward_through_its_states(store: Store) -> None:
    store.upsert_run(run(state="Queued"), now=at(0))
    store.upsert_run(run(state="Running", start_time=at(1)), now=at(1))
    store.upsert_run(run(state="Succeeded", start_time=at(1), end_time=at(9)), now=at(9))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.start_time, got.end_time) == ("Succeeded", at(1), at(9))


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("Running", "Queued"),
        ("Succeeded", "Running"),
        ("Succeeded", "Queued"),
        ("Failed", "Running"),
        ("Cancelled", "Queued"),
    ],
)
def test_an_older_run_state_written_late_does_not_regress_it(
    store: Store, newer: str, older: str
) -> None:
    store.upsert_run(run(state=newer, start_time=at(1), message="newer"), now=at(5))
    store.upsert_run(run(state=older, message="older"), now=at(6))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.message, got.start_time) == (newer, "newer", at(1))
    assert got.updated_at == at(5)


def test_the_first_terminal_run_state_wins(store: Store) -> None:
    store.upsert_run(run(state="Failed", end_time=at(3), message="task load failed"), now=at(3))
    store.upsert_run(run(state="Cancelled", end_time=at(4)), now=at(4))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.end_time, got.message) == ("Failed", at(3), "task load failed")


def test_repeating_a_state_fills_in_missing_facts_and_never_erases_them(store: Store) -> None:
    store.upsert_run(run(state="Running", start_time=at(1)), now=at(1))
    store.upsert_run(run(state="Running", dag_version="h1", message="3/10"), now=at(2))
    store.upsert_run(run(state="Running"), now=at(3))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.start_time, got.dag_version, got.message) == (at(1), "h1", "3/10")


def test_moving_to_a_new_state_replaces_the_message_of_the_old_one(store: Store) -> None:
    store.upsert_run(run(state="Running", message="waiting for a node"), now=at(1))
    store.upsert_run(run(state="Succeeded"), now=at(2))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.message) == ("Succeeded", None)


def test_a_cleared_run_starts_over_with_a_higher_clear_number(store: Store) -> None:
    store.upsert_run(run(state="Failed", start_time=at(1), end_time=at(2)), now=at(2))
    store.upsert_run(run(state="Queued", clear_number=1), now=at(3))

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.clear_number, got.start_time, got.end_time) == (
        "Queued",
        1,
        None,
        None,
    )
    # ...and a late write of the attempt before the clear does not bring it back.
    store.upsert_run(run(state="Failed", end_time=at(2)), now=at(4))
    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.clear_number) == ("Queued", 1)


def test_a_run_recreated_under_the_same_name_is_a_new_row_and_both_are_kept(
    store: Store,
) -> None:
    store.record_pass(run(uid="uid-1", state="Failed"), [task_try(state="Failed")], now=at(1))
    store.mark_run_resource_deleted(NS, "etl-manual-1", "uid-1", now=at(2))
    store.record_pass(run(uid="uid-2", state="Queued"), [task_try(state="Queued")], now=at(3))

    newest = store.get_run(NS, "etl-manual-1")
    assert newest is not None
    assert (newest.uid, newest.state, newest.resource_deleted_at) == ("uid-2", "Queued", None)
    first = store.get_run(NS, "etl-manual-1", uid="uid-1")
    assert first is not None
    assert (first.state, first.resource_deleted_at) == ("Failed", at(2))
    assert [t.state for t in store.task_tries(NS, "etl-manual-1")] == ["Queued"]
    assert [t.state for t in store.task_tries(NS, "etl-manual-1", uid="uid-1")] == ["Failed"]
    assert [r.uid for r in store.list_runs(NS, DAG)] == ["uid-2", "uid-1"]


def test_a_deleted_resource_keeps_its_history_and_the_first_deletion_time(store: Store) -> None:
    store.record_pass(run(state="Succeeded"), [task_try(state="Succeeded")], now=at(1))

    assert store.mark_run_resource_deleted(NS, "etl-manual-1", now=at(5)) is True
    assert store.mark_run_resource_deleted(NS, "etl-manual-1", now=at(6)) is True
    assert store.mark_run_resource_deleted(NS, "never-recorded", now=at(6)) is False

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    assert (got.state, got.resource_deleted_at) == ("Succeeded", at(5))
    assert len(store.task_tries(NS, "etl-manual-1")) == 1


def test_get_run_of_an_unknown_run_is_none(store: Store) -> None:
    assert store.get_run(NS, "nope") is None
    assert store.task_tries(NS, "nope") == []


def test_runs_are_listed_newest_logical_date_first_with_paging_and_filters(store: Store) -> None:
    for day in range(5):
        store.upsert_run(
            run(
                f"etl-scheduled-{day}",
                run_type="scheduled",
                logical_date=NOW + timedelta(days=day),
                state="Failed" if day % 2 else "Succeeded",
            ),
            now=at(day),
        )
    store.upsert_run(run("etl-manual-x", logical_date=NOW + timedelta(days=2)), now=at(9))
    store.upsert_run(run("other-dag-run", dag_name="other"), now=at(9))
    store.upsert_run(run("elsewhere", namespace="other-ns"), now=at(9))

    names = [r.name for r in store.list_runs(NS, DAG)]
    assert names == [
        "etl-scheduled-4",
        "etl-scheduled-3",
        "etl-manual-x",  # same logical date as -2, recorded later: newer
        "etl-scheduled-2",
        "etl-scheduled-1",
        "etl-scheduled-0",
    ]
    assert [r.name for r in store.list_runs(NS, DAG, limit=2)] == names[:2]
    before = NOW + timedelta(days=2)
    assert [r.name for r in store.list_runs(NS, DAG, before=before)] == names[-2:]
    assert [r.name for r in store.list_runs(NS, DAG, states=["Failed"])] == [
        "etl-scheduled-3",
        "etl-scheduled-1",
    ]
    assert [r.name for r in store.list_runs(NS, DAG, run_types=["manual"])] == ["etl-manual-x"]


def test_list_runs_refuses_a_limit_below_one(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_runs(NS, DAG, limit=0)


def test_task_tries_of_an_unrecorded_run_are_refused_with_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match=r"run data/ghost is not in the metadata database"):
        store.record_task_tries(NS, "ghost", [task_try()])


def test_task_tries_can_be_recorded_after_the_run(store: Store) -> None:
    store.upsert_run(run(uid="uid-1"), now=at(0))
    store.upsert_run(run(uid="uid-2"), now=at(1))
    store.record_task_tries(NS, "etl-manual-1", [task_try("a"), task_try("b")], now=at(2))
    store.record_task_tries(NS, "etl-manual-1", [task_try("c")], run_uid="uid-1", now=at(2))

    assert [t.task_name for t in store.task_tries(NS, "etl-manual-1")] == ["a", "b"]
    assert [t.task_name for t in store.task_tries(NS, "etl-manual-1", uid="uid-1")] == ["c"]


def test_a_pass_is_one_transaction_so_a_failure_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object) -> None:
        raise RuntimeError("killed mid-pass")

    monkeypatch.setattr(store, "_upsert_tries", fail)
    with pytest.raises(RuntimeError, match="killed mid-pass"):
        store.record_pass(run(state="Running"), [task_try(state="Running")], now=at(1))

    assert store.get_run(NS, "etl-manual-1") is None
