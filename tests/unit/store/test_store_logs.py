"""The store's task logs: how each try's capture ended (task_logs), the logs the database
log store keeps (gzip, log_contents), and when each try was queued."""

from __future__ import annotations

import gzip

import pytest
from sqlalchemy import select
from store_testing import NOW, NS, at, run, task_try

from airkube.core.logs import LogKey
from airkube.logstore import DatabaseLogStore
from airkube.store import Store, StoreError
from airkube.store.models import LogContent
from airkube.store.records import TaskLogRecord


def test_a_try_records_when_it_was_queued(store: Store) -> None:
    store.record_pass(run(), [task_try("load", 1, queued_time=at(1), state="Queued")], NOW)
    store.record_pass(run(), [task_try("load", 1, state="Running", start_time=at(2))], at(2))
    (row,) = store.task_tries(NS, "etl-manual-1")
    assert (row.queued_time, row.start_time) == (at(1), at(2))


def test_how_a_capture_ended_is_recorded_per_try_and_replaced_by_a_later_record(
    store: Store,
) -> None:
    store.record_pass(run(), [task_try("load", 1), task_try("load", 2)], NOW)
    failed = TaskLogRecord("load", 1, "Failed", pod_name="p-1", error="timeout")
    store.record_task_log(NS, "etl-manual-1", failed, now=at(1))
    stored = TaskLogRecord(
        "load",
        1,
        "Stored",
        store="database",
        key="data/etl/etl-manual-1/load/1",
        pod_name="p-1",
        node_name="kwok-node-0",
        size=120,
        cut_bytes=0,
    )
    store.record_task_log(NS, "etl-manual-1", stored, now=at(2))
    missing = TaskLogRecord("load", 2, "Missing", error="pod gone")
    store.record_task_log(NS, "etl-manual-1", missing, now=at(3))
    logs = store.task_logs(NS, "etl-manual-1")
    assert [(x.task_name, x.try_number, x.state) for x in logs] == [
        ("load", 1, "Stored"),
        ("load", 2, "Missing"),
    ]
    first = logs[0]
    assert (first.store, first.key, first.node_name, first.size, first.error) == (
        "database",
        "data/etl/etl-manual-1/load/1",
        "kwok-node-0",
        120,
        None,
    )
    assert (first.created_at, first.updated_at) == (at(1), at(2))


def test_a_log_record_of_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="not in the metadata database"):
        store.record_task_log(NS, "nope", TaskLogRecord("load", 1, "Missing"))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"state": "Lost"}, "log state"),
        ({"store": "ftp"}, "log store"),
        ({"try_number": 0}, "try_number"),
    ],
)
def test_a_bad_log_record_names_its_field(fields: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {"task_name": "load", "try_number": 1, "state": "Stored"}
    with pytest.raises(ValueError, match=problem):
        TaskLogRecord(**{**base, **fields})  # type: ignore[arg-type]


def test_the_database_log_store_gives_back_what_it_was_put_and_keeps_it_compressed(
    store: Store,
) -> None:
    logs = DatabaseLogStore(store)
    key = LogKey(NS, "etl", "etl-manual-1", "load", 1)
    data = b"extracting rows\n" * 5000 + "naïve ✓\n".encode()
    assert not logs.exists(key)
    assert logs.get(key) is None
    logs.put(key, data)
    assert logs.exists(key)
    assert logs.get(key) == data
    with store.engine.connect() as conn:
        (raw, size) = conn.execute(
            select(LogContent.content, LogContent.size).where(LogContent.key == key.path)
        ).one()
    assert gzip.decompress(raw) == data
    assert len(raw) < len(data) / 10
    assert size == len(data)
    logs.put(key, b"again\n")  # a capture redone after a restart replaces it
    assert logs.get(key) == b"again\n"
    other = LogKey(NS, "etl", "etl-manual-1", "load", 2)
    assert logs.get(other) is None
