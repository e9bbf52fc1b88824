"""DAGs and their spec versions."""

from __future__ import annotations

from store_testing import DAG, NS, at

from airkube.store import Store

SPEC_1 = {"schedule": "@daily", "tasks": [{"name": "a", "image": "busybox"}]}
SPEC_2 = {"schedule": "@hourly", "tasks": [{"name": "a", "image": "busybox"}]}


def test_a_new_spec_is_recorded_once_and_reported_new_only_the_first_time(store: Store) -> None:
    assert store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1)) is True
    assert store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(2)) is False

    versions = store.list_dag_versions(NS, DAG)
    assert [(v.spec_hash, v.spec, v.created_at) for v in versions] == [("h1", SPEC_1, at(1))]


def test_the_spec_snapshot_a_run_pinned_can_be_read_back(store: Store) -> None:
    store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1))
    store.record_dag_version(NS, DAG, "h2", SPEC_2, now=at(2))

    pinned = store.get_dag_version(NS, DAG, "h1")
    assert pinned is not None
    assert pinned.spec == SPEC_1
    assert store.get_dag_version(NS, DAG, "unknown") is None
    assert [v.spec_hash for v in store.list_dag_versions(NS, DAG)] == ["h2", "h1"]


def test_the_dag_tracks_its_current_spec_and_when_it_was_seen(store: Store) -> None:
    store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1))
    store.record_dag_version(NS, DAG, "h2", SPEC_2, now=at(5))

    dag = store.get_dag(NS, DAG)
    assert dag is not None
    assert (dag.current_spec_hash, dag.first_seen, dag.last_seen, dag.deleted_at) == (
        "h2",
        at(1),
        at(5),
        None,
    )


def test_a_late_write_of_an_older_spec_does_not_become_current(store: Store) -> None:
    store.record_dag_version(NS, DAG, "h2", SPEC_2, now=at(5))
    assert store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1)) is True

    dag = store.get_dag(NS, DAG)
    assert dag is not None
    assert (dag.current_spec_hash, dag.last_seen) == ("h2", at(5))


def test_a_deleted_dag_keeps_its_versions_and_is_undeleted_when_seen_again(store: Store) -> None:
    store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1))
    store.mark_dag_deleted(NS, DAG, now=at(2))

    dag = store.get_dag(NS, DAG)
    assert dag is not None
    assert dag.deleted_at == at(2)
    assert len(store.list_dag_versions(NS, DAG)) == 1

    store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(1.5))  # stale: stays deleted
    dag = store.get_dag(NS, DAG)
    assert dag is not None
    assert dag.deleted_at == at(2)

    store.record_dag_version(NS, DAG, "h1", SPEC_1, now=at(3))
    dag = store.get_dag(NS, DAG)
    assert dag is not None
    assert dag.deleted_at is None


def test_unknown_dags_read_as_none_or_empty(store: Store) -> None:
    assert store.get_dag(NS, "nope") is None
    assert store.list_dag_versions(NS, "nope") == []
    store.mark_dag_deleted(NS, "nope", now=at(1))  # nothing to mark: no error
