"""Opening databases: URL handling, clear errors, SQLite settings, UTC timestamps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from store_testing import NS, at, run, task_try

from airkube.store import Store, StoreError, StoreUnavailableError
from airkube.store.columns import UTCDateTime
from airkube.store.engine import parse_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://airkube:pw@db:5432/airkube",
        "postgres://airkube:pw@db:5432/airkube",
        "postgresql+psycopg://airkube:pw@db:5432/airkube",
    ],
)
def test_postgresql_urls_get_the_psycopg_3_driver(url: str) -> None:
    parsed = parse_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database, parsed.password) == (
        "db",
        5432,
        "airkube",
        "pw",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot parse the metadata database URL 'not a url'"),
        ("postgresql://u:s3cret@db:port/x", "cannot parse the metadata database URL"),
        ("mysql://u:s3cret@db/x", "backend 'mysql' is not supported"),
        ("postgresql+psycopg2://u:s3cret@db/x", "driver 'psycopg2' is not shipped"),
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
    ],
)
def test_bad_urls_raise_a_store_error_with_the_password_masked(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        Store.from_url(url)
    assert "s3cret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unreachable_server_is_reported_with_the_url_and_what_to_do() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        Store.from_url("postgresql://airkube:s3cret@127.0.0.1:1/airkube")
    message = str(caught.value)
    assert message.startswith("metadata database postgresql+psycopg://airkube:***@127.0.0.1:1/")
    assert "migrating the schema failed" in message
    assert "check that the server is running" in message
    assert "s3cret" not in message
    assert "\n" not in message


def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "airkube.db"
    with Store.from_url(f"sqlite:///{path}"):
        pass
    assert path.is_file()


def test_sqlite_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Store.from_url("sqlite:///~/state/airkube.db"):
        pass
    assert (tmp_path / "state" / "airkube.db").is_file()


def test_sqlite_reports_a_directory_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match=r"cannot create directory .*file/sub"):
        Store.from_url(f"sqlite:///{tmp_path}/file/sub/airkube.db")


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    with Store.from_url(f"sqlite:///{tmp_path}/airkube.db") as store, store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_concurrent_sqlite_writers_do_not_fail_with_database_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/airkube.db"
    stores = [Store.from_url(url) for _ in range(3)]
    errors: list[BaseException] = []

    def write(store: Store, worker: int) -> None:
        try:
            for i in range(15):
                name = f"run-{worker}-{i}"
                store.record_pass(run(name), [task_try(state="Running")], now=at(i))
                store.record_task_tries(NS, name, [task_try(state="Succeeded")], now=at(i + 1))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert len(stores[0].list_runs(NS, "etl", limit=100)) == 45
    finally:
        for s in stores:
            s.close()


def test_timestamps_come_back_aware_in_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    store.upsert_run(run(logical_date=local, start_time=local), now=local)

    got = store.get_run(NS, "etl-manual-1")
    assert got is not None
    for value in (got.logical_date, got.start_time, got.created_at):
        assert value == datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
        assert value is not None
        assert value.tzinfo is UTC


def test_a_naive_datetime_is_refused_rather_than_guessed(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.upsert_run(run(), now=datetime(2026, 3, 1, 12))
    dialect = store.engine.dialect
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 3, 1), dialect)


def test_json_columns_are_jsonb_on_postgresql(new_pg_url: Callable[[], str]) -> None:
    with Store.from_url(new_pg_url()) as store, store.engine.connect() as conn:
        types = conn.execute(
            text(
                "SELECT table_name, data_type FROM information_schema.columns"
                " WHERE column_name IN ('params', 'spec') AND table_schema = current_schema()"
                " ORDER BY table_name"
            )
        ).all()
    assert [tuple(t) for t in types] == [("dag_runs", "jsonb"), ("dag_versions", "jsonb")]
