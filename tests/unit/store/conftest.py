"""Fixtures of the store tests: every store test runs on SQLite and on PostgreSQL.

The SQLite variant uses a file in the test's tmp_path. The PostgreSQL variant uses
``AIRKUBE_TEST_PG_URL`` when set, else the throwaway server of ``hack/postgres.sh``
(started once per session, stopped afterwards only if this session started it and
``AIRKUBE_KEEP_PG`` is unset). Each test gets a fresh schema of its own (the URL sets
its ``search_path``), dropped afterwards. Without PostgreSQL binaries the PostgreSQL
variants are skipped, unless ``CI`` is set: CI must test PostgreSQL for real.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from airkube.store import Store
from airkube.store.engine import parse_url

ROOT = Path(__file__).resolve().parents[3]
POSTGRES_SH = ROOT / "hack" / "postgres.sh"
NO_BINARIES = 3  # hack/postgres.sh's exit status when PostgreSQL is not installed
BACKENDS = ["sqlite", "postgresql"]


def _script(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POSTGRES_SH), command], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in."""
    given = os.environ.get("AIRKUBE_TEST_PG_URL")
    if given:
        yield given
        return
    started_here = _script("status").returncode != 0
    if started_here:
        up = _script("up")
        if up.returncode == NO_BINARIES and not os.environ.get("CI"):
            pytest.skip(f"PostgreSQL variant skipped: {up.stderr.strip()}")
        if up.returncode != 0:
            reason = up.stderr.strip().splitlines()[-1] if up.stderr.strip() else "no output"
            pytest.fail(f"hack/postgres.sh up failed: {reason}", pytrace=False)
    url = _script("url").stdout.strip()
    try:
        yield url
    finally:
        if started_here and not os.environ.get("AIRKUBE_KEEP_PG"):
            _script("down")


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
