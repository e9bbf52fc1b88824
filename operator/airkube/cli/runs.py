"""Commands on one DAGRun: ``get`` (the run as a tree of tasks), ``logs`` (from the pod
while it exists, the log store afterwards), ``tries`` (every try, from the metadata
database), ``cancel``, ``clear`` (Airflow's clear) and ``mark`` (Airflow's mark success /
mark failed)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import click
from rich.text import Text

from airkube.api.dagrun import MarkState
from airkube.api.states import RunState, TaskState
from airkube.cli.common import (
    api,
    context_option,
    current_namespace,
    custom_api,
    db_option,
    fail,
    kubeconfig_option,
    namespace_option,
    read_object,
    who_am_i,
)
from airkube.cli.logstore_options import s3_options, s3_settings
from airkube.cli.output import (
    emit,
    output_option,
    print_fields,
    print_table,
    state_text,
    styled,
)
from airkube.cli.remote import Remote, remote_for, server_options
from airkube.core.graph import tree_lines
from airkube.core.logs import LogState

UNKNOWN = "Unknown"
"""What ``get`` shows for a task whose entry the run's status left out (too big)."""
ENDED = frozenset(s.value for s in RunState if s.finished)


def read_run(custom: Any, namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = read_object(
        custom,
        namespace,
        "dagruns",
        name,
        f"DAGRun {name} not found in namespace {namespace} (kubectl get dagruns -n "
        f"{namespace}; finished runs past the history limit are only in `airkube history DAG`)",
    )
    return body


def _patch_run(custom: Any, namespace: str, name: str, patch: dict[str, Any]) -> Any:
    from airkube.kube.writes import WriteError, patch_dagrun

    try:
        return patch_dagrun(custom, namespace, name, patch)
    except WriteError as e:
        fail(str(e))


# The run as a tree ---------------------------------------------------------------------


def _graph(custom: Any, namespace: str, run: dict[str, Any]) -> tuple[Any, str | None]:
    """The run's task graph from its DAG, and a note when it may differ from the pinned one."""
    from kubernetes.client.exceptions import ApiException

    from airkube.api import GROUP, VERSION
    from airkube.core.graph import graph_of
    from airkube.core.spec_hash import spec_hash
    from airkube.core.validation import check_dag

    dag = run["spec"]["dagRef"]["name"]
    try:
        body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", dag)
    except ApiException:
        return None, f"DAG {dag} cannot be read: tasks listed without their dependencies"
    spec, problems = check_dag(body.get("spec") or {})
    if spec is None or problems:
        return None, f"DAG {dag} is invalid now: tasks listed without their dependencies"
    pinned = (run.get("status") or {}).get("dagVersion")
    note = None
    if pinned and spec_hash(spec) != pinned:
        note = f"DAG {dag} changed since this run started: the tree shows its current tasks"
    return graph_of(spec), note


def _duration(start: str | None, end: str | None, now: datetime) -> str:
    from datetime import timedelta

    from airkube.api.duration import format_duration
    from airkube.core.timestamps import parse_time as parse_timestamp

    begun, ended = parse_timestamp(start), parse_timestamp(end)
    if begun is None:
        return ""
    seconds = max((ended or now) - begun, timedelta(0)) // timedelta(seconds=1)
    return format_duration(timedelta(seconds=seconds))


def run_view(
    run: dict[str, Any], order: list[str], upstream: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """The run and its tasks as plain data: what ``get -o json|yaml`` prints."""
    now = datetime.now(UTC)
    spec, status = run["spec"], run.get("status") or {}
    tasks = status.get("tasks") or {}
    names = order or list(tasks)
    rows = []
    for name in names:
        t = tasks.get(name) or {}
        rows.append(
            {
                "name": name,
                "upstream": list(upstream.get(name, ())),
                "state": t.get(
                    "state", UNKNOWN if status.get("tasksOmitted") else TaskState.NONE.value
                ),
                "try": t.get("tryNumber", 0),
                "duration": _duration(t.get("startTime"), t.get("endTime"), now),
                "pod": t.get("podName"),
                "reason": t.get("reason"),
                "message": t.get("message"),
                "output": t.get("output"),
            }
        )
    return {
        "name": run["metadata"]["name"],
        "namespace": run["metadata"]["namespace"],
        "dag": spec["dagRef"]["name"],
        "dagVersion": status.get("dagVersion"),
        "runType": spec.get("runType", "manual"),
        "logicalDate": spec.get("logicalDate"),
        "state": status.get("state", RunState.QUEUED.value),
        "reason": status.get("reason"),
        "message": status.get("message"),
        "progress": status.get("progress"),
        "startTime": status.get("startTime"),
        "endTime": status.get("endTime"),
        "duration": _duration(status.get("startTime"), status.get("endTime"), now),
        "tasksOmitted": status.get("tasksOmitted") or 0,
        "tasks": rows,
    }


@click.command("get")
@click.argument("run")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def get(
    run: str,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Show RUN (a DAGRun) as a tree of its tasks: state, try, duration, and why."""
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    body = read_run(custom, ns, run)
    graph, note = _graph(custom, ns, body)
    order = list(graph.order) if graph else []
    upstream = dict(graph.upstream) if graph else {}
    view = run_view(body, order, upstream)
    if output:
        emit(view, output)
        return
    state = view["state"] + (f" ({view['reason']})" if view["reason"] else "")
    fields: list[tuple[str, str | Text]] = [
        ("Name", view["name"]),
        ("Namespace", view["namespace"]),
        ("DAG", view["dag"] + (f" (version {view['dagVersion']})" if view["dagVersion"] else "")),
        ("Type", view["runType"]),
        ("Logical date", view["logicalDate"] or ""),
        ("State", state_text(view["state"]).append(state[len(view["state"]) :])),
        ("Progress", view["progress"] or ""),
        ("Started", view["startTime"] or ""),
        ("Duration", view["duration"]),
    ]
    if view["message"]:
        fields.append(("Message", view["message"]))
    print_fields(fields)
    click.echo()
    rows_by_name = {row["name"]: row for row in view["tasks"]}
    lines = tree_lines(order, upstream) if graph else [("", n) for n in rows_by_name]
    position = {name: i for i, name in enumerate(order)}
    table = []
    for prefix, name in lines:
        row = rows_by_name[name]
        ups = row["upstream"]
        # The tree shows a task under its last upstream; name the others.
        also = sorted(ups, key=position.__getitem__)[:-1] if len(ups) > 1 else []
        detail = task_detail(row)
        if also:
            detail = f"(also after {', '.join(also)}) {detail}".rstrip()
        table.append(
            (
                Text(prefix + name),
                state_text(row["state"]),
                str(row["try"] or ""),
                row["duration"],
                styled(_one_line(detail), "dim" if row["state"] == TaskState.SUCCEEDED else None),
            )
        )
    print_table(("TASK", "STATE", "TRY", "DURATION", "POD / MESSAGE"), table)
    if view["tasksOmitted"]:
        click.echo(
            f"\n{view['tasksOmitted']} finished tasks are left out of the status of this large "
            "run; the metadata database has them all (airkube history)."
        )
    if note:
        click.echo(f"\nnote: {note}")


def task_detail(row: Mapping[str, Any]) -> str:
    """What the POD / MESSAGE column says of a task: why it failed or was skipped, why its
    pod waits while Queued ("waiting for its pod: Unschedulable: …"), else its pod."""
    if row["state"] == TaskState.SUCCEEDED and row["pod"]:
        return str(row["pod"])
    return str(row["message"] or row["pod"] or "")


def _one_line(text: str, limit: int = 120) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# Logs ------------------------------------------------------------------------------------


@click.command("logs")
@click.argument("run")
@click.argument("task")
@click.option("--try", "try_number", type=click.IntRange(1), help="The try (default: the latest).")
@click.option(
    "--follow", "-f", is_flag=True, help="Stream the log while the try runs; ends when it ends."
)
@click.option(
    "--all-tries", is_flag=True, help="Every try's log, oldest first, each under a header line."
)
@namespace_option
@db_option
@s3_options
@server_options
@kubeconfig_option
@context_option
def logs(
    run: str,
    task: str,
    try_number: int | None,
    follow: bool,
    all_tries: bool,
    namespace: str | None,
    db_url: str,
    log_s3_bucket: str | None,
    log_s3_prefix: str,
    log_s3_endpoint: str | None,
    log_s3_region: str | None,
    server: str | None,
    token: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Print the log of TASK in RUN (its latest try, or --try N, or --all-tries).

    While the try's pod exists its log is read from the pod; afterwards from the log store
    the operator captured it into when the try ended (the metadata database, --db-url, or
    an S3-compatible bucket, --log-s3-*; without --db-url, through the cluster's airkube
    web server when it has one): the same text either way.
    """
    from kubernetes import client

    ns = namespace or current_namespace(kubeconfig, context)
    api_client = api(kubeconfig, context)
    custom = client.CustomObjectsApi(api_client)
    core: Any = client.CoreV1Api(api_client)
    reader = _LogReader(
        ns,
        run,
        task,
        db_url,
        s3_settings(log_s3_bucket, log_s3_prefix, log_s3_endpoint, log_s3_region),
        remote=lambda: remote_for(server, token, kubeconfig, context),
    )
    body = _read_run_or_none(custom, ns, run)
    latest = reader.latest_try(body)
    wanted = list(range(1, latest + 1)) if all_tries else [try_number or latest]
    for n in wanted:
        if all_tries:
            click.echo(f"==> {task} try {n} <==")
        reader.print_try(core, body, n, follow=follow and n == wanted[-1])


def _read_run_or_none(custom: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The DAGRun, or None when it is gone (its history is in the metadata database)."""
    from kubernetes.client.exceptions import ApiException

    from airkube.api import GROUP, VERSION
    from airkube.kube.apply import api_message

    try:
        body: dict[str, Any] = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "dagruns", name
        )
    except ApiException as e:
        if e.status == 404:
            return None
        fail(f"reading dagrun {name}: {api_message(e)}")
    return body


class _LogReader:
    """A task's logs: from its pods while they exist, else from the log store."""

    def __init__(
        self,
        namespace: str,
        run: str,
        task: str,
        db_url: str,
        s3: Any,
        remote: Callable[[], Remote | None] = lambda: None,
    ) -> None:
        self.namespace, self.run, self.task = namespace, run, task
        self.db_url = db_url
        self.s3 = s3
        self._store: Any = None
        self._store_error: str | None = None
        self._find_remote = remote
        self._remote: Remote | bool | None = False
        """False: not looked for yet (only a log no pod has any more needs it)."""

    def remote(self) -> Remote | None:
        """The web server the stored logs are read through, None: the database itself."""
        if self._remote is False:
            self._remote = self._find_remote()
        return self._remote if isinstance(self._remote, Remote) else None

    def store(self) -> Any:
        """The metadata database (None, with the reason kept, when it cannot be opened)."""
        from airkube.store.errors import StoreError
        from airkube.store.repository import Store

        if self._store is None and self._store_error is None:
            try:
                self._store = Store.from_url(self.db_url, migrate=False)
            except StoreError as e:
                self._store_error = str(e)
        return self._store

    def latest_try(self, body: dict[str, Any] | None) -> int:
        run, task = self.run, self.task
        if body is not None:
            status = body.get("status") or {}
            entry = (status.get("tasks") or {}).get(task)
            if entry is None and not status.get("tasksOmitted"):
                known = ", ".join(sorted(status.get("tasks") or {})) or "none yet"
                fail(f"run {run} has no task {task} (its tasks: {known})")
            if entry is not None:
                latest = int(entry.get("tryNumber") or 0)
                if latest == 0:
                    state = entry.get("state", TaskState.NONE.value)
                    fail(f"task {task} of run {run} has not started a try yet (state {state})")
                return latest
        tries = self._recorded_tries()
        if not tries:
            where = "" if body is not None else f"DAGRun {run} no longer exists and "
            fail(
                f"{where}the metadata database has no try of task {task} of run {run} "
                f"in namespace {self.namespace}"
                + (f" ({self._store_error})" if self._store_error else "")
            )
        return max(tries)

    def _recorded_tries(self) -> list[int]:
        remote = self.remote()
        if remote is not None:
            found = remote.tries(self.namespace, self.run)
            rows: list[Any] = [] if found is None else list(found.tries)
            return [r.try_number for r in rows if r.task_name == self.task and r.try_number > 0]
        store = self.store()
        if store is None:
            return []
        from airkube.store.errors import StoreError

        try:
            rows = store.task_tries(self.namespace, self.run)
        except StoreError as e:
            fail(str(e))
        return [r.try_number for r in rows if r.task_name == self.task and r.try_number > 0]

    def print_try(self, core: Any, body: dict[str, Any] | None, n: int, *, follow: bool) -> None:
        pod = self._live_pod(core, body, n) if body is not None else None
        if pod is not None:
            self._print_pod(core, pod, n, follow=follow)
            return
        self._print_stored(n)

    def _live_pod(self, core: Any, body: dict[str, Any], n: int) -> str | None:
        from airkube.logstore.reading import live_try_pod

        pod = live_try_pod(core, self.namespace, self.run, self.task, n, body["metadata"]["uid"])
        return None if pod is None else str(pod.metadata.name)

    def _print_pod(self, core: Any, pod: str, n: int, *, follow: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        from airkube.core.pods import CONTAINER_NAME
        from airkube.kube.apply import api_message

        try:
            if not follow:
                text = core.read_namespaced_pod_log(pod, self.namespace, container=CONTAINER_NAME)
                _echo_log(text)
                return
            stream: Any = core.read_namespaced_pod_log(
                pod, self.namespace, container=CONTAINER_NAME, follow=True, _preload_content=False
            )
            for chunk in stream.stream():
                click.echo(chunk.decode(errors="replace"), nl=False)
        except ApiException as e:
            if e.status == 404:  # deleted meanwhile: its log is in the store by now
                self._print_stored(n)
                return
            fail(f"reading the log of pod {pod} (task {self.task} try {n}): {api_message(e)}")

    def _print_stored(self, n: int) -> None:
        from airkube.logstore.reading import LogReadError, read_stored_log

        remote = self.remote()
        if remote is not None:
            _echo_log(
                remote.stored_log(self.namespace, self.run, self.task, n).decode(errors="replace")
            )
            return
        store = self.store()
        if store is None:
            fail(
                f"the pod of task {self.task} try {n} of run {self.run} no longer exists, "
                f"and its stored log cannot be read: {self._store_error}"
            )
        try:
            data = read_stored_log(store, self.s3, self.namespace, self.run, self.task, n)
        except LogReadError as e:
            fail(str(e))
        _echo_log(data.decode(errors="replace"))


def _echo_log(text: str) -> None:
    if text:
        click.echo(text, nl=not text.endswith("\n"))


# Tries -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def tries_view(tries: list[Any], logs: list[Any]) -> list[dict[str, Any]]:
    """Every try as plain data (what ``tries -o json|yaml`` prints): the try's row and how
    its log capture ended."""
    by_try = {(x.task_name, x.try_number): x for x in logs}
    rows = []
    for t in tries:
        captured = by_try.get((t.task_name, t.try_number))
        rows.append(
            {
                "task": t.task_name,
                "try": t.try_number,
                "state": t.state,
                "queued": _iso(t.queued_time),
                "started": _iso(t.start_time),
                "ended": _iso(t.end_time),
                "pod": t.pod_name,
                "node": captured.node_name if captured else None,
                "exitCode": t.exit_code,
                "reason": t.reason,
                "message": t.message,
                "output": t.output,
                "logStored": captured is not None and captured.state == LogState.STORED,
                "log": None
                if captured is None
                else {
                    "state": captured.state,
                    "store": captured.store,
                    "key": captured.key,
                    "bytes": captured.size,
                    "cutBytes": captured.cut_bytes,
                    "error": captured.error,
                },
            }
        )
    return rows


@click.command("tries")
@click.argument("run")
@click.argument("task", required=False)
@namespace_option
@output_option
@db_option
@server_options
@kubeconfig_option
@context_option
def tries(
    run: str,
    task: str | None,
    namespace: str | None,
    output: str | None,
    db_url: str,
    server: str | None,
    token: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """List every try of RUN's tasks (or of TASK) from the metadata database: when it was
    queued, started and ended, its pod and node, exit code, reason, message, output, and
    whether its log is stored (kubectl airkube logs RUN TASK --try N prints it). The
    database is read directly with --db-url, else through the cluster's airkube web server
    when it has one."""
    from airkube.store.errors import StoreError
    from airkube.store.repository import Store

    ns = namespace or current_namespace(kubeconfig, context)
    remote = remote_for(server, token, kubeconfig, context)
    rows: list[Any]
    captured: list[Any]
    if remote is not None:
        found = remote.tries(ns, run)
        if found is None:
            fail(f"run {run} is not in the metadata database of {remote.where} (namespace {ns})")
        rows, captured = list(found.tries), list(found.logs)
    else:
        try:
            with Store.from_url(db_url, migrate=False) as store:
                recorded = store.get_run(ns, run)
                if recorded is None:
                    fail(f"run {run} is not in the metadata database {store.url} (namespace {ns})")
                rows = store.task_tries(ns, run, uid=recorded.uid)
                captured = store.task_logs(ns, run, uid=recorded.uid)
        except StoreError as e:
            fail(str(e))
    if task is not None:
        rows = [r for r in rows if r.task_name == task]
        if not rows:
            fail(f"the metadata database has no try of task {task} in run {run}")
    view = [r for r in tries_view(rows, captured) if r["try"] > 0 or r["state"]]
    if output:
        emit(view, output)
        return
    table = []
    for r in view:
        log = r["log"]
        stored = "yes" if r["logStored"] else ("no" if log is None else f"no ({log['state']})")
        table.append(
            (
                r["task"],
                str(r["try"] or ""),
                state_text(r["state"]),
                _short_time(r["queued"]),
                _short_time(r["started"]),
                _short_time(r["ended"]),
                r["pod"] or "",
                r["node"] or "",
                "" if r["exitCode"] is None else str(r["exitCode"]),
                r["reason"] or "",
                stored,
                _one_line(r["message"] or r["output"] or "", 60),
            )
        )
    print_table(
        (
            "TASK",
            "TRY",
            "STATE",
            "QUEUED",
            "STARTED",
            "ENDED",
            "POD",
            "NODE",
            "EXIT",
            "REASON",
            "LOG",
            "MESSAGE / OUTPUT",
        ),
        table,
    )


def _short_time(iso: str | None) -> str:
    return "" if iso is None else iso.replace("T", " ").removesuffix("Z")[:19]


# Cancel and clear ------------------------------------------------------------------------


@click.command("cancel")
@click.argument("run")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def cancel(
    run: str,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Cancel RUN: its pods are stopped, unfinished tasks Skipped, the run ends Cancelled."""
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    body = read_run(custom, ns, run)
    state = (body.get("status") or {}).get("state", RunState.QUEUED.value)
    if state in ENDED:
        fail(f"run {run} has already ended {state}: nothing to cancel")
    from airkube.core.requests import cancel_patch

    patched = _patch_run(custom, ns, run, cancel_patch(who_am_i(custom, kubeconfig, context)))
    if output:
        emit(patched, output)
        return
    click.echo(f"dagrun.airkube.io/{run} cancel requested (it was {state})")


@click.command("clear")
@click.argument("run")
@click.option(
    "--task", "-t", "tasks", multiple=True, help="A task to clear (repeatable; default: all)."
)
@click.option("--downstream", "-d", is_flag=True, help="Also clear the tasks downstream.")
@click.option("--failed", "only_failed", is_flag=True, help="Only Failed and UpstreamFailed tasks.")
@click.option("--dry-run", is_flag=True, help="Show what would be cleared; change nothing.")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def clear(
    run: str,
    tasks: tuple[str, ...],
    downstream: bool,
    only_failed: bool,
    dry_run: bool,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Run tasks of RUN again, as Airflow's clear does.

    The selected tasks go back to None and run as new tries with their full retries; a
    finished run becomes Running again (a cancelled one too: clearing lifts the cancel).
    """
    from airkube.api.dagrun import ClearRequest, TaskStatus
    from airkube.core.plan.clear import ClearError, clear_selection
    from airkube.core.requests import clear_patch, request_id

    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    body = read_run(custom, ns, run)
    graph, note = _graph(custom, ns, body)
    status = body.get("status") or {}
    request = ClearRequest(
        id=request_id(datetime.now(UTC), secrets.token_hex(3)),
        tasks=list(dict.fromkeys(tasks)) or None,
        downstream=downstream,
        only_failed=only_failed,
    )
    states = {name: TaskStatus.model_validate(t) for name, t in (status.get("tasks") or {}).items()}
    selected: list[str] | None = None
    if graph is not None:
        try:
            selected = list(clear_selection(graph, states, request))
        except ClearError as e:
            fail(str(e))
        if not selected:
            fail(f"nothing to clear in run {run}: no task matches")
    preview = ", ".join(selected) if selected is not None else "(decided by the operator)"
    if dry_run:
        if output:
            emit({"run": run, "wouldClear": selected}, output)
            return
        click.echo(f"would clear in {run}: {preview}")
        if note:
            click.echo(f"note: {note}")
        return
    user = who_am_i(custom, kubeconfig, context)
    patched = _patch_run(custom, ns, run, clear_patch(request, body["spec"], user))
    if output:
        emit(patched, output)
        return
    click.echo(f"dagrun.airkube.io/{run} clear requested: {preview}")
    click.echo(f"follow it with: kubectl airkube get {run} -n {ns}")


# Mark success / mark failed ----------------------------------------------------------------

_MARK_STATES = {"success": MarkState.SUCCEEDED, "failed": MarkState.FAILED}
"""Airflow's words for the states a mark sets."""


@click.command("mark")
@click.argument("run")
@click.option(
    "--task",
    "-t",
    "tasks",
    multiple=True,
    help="A task to mark (repeatable; default: the run as a whole).",
)
@click.option(
    "--state",
    "-s",
    "mark_state",
    required=True,
    type=click.Choice(sorted(_MARK_STATES), case_sensitive=False),
    help="success or failed.",
)
@click.option("--downstream", "-d", is_flag=True, help="Also mark the tasks downstream.")
@click.option("--upstream", "-u", is_flag=True, help="Also mark the tasks upstream.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def mark(
    run: str,
    tasks: tuple[str, ...],
    mark_state: str,
    downstream: bool,
    upstream: bool,
    dry_run: bool,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Set tasks of RUN, or RUN as a whole, succeeded or failed by hand, as Airflow's
    "Mark Success" and "Mark Failed" do.

    With --task: those tasks take the state (a running one has its pod stopped), and the
    Failed and UpstreamFailed tasks downstream are cleared so that they proceed by their
    trigger rules (a finished run runs again when some must). Without: success marks every
    task Succeeded, failed marks running tasks Failed and the other unfinished ones
    Skipped; the run ends in that state.
    """
    from airkube.api.dagrun import MarkRequest, TaskStatus
    from airkube.core.plan.mark import MarkError, mark_effect
    from airkube.core.requests import mark_patch, request_id

    if (upstream or downstream) and not tasks:
        fail("--upstream and --downstream need --task: without it the whole run is marked")
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    body = read_run(custom, ns, run)
    graph, note = _graph(custom, ns, body)
    status = body.get("status") or {}
    request = MarkRequest(
        id=request_id(datetime.now(UTC), secrets.token_hex(3)),
        state=_MARK_STATES[mark_state.lower()],
        tasks=list(dict.fromkeys(tasks)) or None,
        upstream=upstream,
        downstream=downstream,
    )
    states = {name: TaskStatus.model_validate(t) for name, t in (status.get("tasks") or {}).items()}
    preview = "(decided by the operator)"
    view: dict[str, Any] = {"run": run, "state": request.state.value}
    if graph is not None:
        try:
            effect = mark_effect(graph, states, request)
        except MarkError as e:
            fail(str(e))
        current = RunState(status.get("state") or RunState.QUEUED.value)
        if not effect.changes(current):
            fail(f"nothing to mark in run {run}: already {request.state.value}")
        preview = effect.describe()
        view.update(
            wouldMark=[
                {"task": n, "from": (states.get(n) or TaskStatus()).state.value, "to": s.value}
                for n, s in effect.marked
            ],
            wouldClear=list(effect.cleared),
            runState=effect.run_state.value if effect.run_state else None,
        )
    if status.get("tasksOmitted") and graph is not None:
        omitted = f"{status['tasksOmitted']} tasks are left out of this large run's status"
        note = f"{note}; {omitted}" if note else f"{omitted}: the operator decides for them"
    if dry_run:
        if output:
            emit(view, output)
            return
        click.echo(f"would mark in {run}: {preview}")
        if note:
            click.echo(f"note: {note}")
        return
    user = who_am_i(custom, kubeconfig, context)
    patched = _patch_run(custom, ns, run, mark_patch(request, body["spec"], user))
    if output:
        emit(patched, output)
        return
    click.echo(f"dagrun.airkube.io/{run} mark requested: {preview}")
    click.echo(f"follow it with: kubectl airkube get {run} -n {ns}")
