"""The views the API answers with and the pages render, computed from a :class:`Cluster`
and a :class:`History` (live resources merged with the metadata database's history).

A missing object raises :class:`NotFoundError` whose message says what is missing and where
to look; other failures are the data layer's :class:`DataError`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from airkube.api.states import RunState, TaskState
from airkube.core.timestamps import parse_time
from airkube.web.data import Cluster, DataError, History
from airkube.web.models import (
    DagDetail,
    DagList,
    DagSummary,
    LogInfo,
    LogPage,
    RunBar,
    RunDetail,
    RunList,
    RunSummary,
    TaskEntry,
    TryDetail,
    TryList,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RECENT_RUNS = 10
"""Bars per DAG in the DAG list."""
MAX_PAGE = 500


class NotFoundError(DataError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class BadRequestError(DataError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def encode_continue(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_continue(token: str) -> str:
    try:
        return base64.b64decode(
            token + "=" * (-len(token) % 4), altchars=b"-_", validate=True
        ).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError(
            f"continue token {token[:40]!r} is not one this server gave: list from the start"
        ) from None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _ready(status: dict[str, Any]) -> tuple[bool | None, str | None, str | None]:
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True", c.get("reason"), c.get("message")
    return None, None, None


def _run_dag(run: dict[str, Any]) -> str:
    return str(((run.get("spec") or {}).get("dagRef") or {}).get("name") or "")


def _live_summary(run: dict[str, Any], recorded: bool = False) -> RunSummary:
    spec, status = run.get("spec") or {}, run.get("status") or {}
    meta = run["metadata"]
    return RunSummary(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        dag=_run_dag(run),
        run_type=spec.get("runType"),
        logical_date=parse_time(spec.get("logicalDate")),
        state=status.get("state") or RunState.QUEUED.value,
        start_time=parse_time(status.get("startTime")),
        end_time=parse_time(status.get("endTime")),
        progress=status.get("progress"),
        live=True,
        recorded=recorded,
    )


def _recorded_summary(row: Any) -> RunSummary:
    return RunSummary(
        name=row.name,
        namespace=row.namespace,
        dag=row.dag_name,
        run_type=row.run_type,
        logical_date=row.logical_date,
        state=row.state,
        start_time=row.start_time,
        end_time=row.end_time,
        live=False,
        recorded=True,
    )


def _newest_first(runs: Iterable[RunSummary]) -> list[RunSummary]:
    def key(r: RunSummary) -> tuple[bool, datetime, str]:
        when = r.logical_date or r.start_time
        return (when is None, when or _EPOCH, r.name)

    return sorted(runs, key=key, reverse=True)


Graph = tuple[list[str], dict[str, list[str]]]
"""A DAG's tasks in order, and each task's upstream tasks."""


def _graph_of(dag: dict[str, Any]) -> Graph:
    """The DAG's task order and dependencies; its tasks in spec order when it is invalid."""
    from airkube.core.graph import graph_of
    from airkube.core.validation import check_dag

    spec, problems = check_dag(dag.get("spec") or {})
    if spec is None or problems:
        return [str(t.get("name", "")) for t in (dag.get("spec") or {}).get("tasks") or []], {}
    graph = graph_of(spec)
    return list(graph.order), {k: list(v) for k, v in graph.upstream.items()}


def _recorded_task(name: str, upstream: list[str], row: Any) -> TaskEntry:
    return TaskEntry(
        name=name,
        upstream=upstream,
        state=TaskState(row.state),
        try_number=row.try_number,
        pod_name=row.pod_name,
        queued_time=row.queued_time,
        start_time=row.start_time,
        end_time=row.end_time,
        exit_code=row.exit_code,
        reason=row.reason,
        message=row.message,
        output=row.output,
    )


class Service:
    """The views; ``history`` None: the metadata database is not reachable (live state only).
    ``user``: who the requests are made for (recorded on what the actions change)."""

    def __init__(self, cluster: Cluster, history: History | None, user: str | None = None) -> None:
        self.cluster = cluster
        self.history = history
        self.user = user

    # DAGs ----------------------------------------------------------------------------

    def _summary(self, dag: dict[str, Any], runs: list[RunSummary]) -> DagSummary:
        spec, status = dag.get("spec") or {}, dag.get("status") or {}
        ready, reason, message = _ready(status)
        bars = [
            RunBar(
                name=r.name,
                state=r.state,
                start_time=r.start_time,
                end_time=r.end_time,
                duration_seconds=_seconds(r.start_time, r.end_time),
            )
            for r in runs[:RECENT_RUNS]
        ]
        return DagSummary(
            name=dag["metadata"]["name"],
            namespace=dag["metadata"].get("namespace", ""),
            schedule=spec.get("schedule"),
            timezone=spec.get("timezone"),
            paused=bool(spec.get("paused")),
            next_run_time=parse_time(status.get("nextRunTime")),
            ready=ready,
            ready_reason=reason,
            ready_message=message,
            tasks=len(spec.get("tasks") or []),
            recent_runs=bars,
        )

    def list_dags(
        self, namespace: str, *, limit: int = 50, cont: str | None = None, search: str = ""
    ) -> DagList:
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequestError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        after = decode_continue(cont) if cont else None
        needle = search.strip().lower()
        dags = sorted(self.cluster.list_dags(namespace), key=lambda d: d["metadata"]["name"])
        matching = [d for d in dags if needle in d["metadata"]["name"].lower()]
        page = [d for d in matching if after is None or d["metadata"]["name"] > after][:limit]
        last = page[-1]["metadata"]["name"] if page else None
        more = last is not None and any(d["metadata"]["name"] > last for d in matching)
        # A bar needs a run's name, state, times and logical date: a recorded row (RecentRun)
        # has them, with no RunSummary made of each of a page's 5,000 rows.
        by_dag: dict[str, dict[str, Any]] = {d["metadata"]["name"]: {} for d in page}
        if page:
            for run in self.cluster.list_runs(namespace):
                if _run_dag(run) in by_dag:
                    by_dag[_run_dag(run)][run["metadata"]["name"]] = _live_summary(run)
            # Runs whose resources were deleted have bars too (one query for the page).
            if self.history is not None:
                recent = self.history.recent_runs(namespace, list(by_dag), RECENT_RUNS)
                for name, runs in by_dag.items():
                    for row in recent.get(name, ()):
                        runs.setdefault(row.name, row)
        items = [
            self._summary(d, _newest_first(by_dag[d["metadata"]["name"]].values())) for d in page
        ]
        return DagList(
            items=items,
            **{"continue": encode_continue(last) if more and last else None},
            total=len(matching),
        )

    def _dag_body(self, namespace: str, dag: str) -> dict[str, Any]:
        body = self.cluster.get_dag(namespace, dag)
        if body is None:
            raise NotFoundError(f"DAG {dag} not found in namespace {namespace}")
        return body

    def get_dag(self, namespace: str, dag: str) -> DagDetail:
        body = self._dag_body(namespace, dag)
        runs, _, _ = self._merged(namespace, dag, RECENT_RUNS)
        return self._detail(body, runs, _graph_of(body))

    def _detail(self, body: dict[str, Any], runs: list[RunSummary], graph: Graph) -> DagDetail:
        return DagDetail(
            **self._summary(body, runs).model_dump(),
            spec=body.get("spec") or {},
            status=body.get("status"),
            task_order=graph[0],
            upstream=graph[1],
        )

    # Runs ----------------------------------------------------------------------------

    def _merged(
        self, namespace: str, dag: str, limit: int
    ) -> tuple[list[RunSummary], dict[str, dict[str, Any]], dict[str, Any]]:
        """The DAG's runs newest first (live and recorded), with the live bodies and the
        recorded rows by name."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequestError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        live = {
            r["metadata"]["name"]: r
            for r in self.cluster.list_runs(namespace)
            if _run_dag(r) == dag
        }
        recorded = {
            r.name: r
            for r in (self.history.list_runs(namespace, dag, limit) if self.history else [])
        }
        merged = {name: _live_summary(r, name in recorded) for name, r in live.items()}
        for name, row in recorded.items():
            merged.setdefault(name, _recorded_summary(row))
        return _newest_first(merged.values())[:limit], live, recorded

    def list_runs(self, namespace: str, dag: str, *, limit: int = 25) -> RunList:
        """The DAG's live DAGRuns merged with the recorded ones (runs whose resource was
        deleted too), newest first."""
        runs, _, _ = self._merged(namespace, dag, limit)
        if not runs and self.cluster.get_dag(namespace, dag) is None:
            raise NotFoundError(
                f"DAG {dag} not found in namespace {namespace}, and no run of it is recorded"
            )
        return RunList(items=runs)

    def grid(
        self, namespace: str, dag: str, *, limit: int = 25
    ) -> tuple[DagDetail, list[RunDetail]]:
        """The DAG and its recent runs with their tasks: one read of the DAG, one list of
        the DAGRuns, and the history's tries only for runs whose resource is gone."""
        body = self._dag_body(namespace, dag)
        graph = _graph_of(body)
        runs, live, recorded = self._merged(namespace, dag, limit)
        details = [
            self._live_run(namespace, live[r.name], r.recorded, graph)
            if r.live
            else self._recorded_run(namespace, recorded[r.name], graph)
            for r in runs
        ]
        return self._detail(body, runs, graph), details

    def get_run(self, namespace: str, run: str, dag: str | None = None) -> RunDetail:
        body = self.cluster.get_run(namespace, run)
        recorded = self.history.get_run(namespace, run) if self.history else None
        if body is not None and (dag is None or _run_dag(body) == dag):
            return self._live_run(namespace, body, recorded is not None)
        if recorded is not None and (dag is None or recorded.dag_name == dag):
            return self._recorded_run(namespace, recorded)
        where = f"of DAG {dag} " if dag else ""
        raise NotFoundError(
            f"run {run} {where}not found in namespace {namespace}: neither a DAGRun resource "
            "nor a run in the metadata database"
            + ("" if self.history else " (the metadata database is not connected)")
        )

    def _graph(self, namespace: str, dag: str) -> Graph:
        body = self.cluster.get_dag(namespace, dag)
        return ([], {}) if body is None else _graph_of(body)

    def _latest_tries(self, namespace: str, run: str) -> dict[str, Any]:
        latest: dict[str, Any] = {}
        if self.history is not None:
            for t in self.history.task_tries(namespace, run):
                latest[t.task_name] = t  # ordered by try: the last one wins
        return latest

    def _live_run(
        self, namespace: str, body: dict[str, Any], recorded: bool, graph: Graph | None = None
    ) -> RunDetail:
        summary = _live_summary(body, recorded)
        status = body.get("status") or {}
        entries = status.get("tasks") or {}
        order, upstream = graph if graph is not None else self._graph(namespace, summary.dag)
        names = order or list(entries)
        omitted = int(status.get("tasksOmitted") or 0)
        # A large run's status leaves finished tasks out: the database has them.
        rows = self._latest_tries(namespace, summary.name) if omitted and recorded else {}
        tasks = []
        for name in names:
            if name not in entries and name in rows:
                tasks.append(_recorded_task(name, upstream.get(name, []), rows[name]))
                continue
            entry = {**(entries.get(name) or {}), "name": name, "upstream": upstream.get(name, [])}
            tasks.append(TaskEntry.model_validate(entry))
        return RunDetail(
            **summary.model_dump(),
            reason=status.get("reason"),
            message=status.get("message"),
            dag_version=status.get("dagVersion"),
            tasks_omitted=omitted,
            tasks=tasks,
        )

    def _recorded_run(self, namespace: str, row: Any, graph: Graph | None = None) -> RunDetail:
        latest = self._latest_tries(namespace, row.name)
        order, upstream = graph if graph is not None else self._graph(namespace, row.dag_name)
        names = [n for n in order if n in latest] + sorted(set(latest) - set(order))
        return RunDetail(
            **_recorded_summary(row).model_dump(),
            message=row.message,
            dag_version=row.dag_version,
            tasks=[_recorded_task(n, upstream.get(n, []), latest[n]) for n in names],
        )

    # Tries ---------------------------------------------------------------------------

    def list_tries(self, namespace: str, dag: str, run: str, task: str) -> TryList:
        detail = self.get_run(namespace, run, dag)
        entry = next((t for t in detail.tasks if t.name == task), None)
        recorded = (
            [t for t in self.history.task_tries(namespace, run) if t.task_name == task]
            if self.history and detail.recorded
            else []
        )
        if entry is None and not recorded:
            known = ", ".join(t.name for t in detail.tasks) or "none"
            raise NotFoundError(f"run {run} has no task {task} (its tasks: {known})")
        logs = (
            {x.try_number: x for x in self.history.task_logs(namespace, run) if x.task_name == task}
            if self.history and detail.recorded
            else {}
        )
        tries: dict[int, TryDetail] = {}
        for t in recorded:
            if t.try_number < 1:
                continue
            log = logs.get(t.try_number)
            tries[t.try_number] = TryDetail(
                task=task,
                try_number=t.try_number,
                state=t.state,
                queued_time=t.queued_time,
                start_time=t.start_time,
                end_time=t.end_time,
                pod=t.pod_name,
                node=log.node_name if log else None,
                exit_code=t.exit_code,
                reason=t.reason,
                message=t.message,
                output=t.output,
                log=None
                if log is None
                else LogInfo(
                    state=log.state,
                    store=log.store,
                    bytes=log.size,
                    cut_bytes=log.cut_bytes,
                    error=log.error,
                ),
            )
        # The live entry is the current try as the operator last wrote it: newer than a row.
        if entry is not None and entry.try_number >= 1 and detail.live:
            old = tries.get(entry.try_number)
            tries[entry.try_number] = TryDetail(
                task=task,
                try_number=entry.try_number,
                state=entry.state.value,
                queued_time=entry.queued_time,
                start_time=entry.start_time,
                end_time=entry.end_time,
                pod=entry.pod_name,
                node=old.node if old else None,
                exit_code=entry.exit_code,
                reason=entry.reason,
                message=entry.message,
                output=entry.output,
                log=old.log if old else None,
            )
        return TryList(items=[tries[n] for n in sorted(tries)])

    def get_try(self, namespace: str, dag: str, run: str, task: str, n: int) -> TryDetail:
        tries = self.list_tries(namespace, dag, run, task)
        found = next((t for t in tries.items if t.try_number == n), None)
        if found is None:
            have = ", ".join(str(t.try_number) for t in tries.items) or "none yet"
            raise NotFoundError(f"task {task} of run {run} has no try {n} (its tries: {have})")
        body = self.cluster.get_run(namespace, run)
        if body is not None:
            pod = self.cluster.try_pod(namespace, run, task, n, body["metadata"]["uid"])
            if pod is not None:
                status = pod.get("status") or {}
                found = found.model_copy(
                    update={
                        "pod": pod["metadata"]["name"],
                        "node": (pod.get("spec") or {}).get("nodeName") or found.node,
                        "pod_phase": status.get("phase"),
                    }
                )
        return found

    def get_log(
        self,
        namespace: str,
        dag: str,
        run: str,
        task: str,
        n: int,
        *,
        start: int,
        limit: int,
        tail: bool = False,
    ) -> LogPage:
        """A page of ``limit`` lines from line ``start``; ``tail``: the last ``limit``."""
        if start < 0 or not 1 <= limit <= 10_000:
            raise BadRequestError(
                f"start must be >= 0 and limit between 1 and 10000 (got {start}, {limit})"
            )
        self.get_try(namespace, dag, run, task, n)  # 404s with a clear message
        body = self.cluster.get_run(namespace, run)
        text: str | None = None
        source: Any = "pod"
        pod_error: DataError | None = None
        if body is not None:
            pod = self.cluster.try_pod(namespace, run, task, n, body["metadata"]["uid"])
            if pod is not None:
                try:
                    text = self.cluster.pod_log(namespace, pod["metadata"]["name"])
                except DataError as e:  # its node gone, say: the store may have the log
                    pod_error = e
        if text is None:
            if self.history is None:
                raise pod_error or NotFoundError(
                    f"the pod of task {task} try {n} of run {run} no longer exists, and the "
                    "metadata database (the log store) is not connected"
                )
            try:
                stored = self.history.stored_log(namespace, run, task, n)
            except DataError as e:
                if pod_error is None:
                    raise
                raise DataError(pod_error.status, f"{pod_error}; and from the store: {e}") from None
            text = stored.decode(errors="replace")
            source = "store"
        lines = text.splitlines()
        if tail:
            start = max(len(lines) - limit, 0)
        page = lines[start : start + limit]
        end = start + len(page)
        return LogPage(
            source=source,
            start=start,
            lines=page,
            total_lines=len(lines),
            next_start=end if end < len(lines) else None,
        )
