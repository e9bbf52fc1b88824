"""Fixtures of the store tests: every store test runs on SQLite and on PostgreSQL.

The SQLite variant uses a file in the test's tmp_path. The PostgreSQL variant uses
``AIRKUBE_TEST_PG_URL`` when set, else the throwaway server of ``hack/postgres.sh``
(started once per session, stopped afterwards only if this session started it and
``AIRKUBE_KEEP_PG`` is unset). Each test gets a fresh schema of its own (the URL sets
its ``search_path``), dropped afterwards. Without PostgreSQL binaries the PostgreSQL
variants are skipped, unless ``CI`` is set: CI must test PostgreSQL for real.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from airkube.store import Store
from airkube.store.engine import parse_url
from postgres_server import postgres_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in."""
    with postgres_server("PostgreSQL variant skipped") as url:
        yield url


@pytest.fixture(scope="session")
def pg_admin(pg_server_url: str) -> Iterator[Engine]:
    """An engine on the test database, for creating and dropping per-test schemas."""
    engine = create_engine(parse_url(pg_server_url), isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def new_pg_url(pg_server_url: str, pg_admin: Engine) -> Iterator[Callable[[], str]]:
    """Makes URLs of fresh, empty schemas; all are dropped after the test."""
    schemas: list[str] = []

    def make() -> str:
        schema = f"t_{secrets.token_hex(6)}"
        with pg_admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        url = make_url(pg_server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    yield make
    with pg_admin.connect() as conn:
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def new_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes URLs of fresh, empty databases of the backend under test."""
    if backend == "postgresql":
        make_pg: Callable[[], str] = request.getfixturevalue("new_pg_url")
        return make_pg
    counter = iter(range(1_000_000))
    return lambda: f"sqlite:///{tmp_path}/db{next(counter)}/airkube.db"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(new_url: Callable[[], str]) -> str:
    """The URL of a fresh, empty database of the backend under test."""
    return new_url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on a fresh database."""
    with Store.from_url(db_url) as s:
        yield s
