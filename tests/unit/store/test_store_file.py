"""A SQLite file deleted or replaced under an open store: an error, never writes into it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_testing import NS, at, run, task_try

from airkube.store import Store, StoreError, StoreFileLostError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "airkube.db"


@pytest.fixture
def sqlite_store(path: Path) -> Iterator[Store]:
    with Store.from_url(f"sqlite:///{path}") as store:
        store.record_pass(run("first"), [task_try("extract")], at(0))
        yield store


def run_names(db: Path) -> list[str]:
    """The runs in a SQLite file, read without its path's write-ahead log."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return sorted(name for (name,) in con.execute("SELECT name FROM dag_runs"))


def test_a_healthy_store_reports_no_problem(store: Store) -> None:
    store.record_pass(run(), [task_try()], at(0))
    assert store.health() is None


def test_a_deleted_file_refuses_the_next_write_and_gets_nothing(
    sqlite_store: Store, path: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept.db"
    os.link(path, kept)  # the inode the store has open, still reachable after the delete
    path.unlink()

    with pytest.raises(StoreFileLostError) as lost:
        sqlite_store.record_pass(run("second"), [task_try("extract")], at(1))

    message = str(lost.value)
    assert str(path) in message
    assert "was deleted" in message
    assert "restart the operator" in message
    assert "\n" not in message
    assert sqlite_store.health() == message
    sqlite_store.close()
    # What was committed before the loss is in the old file; the refused write is not.
    assert run_names(kept) == ["first"]


def test_reads_after_a_delete_fail_without_creating_a_file_at_the_path(
    sqlite_store: Store, path: Path
) -> None:
    path.unlink()

    with pytest.raises(StoreFileLostError, match="was deleted"):
        sqlite_store.list_runs(NS, "etl")
    with pytest.raises(StoreFileLostError):
        sqlite_store.mark_run_resource_deleted(NS, "first")

    assert not path.exists()


def test_a_replaced_file_is_reported_and_the_replacement_is_left_intact(
    sqlite_store: Store, path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE other (x)")
        con.execute("INSERT INTO other VALUES (1)")
    con.close()
    os.replace(other, path)

    problem = sqlite_store.health()
    assert problem is not None
    assert f"{path} was replaced by another file" in problem
    with pytest.raises(StoreFileLostError, match="replaced by another file"):
        sqlite_store.record_pass(run("second"), [], at(1))
    sqlite_store.close()

    # The old file's write-ahead log, still at <path>-wal, was flushed into the old file
    # and emptied: the replacement opens as itself, not with the old pages laid over it.
    with sqlite3.connect(path) as con:
        tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master")]
        assert tables == ["other"]
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()


def test_a_file_lost_error_is_a_store_error(sqlite_store: Store, path: Path) -> None:
    path.unlink()
    with pytest.raises(StoreError):
        sqlite_store.upsert_run(run("second"), at(1))


def test_a_restarted_store_migrates_a_new_file_where_one_was_deleted(
    sqlite_store: Store, path: Path
) -> None:
    path.unlink()
    assert sqlite_store.health() is not None
    sqlite_store.close()

    with Store.from_url(f"sqlite:///{path}") as again:
        assert again.health() is None
        assert again.list_runs(NS, "etl") == []
        again.record_pass(run("second"), [task_try("extract")], at(1))
        assert [r.name for r in again.list_runs(NS, "etl")] == ["second"]
