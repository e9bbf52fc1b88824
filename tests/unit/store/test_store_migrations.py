"""The migrations: they build exactly the models' schema, idempotently, concurrently."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from airkube.store import Store, StoreError
from airkube.store.engine import create_store_engine
from airkube.store.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    main,
)
from airkube.store.models import Base

TABLES = {
    "dags",
    "dag_versions",
    "dag_runs",
    "task_instances",
    "task_logs",
    "log_contents",
    VERSION_TABLE,
}


def test_the_migration_head_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_opening_a_store_twice_migrates_once_and_leaves_it_at_head(db_url: str) -> None:
    with Store.from_url(db_url) as first:
        assert current_revision(first.engine) == head_revision()
    with Store.from_url(db_url) as second:
        assert current_revision(second.engine) == head_revision()
        assert set(inspect(second.engine).get_table_names()) == TABLES


def _open_and_close(url: str) -> None:
    Store.from_url(url).close()


def test_replicas_starting_at_once_all_open_the_store(db_url: str) -> None:
    # Separate processes, like operator replicas: each waits on the database's lock.
    forked = multiprocessing.get_context("fork")
    with forked.Pool(3) as pool:
        pool.map(_open_and_close, [db_url] * 3)

    with Store.from_url(db_url) as store, store.engine.connect() as conn:
        versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    assert [v for (v,) in versions] == [head_revision()]


def test_threads_opening_one_database_at_once_all_succeed(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        barrier.wait()
        try:
            Store.from_url(db_url).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_database_migrated_by_a_newer_airkube_gives_a_clear_error(db_url: str) -> None:
    with Store.from_url(db_url) as store, store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))

    with pytest.raises(StoreError, match="a newer airkube may have migrated this database"):
        Store.from_url(db_url)


def test_a_reader_that_does_not_migrate_checks_the_schema_instead(db_url: str) -> None:
    with pytest.raises(StoreError, match=r"schema revision is none \(empty\), this airkube needs"):
        Store.from_url(db_url, migrate=False)
    Store.from_url(db_url).close()
    with Store.from_url(db_url, migrate=False) as reader:
        assert reader.list_runs("ns", "dag") == []


def test_the_migrations_downgrade_to_nothing_and_upgrade_again(db_url: str) -> None:
    with Store.from_url(db_url) as store:
        with store.engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
        assert set(inspect(store.engine).get_table_names()) == {VERSION_TABLE}
    with Store.from_url(db_url) as store:
        assert set(inspect(store.engine).get_table_names()) == TABLES


def test_the_migrate_command_upgrades_and_prints_the_revision(
    new_url: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_url()
    assert main(["current", url]) == 0
    assert capsys.readouterr().out.strip() == "(empty)"
    assert main(["upgrade", url]) == 0
    assert capsys.readouterr().out.strip() == head_revision()
    engine = create_store_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
