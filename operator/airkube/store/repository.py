"""The repository the controller and the CLI call: :class:`Store`.

Every write is an idempotent upsert on a natural key (``INSERT … ON CONFLICT``), so a
pass redone after the operator was killed writes the same facts again harmlessly, and
a stale write never moves a row backwards (the rules are in :mod:`airkube.store.states`).
One call is one transaction; :meth:`Store.record_pass` writes a run and its task tries
together, the one transaction a reconcile pass needs.

Natural keys: ``dags`` (namespace, name); ``dag_versions`` (namespace, dag, spec hash);
``dag_runs`` (namespace, name, uid), an incarnation of a run name; ``task_instances``
(run, task name, try number). Calls that name a run without its uid mean the newest
incarnation recorded under that name.

The store is synchronous (SQLAlchemy's sync engine); from asyncio code call it through
``asyncio.to_thread``. It is safe to share between threads.

A SQLite store remembers which file it opened (:class:`SqliteFile`): every transaction
first checks that the path still names that file, and :meth:`Store.health` says so too.
A file deleted or replaced under the process raises :class:`StoreFileLostError` instead
of writing on into a file no one will read again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self

from alembic.util.exc import CommandError
from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .engine import create_store_engine, masked, writing
from .errors import StoreError, StoreFileLostError, StoreUnavailableError, one_line
from .migrate import current_revision, head_revision, upgrade
from .models import LOG_KEY_MAX, Dag, DagRun, DagVersion, LogContent, TaskInstance, TaskLog
from .records import (
    HASH_MAX,
    NAMESPACE_MAX,
    OUTPUT_MAX_BYTES,
    RecentRun,
    RunRecord,
    StoredDag,
    StoredDagVersion,
    StoredRun,
    StoredTaskLog,
    StoredTaskTry,
    TaskLogRecord,
    TaskTryRecord,
    check_json,
    check_name,
    check_time,
)
from .states import RUN_STATE_RANK, TASK_STATE_RANK

EXECUTEMANY_CHUNK = 200
DAGS: Table = Dag.__table__  # type: ignore[assignment]
DAG_VERSIONS: Table = DagVersion.__table__  # type: ignore[assignment]
DAG_RUNS: Table = DagRun.__table__  # type: ignore[assignment]
TASK_INSTANCES: Table = TaskInstance.__table__  # type: ignore[assignment]
TASK_LOGS: Table = TaskLog.__table__  # type: ignore[assignment]
LOG_CONTENTS: Table = LogContent.__table__  # type: ignore[assignment]
# How long flushing a lost file's WAL waits for a reader of ours (it is tried again later).
FLUSH_TIMEOUT_S: Final = 1.0


class SqliteFile:
    """The SQLite file a store opened, and whether its path still names that file.

    SQLite keeps using the file it opened, so a database deleted (or replaced by a
    ``mv``) under a running process goes on taking writes that no one will ever read.
    This remembers the file's identity (device, inode) when the store opens it; an
    ``os.stat`` of the path (microseconds) before each transaction tells if it is gone.

    It also holds a connection of its own, from the start: when the file is lost, the
    frames of its write-ahead log still lie in ``<path>-wal``, and a database moved to
    that path would take them for its own at its next open (the old content, or a corrupt
    file). Checkpointing them into the lost file through that connection and truncating
    the log prevents it; the connection works on the files it opened (by descriptor), so
    a newer log at the path is never touched.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._anchor = sqlite3.connect(
            path, timeout=FLUSH_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            # A read opens the log (in WAL mode), which the connection then keeps open.
            self._anchor.execute("SELECT count(*) FROM sqlite_master").fetchall()
            st = os.stat(path)
        except BaseException:
            self._anchor.close()
            raise
        self._identity = (st.st_dev, st.st_ino)
        self._lock = threading.Lock()
        self._flushed = False

    def problem(self) -> str | None:
        """None while the path names the file opened, else what happened and what to do."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            what, then = "was deleted", "migrates a new database there"
        except OSError as e:
            what, then = f"cannot be examined ({e.strerror})", "opens it again"
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return None
            what, then = "was replaced by another file", "opens the file now there"
        self._flush()
        return (
            f"metadata database {self.path} {what} while it was open; nothing more is written "
            f"to it: restart the operator (it {then} and rebuilds the history of the runs "
            "that still exist from their statuses)"
        )

    def check(self) -> None:
        """Raise :class:`StoreFileLostError` if the path no longer names the file opened."""
        problem = self.problem()
        if problem is not None:
            raise StoreFileLostError(problem)

    def close(self) -> None:
        with self._lock:
            self._anchor.close()

    def _flush(self) -> None:
        with self._lock:
            if self._flushed:
                return
            try:
                busy, _, _ = self._anchor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error:
                return  # closed, or not in WAL mode: nothing to flush
            self._flushed = not busy


class Store:
    """The metadata database: DAG versions, runs and task tries that outlive resources."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose database is already migrated (see :meth:`from_url`)."""
        self.engine = engine
        self.url = masked(engine.url)
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(writing(engine), expire_on_commit=False)
        self._dialect = engine.dialect.name
        self._file: SqliteFile | None = None

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True, **engine_args: Any) -> Self:
        """Open the database at ``url`` and bring its schema up to date.

        With ``migrate=False`` (e.g. a CLI that only reads) the schema is checked instead
        and must already be at this airkube's newest revision.
        Raises :class:`StoreError` (:class:`StoreUnavailableError` when the server
        cannot be reached) with a one-line message naming the URL.
        """
        engine = create_store_engine(url, **engine_args)
        store = cls(engine)
        try:
            if migrate:
                store._migrate()
            else:
                store._check_schema()
            store._watch_file()
        except BaseException:
            engine.dispose()
            raise
        return store

    def health(self) -> str | None:
        """None while the store can work; else why not, in one line (a SQLite file that was
        deleted or replaced under this process: see :class:`SqliteFile`)."""
        return None if self._file is None else self._file.problem()

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # DAGs ---------------------------------------------------------------------------

    def record_dag_version(
        self,
        namespace: str,
        dag: str,
        spec_hash: str,
        spec: dict[str, Any],
        now: datetime | None = None,
    ) -> bool:
        """Note that ``dag`` has spec ``spec_hash`` as of ``now``; True if that spec is new.

        Each distinct spec is stored once. The DAG's current hash follows the newest
        ``now`` (an older, late write does not overwrite it); seeing a deleted DAG again
        undeletes it.
        """
        check_name("namespace", namespace, NAMESPACE_MAX)
        check_name("dag name", dag)
        check_name("spec hash", spec_hash, HASH_MAX)
        check_json("spec", spec)
        now = _now(now)
        dag_insert = self._insert(DAGS).values(
            namespace=namespace,
            name=dag,
            current_spec_hash=spec_hash,
            first_seen=now,
            last_seen=now,
            deleted_at=None,
        )
        seen = dag_insert.excluded
        dag_upsert = dag_insert.on_conflict_do_update(
            index_elements=[DAGS.c.namespace, DAGS.c.name],
            set_={
                "current_spec_hash": seen.current_spec_hash,
                "last_seen": seen.last_seen,
                "deleted_at": None,
            },
            where=seen.last_seen >= DAGS.c.last_seen,
        )
        version_insert = (
            self._insert(DAG_VERSIONS)
            .values(
                namespace=namespace, dag_name=dag, spec_hash=spec_hash, spec=spec, created_at=now
            )
            .on_conflict_do_nothing()
            .returning(DAG_VERSIONS.c.spec_hash)
        )
        with self._errors(f"recording DAG {namespace}/{dag}"), self._write.begin() as s:
            s.execute(dag_upsert)
            return s.scalar(version_insert) is not None

    def mark_dag_deleted(self, namespace: str, dag: str, now: datetime | None = None) -> None:
        """Note that the DAG resource is gone; its versions and runs stay."""
        now = _now(now)
        stmt = (
            update(DAGS)
            .where(
                DAGS.c.namespace == namespace,
                DAGS.c.name == dag,
                DAGS.c.deleted_at.is_(None),
                DAGS.c.last_seen <= now,
            )
            .values(deleted_at=now, last_seen=now)
        )
        with self._errors(f"marking DAG {namespace}/{dag} deleted"), self._write.begin() as s:
            s.execute(stmt)

    def get_dag(self, namespace: str, dag: str) -> StoredDag | None:
        """The DAG as last seen, or None if it was never recorded."""
        with self._errors(f"reading DAG {namespace}/{dag}"), self._read() as s:
            row = s.get(Dag, (namespace, dag))
            return None if row is None else _stored_dag(row)

    def get_dag_version(self, namespace: str, dag: str, spec_hash: str) -> StoredDagVersion | None:
        """The spec snapshot a run pinned, by its hash."""
        with self._errors(f"reading DAG {namespace}/{dag} version {spec_hash}"), self._read() as s:
            row = s.get(DagVersion, (namespace, dag, spec_hash))
            return None if row is None else _stored_version(row)

    def list_dag_versions(self, namespace: str, dag: str) -> list[StoredDagVersion]:
        """Every recorded spec of the DAG, newest first."""
        stmt = (
            select(DagVersion)
            .where(DagVersion.namespace == namespace, DagVersion.dag_name == dag)
            .order_by(DagVersion.created_at.desc(), DagVersion.spec_hash)
        )
        with self._errors(f"listing versions of DAG {namespace}/{dag}"), self._read() as s:
            return [_stored_version(row) for row in s.scalars(stmt)]

    # Runs ---------------------------------------------------------------------------

    def upsert_run(self, run: RunRecord, now: datetime | None = None) -> None:
        """Record what is known about a run; see :mod:`airkube.store.states` for the rules."""
        self.record_pass(run, (), now)

    def record_task_tries(
        self,
        namespace: str,
        run: str,
        tries: Sequence[TaskTryRecord],
        *,
        run_uid: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record task tries of a run recorded before, in one transaction.

        Raises :class:`StoreError` if the run was never recorded with :meth:`upsert_run`.
        """
        now = _now(now)
        with (
            self._errors(f"recording task tries of run {namespace}/{run}"),
            self._write.begin() as s,
        ):
            run_id = self._run_id(s, namespace, run, run_uid)
            if run_id is None:
                raise StoreError(
                    f"run {namespace}/{run} is not in the metadata database; record it "
                    "(upsert_run) before its task tries"
                )
            self._upsert_tries(s, run_id, tries, now)

    def record_pass(
        self, run: RunRecord, tries: Sequence[TaskTryRecord], now: datetime | None = None
    ) -> None:
        """Record a run and its task tries in one transaction: what one reconcile pass writes."""
        now = _now(now)
        with self._errors(f"recording run {run.namespace}/{run.name}"), self._write.begin() as s:
            run_id = self._upsert_run(s, run, now)
            if tries:
                self._upsert_tries(s, run_id, tries, now)

    def mark_run_resource_deleted(
        self, namespace: str, run: str, uid: str | None = None, now: datetime | None = None
    ) -> bool:
        """Note that the DAGRun resource is gone (its rows stay); False if never recorded.

        Without ``uid``, the newest incarnation of the name is meant. A second call keeps
        the first time.
        """
        now = _now(now)
        with self._errors(f"marking run {namespace}/{run} deleted"), self._write.begin() as s:
            run_id = self._run_id(s, namespace, run, uid)
            if run_id is None:
                return False
            s.execute(
                update(DAG_RUNS)
                .where(DAG_RUNS.c.id == run_id, DAG_RUNS.c.resource_deleted_at.is_(None))
                .values(resource_deleted_at=now)
            )
            return True

    def get_run(self, namespace: str, run: str, *, uid: str | None = None) -> StoredRun | None:
        """The run (its newest incarnation unless ``uid`` is given), or None."""
        with self._errors(f"reading run {namespace}/{run}"), self._read() as s:
            stmt = _run_query(namespace, run, uid)
            row = s.scalars(stmt).first()
            return None if row is None else _stored_run(row)

    def list_runs(
        self,
        namespace: str,
        dag: str,
        limit: int = 25,
        *,
        before: datetime | None = None,
        states: Collection[str] | None = None,
        run_types: Collection[str] | None = None,
    ) -> list[StoredRun]:
        """The DAG's runs, newest logical date first, including deleted resources.

        ``before`` pages back: only runs with a logical date strictly earlier.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        check_time("before", before)
        stmt = select(DagRun).where(DagRun.namespace == namespace, DagRun.dag_name == dag)
        if before is not None:
            stmt = stmt.where(DagRun.logical_date < before)
        if states is not None:
            stmt = stmt.where(DagRun.state.in_(list(states)))
        if run_types is not None:
            stmt = stmt.where(DagRun.run_type.in_(list(run_types)))
        stmt = stmt.order_by(DagRun.logical_date.desc(), DagRun.id.desc()).limit(limit)
        with self._errors(f"listing runs of DAG {namespace}/{dag}"), self._read() as s:
            return [_stored_run(row) for row in s.scalars(stmt)]

    def recent_runs(
        self, namespace: str, dags: Collection[str], per_dag: int
    ) -> dict[str, list[RecentRun]]:
        """The newest ``per_dag`` runs (by logical date) of each DAG in ``dags``, in one
        query: the DAG list's bars for a page of DAGs."""
        if per_dag < 1:
            raise ValueError(f"per_dag must be at least 1, got {per_dag}")
        found: dict[str, list[RecentRun]] = {name: [] for name in dags}
        if not found:
            return found
        rank = (
            func.row_number()
            .over(
                partition_by=DagRun.dag_name,
                order_by=(DagRun.logical_date.desc(), DagRun.id.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(DagRun.id, rank)
            .where(DagRun.namespace == namespace, DagRun.dag_name.in_(list(found)))
            .subquery()
        )
        # A few columns, plain rows: a page of 500 DAGs is 5,000 runs.
        c = DAG_RUNS.c
        columns = (c.namespace, c.name, c.dag_name, c.run_type, c.logical_date, c.state)
        stmt = (
            select(*columns, c.start_time, c.end_time)
            .join(ranked, ranked.c.id == DAG_RUNS.c.id)
            .where(ranked.c.rank <= per_dag)
            .order_by(DAG_RUNS.c.dag_name, DAG_RUNS.c.logical_date.desc(), DAG_RUNS.c.id.desc())
        )
        with self._errors(f"listing recent runs in namespace {namespace}"), self._read() as s:
            for row in s.execute(stmt):
                found[row.dag_name].append(RecentRun(*row))
        return found

    def task_states(self, namespace: str, run: str) -> dict[str, tuple[str, int]]:
        """Each recorded task of the run (its newest incarnation): the state of its latest
        try and that try's number. A few columns only: a run may have 10,000 tasks."""
        newest = _run_query(namespace, run, None).with_only_columns(DagRun.id).scalar_subquery()
        stmt = (
            select(TASK_INSTANCES.c.task_name, TASK_INSTANCES.c.try_number, TASK_INSTANCES.c.state)
            .where(TASK_INSTANCES.c.run_id == newest)
            .order_by(TASK_INSTANCES.c.task_name, TASK_INSTANCES.c.try_number)
        )
        found: dict[str, tuple[str, int]] = {}
        with self._errors(f"reading task states of run {namespace}/{run}"), self._read() as s:
            for task, try_number, state in s.execute(stmt):
                found[task] = (state, try_number)  # ordered by try: the last one wins
        return found

    def task_tries(
        self, namespace: str, run: str, *, uid: str | None = None
    ) -> list[StoredTaskTry]:
        """Every recorded try of every task of the run, by task name then try number."""
        newest = _run_query(namespace, run, uid).with_only_columns(DagRun.id).scalar_subquery()
        stmt = (
            select(TaskInstance)
            .where(TaskInstance.run_id == newest)
            .order_by(TaskInstance.task_name, TaskInstance.try_number)
        )
        with self._errors(f"reading task tries of run {namespace}/{run}"), self._read() as s:
            return [_stored_try(row) for row in s.scalars(stmt)]

    # Task logs ----------------------------------------------------------------------

    def record_task_log(
        self,
        namespace: str,
        run: str,
        log: TaskLogRecord,
        *,
        run_uid: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record how the capture of a try's log ended (a later record replaces it).

        Raises :class:`StoreError` if the run was never recorded."""
        now = _now(now)
        values = {
            "task_name": log.task_name,
            "try_number": log.try_number,
            "state": log.state,
            "store": log.store,
            "key": log.key,
            "pod_name": log.pod_name,
            "node_name": log.node_name,
            "size": log.size,
            "cut_bytes": log.cut_bytes,
            "error": _clean_text(log.error),
            "created_at": now,
            "updated_at": now,
        }
        with (
            self._errors(f"recording the log of {namespace}/{run} {log.task_name}"),
            self._write.begin() as s,
        ):
            run_id = self._run_id(s, namespace, run, run_uid)
            if run_id is None:
                raise StoreError(f"run {namespace}/{run} is not in the metadata database")
            insert = self._insert(TASK_LOGS).values(run_id=run_id, **values)
            new = insert.excluded
            s.execute(
                insert.on_conflict_do_update(
                    index_elements=[
                        TASK_LOGS.c.run_id,
                        TASK_LOGS.c.task_name,
                        TASK_LOGS.c.try_number,
                    ],
                    set_={
                        name: new[name]
                        for name in values
                        if name not in ("task_name", "try_number", "created_at")
                    },
                )
            )

    def task_logs(self, namespace: str, run: str, *, uid: str | None = None) -> list[StoredTaskLog]:
        """How the capture of each try's log of the run ended, by task then try."""
        newest = _run_query(namespace, run, uid).with_only_columns(DagRun.id).scalar_subquery()
        stmt = (
            select(TaskLog)
            .where(TaskLog.run_id == newest)
            .order_by(TaskLog.task_name, TaskLog.try_number)
        )
        with self._errors(f"reading task logs of run {namespace}/{run}"), self._read() as s:
            return [_stored_log(row) for row in s.scalars(stmt)]

    def put_log_content(
        self, key: str, content: bytes, size: int, now: datetime | None = None
    ) -> None:
        """Keep a (compressed) log under ``key``, replacing one kept there before."""
        check_name("log key", key, LOG_KEY_MAX)
        now = _now(now)
        insert = self._insert(LOG_CONTENTS).values(
            key=key, content=content, size=size, created_at=now
        )
        new = insert.excluded
        stmt = insert.on_conflict_do_update(
            index_elements=[LOG_CONTENTS.c.key],
            set_={"content": new.content, "size": new.size, "created_at": new.created_at},
        )
        with self._errors(f"storing log {key}"), self._write.begin() as s:
            s.execute(stmt)

    def get_log_content(self, key: str) -> bytes | None:
        """The (compressed) log kept under ``key``, or None."""
        with self._errors(f"reading log {key}"), self._read() as s:
            content = s.scalar(select(LOG_CONTENTS.c.content).where(LOG_CONTENTS.c.key == key))
            return None if content is None else bytes(content)

    def log_content_exists(self, key: str) -> bool:
        with self._errors(f"reading log {key}"), self._read() as s:
            found = s.scalar(select(LOG_CONTENTS.c.key).where(LOG_CONTENTS.c.key == key))
            return found is not None

    # Internals ----------------------------------------------------------------------

    def _migrate(self) -> None:
        try:
            with self._errors("migrating the schema"):
                upgrade(self.engine)
        except CommandError as e:
            raise StoreError(
                f"metadata database {self.url}: cannot migrate the schema: {one_line(str(e))}; "
                f"this airkube knows revisions up to {head_revision()}: a newer airkube may "
                "have migrated this database, so run that version or use another database"
            ) from None

    def _check_schema(self) -> None:
        with self._errors("reading the schema revision"):
            current = current_revision(self.engine)
        if current != head_revision():
            raise StoreError(
                f"metadata database {self.url}: schema revision is {current or 'none (empty)'}, "
                f"this airkube needs {head_revision()}; start the operator (it migrates at "
                "start) or run: python -m airkube.store.migrate upgrade URL"
            )

    def _watch_file(self) -> None:
        database = self.engine.url.database
        if self._dialect != "sqlite" or not database:
            return
        try:
            self._file = SqliteFile(Path(database))
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"metadata database {self.url}: cannot open it: {e}") from None

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _run_id(self, s: Session, namespace: str, run: str, uid: str | None) -> int | None:
        return s.scalar(_run_query(namespace, run, uid).with_only_columns(DagRun.id))

    def _upsert_run(self, s: Session, run: RunRecord, now: datetime) -> int:
        values = {
            "namespace": run.namespace,
            "name": run.name,
            "uid": run.uid,
            "dag_name": run.dag_name,
            "run_type": run.run_type,
            "logical_date": run.logical_date,
            "data_interval_start": run.data_interval_start,
            "data_interval_end": run.data_interval_end,
            "params": run.params,
            "state": run.state,
            "clear_number": run.clear_number,
            "dag_version": run.dag_version,
            "start_time": run.start_time,
            "end_time": run.end_time,
            "message": _clean_text(run.message),
            "created_at": now,
            "updated_at": now,
            "resource_deleted_at": None,
        }
        insert = self._insert(DAG_RUNS).values(values)
        new, old = insert.excluded, DAG_RUNS.c
        new_attempt = new.clear_number > old.clear_number
        same_attempt = new.clear_number == old.clear_number
        same_state = and_(same_attempt, new.state == old.state)
        advances = or_(
            new_attempt,
            and_(same_attempt, _rank(RUN_STATE_RANK, new.state) > _rank(RUN_STATE_RANK, old.state)),
        )

        def sticky(col: str) -> ColumnElement[Any]:
            """Kept once known, unless the run starts over after a clear."""
            return case((new_attempt, new[col]), else_=func.coalesce(new[col], old[col]))

        def of_state(col: str) -> ColumnElement[Any]:
            """Describes the state: replaced on a move, filled in on a repeat."""
            return case((same_state, func.coalesce(new[col], old[col])), else_=new[col])

        stmt = insert.on_conflict_do_update(
            index_elements=[old.namespace, old.name, old.uid],
            set_={
                "dag_name": new.dag_name,
                "run_type": new.run_type,
                "logical_date": new.logical_date,
                "data_interval_start": sticky("data_interval_start"),
                "data_interval_end": sticky("data_interval_end"),
                "params": new.params,
                "state": new.state,
                "clear_number": new.clear_number,
                "dag_version": sticky("dag_version"),
                "start_time": sticky("start_time"),
                "end_time": of_state("end_time"),
                "message": of_state("message"),
                "updated_at": new.updated_at,
            },
            where=true() if run.by_hand else or_(advances, same_state),
        ).returning(DAG_RUNS.c.id)
        run_id = s.scalar(stmt)
        if run_id is None:  # the write was stale and changed nothing: look the row up
            run_id = self._run_id(s, run.namespace, run.name, run.uid)
        assert run_id is not None
        return int(run_id)

    def _upsert_tries(
        self, s: Session, run_id: int, tries: Sequence[TaskTryRecord], now: datetime
    ) -> None:
        if not tries:
            return
        rows = [
            {
                "run_id": run_id,
                "task_name": t.task_name,
                "try_number": t.try_number,
                "state": t.state,
                "pod_name": t.pod_name,
                "queued_time": t.queued_time,
                "start_time": t.start_time,
                "end_time": t.end_time,
                "exit_code": t.exit_code,
                "output": _clip(_clean_text(t.output), OUTPUT_MAX_BYTES),
                "message": _clean_text(t.message),
                "reason": _clean_text(t.reason),
                "created_at": now,
                "updated_at": now,
            }
            for t in tries
        ]
        insert = self._insert(TASK_INSTANCES)
        new, old = insert.excluded, TASK_INSTANCES.c
        same_state = new.state == old.state
        advances = _rank(TASK_STATE_RANK, new.state) > _rank(TASK_STATE_RANK, old.state)

        def sticky(col: str) -> ColumnElement[Any]:
            return func.coalesce(new[col], old[col])

        def of_state(col: str) -> ColumnElement[Any]:
            return case((same_state, func.coalesce(new[col], old[col])), else_=new[col])

        def upsert(by_hand: bool) -> Any:
            return insert.on_conflict_do_update(
                index_elements=[old.run_id, old.task_name, old.try_number],
                set_={
                    "state": new.state,
                    "pod_name": sticky("pod_name"),
                    "queued_time": sticky("queued_time"),
                    "start_time": sticky("start_time"),
                    "end_time": of_state("end_time"),
                    "exit_code": of_state("exit_code"),
                    "output": of_state("output"),
                    "message": of_state("message"),
                    "reason": of_state("reason"),
                    "updated_at": new.updated_at,
                },
                where=true() if by_hand else or_(advances, same_state),
            )

        # executemany: rows are applied in order, so a batch that names a try twice
        # follows the same rules as two passes would. In chunks: psycopg's pipelined
        # executemany over TCP stalls ~200 ms once a batch outgrows the socket buffers.
        # The states set by hand (a mark: few) come last, in their own batch: they
        # replace what the row says.
        for by_hand in (False, True):
            batch = [row for row, t in zip(rows, tries, strict=True) if t.by_hand is by_hand]
            stmt = upsert(by_hand)
            for start in range(0, len(batch), EXECUTEMANY_CHUNK):
                s.execute(stmt, batch[start : start + EXECUTEMANY_CHUNK])
        # A task's try-0 row says how it ended without a try (UpstreamFailed, Skipped);
        # once it has a real try (after a clear), its first, that row is no try of it: one
        # row per try.
        tried = sorted({t.task_name for t in tries if t.try_number == 1})
        for start in range(0, len(tried), EXECUTEMANY_CHUNK):
            s.execute(
                delete(TASK_INSTANCES).where(
                    TASK_INSTANCES.c.run_id == run_id,
                    TASK_INSTANCES.c.try_number == 0,
                    TASK_INSTANCES.c.task_name.in_(tried[start : start + EXECUTEMANY_CHUNK]),
                )
            )

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into StoreError with one line naming the database; first,
        refuse to work on a SQLite file that was lost (before a connection is taken: a new
        one would create an empty file at the path)."""
        if self._file is not None:
            self._file.check()
        try:
            yield
        except StoreError:
            raise
        except OperationalError as e:
            raise StoreUnavailableError(
                f"metadata database {self.url}: {action} failed: {_driver_message(e)}; "
                "check that the server is running and reachable with these credentials"
            ) from e
        except DBAPIError as e:
            raise StoreError(
                f"metadata database {self.url}: {action} failed: {_driver_message(e)}"
            ) from e
        except SQLAlchemyError as e:
            raise StoreError(
                f"metadata database {self.url}: {action} failed: {one_line(str(e))}"
            ) from e


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    check_time("now", now)
    return now


def _rank(ranks: Mapping[str, int], state: ColumnElement[Any]) -> ColumnElement[int]:
    return case(dict(ranks), value=state, else_=-1)


def _run_query(namespace: str, run: str, uid: str | None) -> Select[DagRun]:
    stmt = select(DagRun).where(DagRun.namespace == namespace, DagRun.name == run)
    if uid is not None:
        stmt = stmt.where(DagRun.uid == uid)
    return stmt.order_by(DagRun.id.desc()).limit(1)


def _clean_text(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; a pod's termination message might.
    return None if text is None else text.replace("\x00", "\ufffd")


def _clip(text: str | None, max_bytes: int) -> str | None:
    if text is None:
        return None
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")


def _driver_message(error: DBAPIError) -> str:
    return one_line(str(error.orig) if error.orig is not None else str(error))


def _stored_dag(row: Dag) -> StoredDag:
    return StoredDag(
        namespace=row.namespace,
        name=row.name,
        current_spec_hash=row.current_spec_hash,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        deleted_at=row.deleted_at,
    )


def _stored_version(row: DagVersion) -> StoredDagVersion:
    return StoredDagVersion(
        namespace=row.namespace,
        dag_name=row.dag_name,
        spec_hash=row.spec_hash,
        spec=row.spec,
        created_at=row.created_at,
    )


def _stored_run(row: DagRun) -> StoredRun:
    return StoredRun(
        id=row.id,
        namespace=row.namespace,
        name=row.name,
        uid=row.uid,
        dag_name=row.dag_name,
        run_type=row.run_type,
        logical_date=row.logical_date,
        state=row.state,
        data_interval_start=row.data_interval_start,
        data_interval_end=row.data_interval_end,
        params=row.params,
        dag_version=row.dag_version,
        start_time=row.start_time,
        end_time=row.end_time,
        message=row.message,
        clear_number=row.clear_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resource_deleted_at=row.resource_deleted_at,
    )


def _stored_try(row: TaskInstance) -> StoredTaskTry:
    return StoredTaskTry(
        task_name=row.task_name,
        try_number=row.try_number,
        state=row.state,
        pod_name=row.pod_name,
        start_time=row.start_time,
        end_time=row.end_time,
        exit_code=row.exit_code,
        output=row.output,
        message=row.message,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        queued_time=row.queued_time,
    )


def _stored_log(row: TaskLog) -> StoredTaskLog:
    return StoredTaskLog(
        task_name=row.task_name,
        try_number=row.try_number,
        state=row.state,
        store=row.store,
        key=row.key,
        pod_name=row.pod_name,
        node_name=row.node_name,
        size=row.size,
        cut_bytes=row.cut_bytes,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
