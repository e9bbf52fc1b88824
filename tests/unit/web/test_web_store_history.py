"""StoreHistory on a real (SQLite) metadata database and its database log store: what the
web server reads once a run's resources are gone, through logstore.reading as the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from airkube.core.logs import LogKey
from airkube.logstore import DatabaseLogStore
from airkube.store import RunRecord, Store, TaskTryRecord
from airkube.store.records import TaskLogRecord
from airkube.web.data import DataError, StoreHistory

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.from_url(f"sqlite:///{tmp_path / 'airkube.db'}")
    s.record_pass(
        RunRecord(
            namespace="data",
            name="etl-1",
            uid="u1",
            dag_name="etl",
            run_type="manual",
            logical_date=T0,
            state="Failed",
        ),
        [
            TaskTryRecord(task_name="load", try_number=1, state="Failed", exit_code=2),
            TaskTryRecord(task_name="load", try_number=2, state="Failed", exit_code=3),
        ],
        T0,
    )
    DatabaseLogStore(s).put(LogKey("data", "etl", "etl-1", "load", 1), b"<b>one</b>\n")
    s.record_task_log(
        "data",
        "etl-1",
        TaskLogRecord(task_name="load", try_number=1, state="Stored", store="database", key="k"),
    )
    return s


def test_a_stored_log_reads_back_as_it_was_put(store: Store) -> None:
    history = StoreHistory(store)
    assert history.stored_log("data", "etl-1", "load", 1) == b"<b>one</b>\n"
    assert [r.name for r in history.list_runs("data", "etl", 5)] == ["etl-1"]
    assert [t.exit_code for t in history.task_tries("data", "etl-1")] == [2, 3]


def test_a_try_without_a_stored_log_is_a_404_saying_why(store: Store) -> None:
    with pytest.raises(DataError) as caught:
        StoreHistory(store).stored_log("data", "etl-1", "load", 2)
    assert caught.value.status == 404
    assert "the pod of task load try 2 of run etl-1 no longer exists" in str(caught.value)
    assert "has no log of it" in str(caught.value)
