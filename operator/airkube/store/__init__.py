"""The metadata database: SQLAlchemy 2 models, repository functions and Alembic migrations.

It keeps what must outlive the custom resources — DAG spec versions by hash, runs, and
one row per task try — so ``airkube history`` still works after old DAGRun resources
are garbage-collected. SQLite (a file) is the embedded default, PostgreSQL (psycopg 3)
the production backend.

Modules: ``records`` (the frozen records going in and out), ``states`` (the states and
the no-regression order writes follow), ``repository`` (:class:`Store`, what the
controller and the CLI call), ``engine`` (URL → configured engine), ``migrate`` and
``migrations/`` (Alembic, run at start), ``models`` and ``columns`` (the schema).

    store = Store.from_url("sqlite:////var/lib/airkube/airkube.db")  # migrates
    store.record_dag_version("data", "etl", spec_hash, spec_dict, now)
    store.record_pass(RunRecord(...), [TaskTryRecord(...), ...], now)
    store.list_runs("data", "etl", limit=20)
"""

from .errors import StoreError, StoreFileLostError, StoreUnavailableError
from .records import (
    RunRecord,
    StoredDag,
    StoredDagVersion,
    StoredRun,
    StoredTaskTry,
    TaskTryRecord,
)
from .repository import Store
from .states import RUN_STATES, RUN_TYPES, TASK_STATES

__all__ = [
    "RUN_STATES",
    "RUN_TYPES",
    "TASK_STATES",
    "RunRecord",
    "Store",
    "StoreError",
    "StoreFileLostError",
    "StoreUnavailableError",
    "StoredDag",
    "StoredDagVersion",
    "StoredRun",
    "StoredTaskTry",
    "TaskTryRecord",
]
