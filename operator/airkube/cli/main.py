"""Entry point of the ``airkube`` command (also ``kubectl airkube``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import click

from airkube import __version__
from airkube.cli import dagfiles, runs, ui, web
from airkube.cli.common import (
    TIME_FORMS,
    CommandGroup,
    context_option,
    current_namespace,
    custom_api,
    dag_spec,
    dag_time,
    db_option,
    fail,
    kubeconfig_option,
    namespace_option,
    parse_time,
    read_dag,
    split_param,
    who_am_i,
)
from airkube.cli.logstore_options import log_store_options, log_store_settings
from airkube.cli.output import emit, output_option, print_table, state_text
from airkube.cli.remote import remote_for, server_options
from airkube.kube.client import KubeConfigError, KubeTarget


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airkube")
def main() -> None:
    """airkube: Airflow-style DAGs on Kubernetes."""


@main.command()
def version() -> None:
    """Print airkube's version."""
    click.echo(__version__)


@main.command()
@kubeconfig_option
@context_option
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    envvar="AIRKUBE_NAMESPACES",
    help="Namespace to watch (repeatable; AIRKUBE_NAMESPACES takes a comma-separated list). "
    "Default: all namespaces.",
)
@db_option
@click.option(
    "--log-level",
    envvar="AIRKUBE_LOG_LEVEL",
    default="INFO",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    show_default=True,
)
@click.option(
    "--workers",
    envvar="AIRKUBE_WORKERS",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Runs reconciled concurrently.",
)
@click.option(
    "--health-port",
    envvar="AIRKUBE_HEALTH_PORT",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of GET /healthz and GET /metrics (0: neither).",
)
@click.option(
    "--peering",
    envvar="AIRKUBE_PEERING",
    metavar="NAME",
    help="Run as one of several replicas sharing the ClusterKopfPeering NAME (kopf peering): "
    "only the active one works, the others stand by and take over when it stops. Needs a "
    "PostgreSQL database shared by the replicas. Default: no peering (the only operator).",
)
@click.option(
    "--peering-priority",
    envvar="AIRKUBE_PEERING_PRIORITY",
    default=0,
    show_default=True,
    type=click.IntRange(-1000, 1000),
    help="A replica of a higher priority takes over at once (e.g. one run by hand to debug); "
    "among equal ones, the one that started first stays active.",
)
@click.option(
    "--peering-lifetime",
    envvar="AIRKUBE_PEERING_LIFETIME",
    default=15,
    show_default=True,
    type=click.IntRange(5, 3600),
    metavar="SECONDS",
    help="How long a replica that stopped without notice (killed, node lost) counts as "
    "active after its last keep-alive; a standby takes over then. A clean stop hands over "
    "at once.",
)
@click.option(
    "--callback-attempts",
    envvar="AIRKUBE_CALLBACK_ATTEMPTS",
    default=5,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Tries of a callback's webhook before it counts as failed (a Warning event).",
)
@click.option(
    "--callback-backoff",
    envvar="AIRKUBE_CALLBACK_BACKOFF",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    metavar="SECONDS",
    help="Delay before a webhook's second try, doubled before each next one (at most 60s).",
)
@log_store_options
def run(
    kubeconfig: str | None,
    context: str | None,
    namespaces: tuple[str, ...],
    db_url: str,
    log_level: str,
    workers: int,
    health_port: int,
    peering: str | None,
    peering_priority: int,
    peering_lifetime: int,
    callback_attempts: int,
    callback_backoff: float,
    log_store: str,
    log_cap: int,
    log_capture_concurrency: int,
    log_s3_bucket: str | None,
    log_s3_prefix: str,
    log_s3_endpoint: str | None,
    log_s3_region: str | None,
) -> None:
    """Run the operator: reconcile DAGs and DAGRuns until stopped."""
    import re

    from airkube.controller.health import HealthServerError
    from airkube.controller.operator import run_operator
    from airkube.controller.peering import DemotedError, PeeringError
    from airkube.controller.settings import OperatorSettings
    from airkube.store.engine import parse_url
    from airkube.store.errors import StoreError
    from airkube.store.repository import Store

    if peering:
        if len(peering) > 253 or not re.fullmatch(
            r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", peering
        ):
            fail(
                f"--peering {peering!r} is not a valid object name: lowercase letters, digits, "
                "'-' and '.', starting and ending with a letter or digit"
            )
        try:
            backend = parse_url(db_url).get_backend_name()
        except StoreError as e:
            fail(str(e))
        if backend == "sqlite":
            fail(
                "--peering needs a database the replicas share: a SQLite file cannot be "
                "(each replica would keep its own history, and a run taken over would lose "
                "the DAG version it follows); use --db-url postgresql://…, or run one "
                "operator without --peering"
            )

    logs = log_store_settings(
        log_store,
        log_cap,
        log_capture_concurrency,
        log_s3_bucket,
        log_s3_prefix,
        log_s3_endpoint,
        log_s3_region,
    )
    if logs.kind == "s3" and logs.s3 is None:
        fail("--log-store s3 needs a bucket: --log-s3-bucket (or AIRKUBE_LOG_S3_BUCKET)")

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    for noisy in ("kopf.objects", "kopf.activities", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    watched = tuple(n.strip() for item in namespaces for n in item.split(",") if n.strip())
    settings = OperatorSettings(
        target=KubeTarget(kubeconfig, context),
        namespaces=watched,
        db_url=db_url,
        log_level=log_level.upper(),
        workers=workers,
        health_port=health_port or None,
        peering=peering or None,
        peering_priority=peering_priority,
        peering_lifetime=peering_lifetime,
        callback_attempts=callback_attempts,
        callback_backoff=callback_backoff,
        log_store=logs,
    )
    try:
        store = Store.from_url(db_url)
    except StoreError as e:
        fail(str(e))
    try:
        run_operator(settings, store)
    except (KubeConfigError, PeeringError, DemotedError, HealthServerError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


@main.command()
@click.argument("dag")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    help="KEY=VALUE (VALUE read as JSON if it parses). Repeatable.",
)
@click.option(
    "--logical-date",
    metavar="TIME",
    help=f"The run's logical date: {TIME_FORMS}. Default: now.",
)
@click.option(
    "--name", "run_name", help="Name of the DAGRun (default: <dag>-manual-<logical date>)."
)
@namespace_option
@output_option
@kubeconfig_option
@context_option
def trigger(
    dag: str,
    params: tuple[str, ...],
    logical_date: str | None,
    run_name: str | None,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Start a manual run of DAG."""
    from airkube.core.params import ParamsError, param_from_text
    from airkube.core.requests import trigger_plan
    from airkube.kube.writes import WriteError, create_dagrun

    typed = parse_time(logical_date, "--logical-date") if logical_date else None
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    dag_body = read_dag(custom, ns, dag)
    dag_params = (dag_body.get("spec") or {}).get("params")
    timezone = (dag_body.get("spec") or {}).get("timezone")
    when = dag_time(typed, timezone) if typed is not None else datetime.now(UTC)
    values = {}
    for text in params:
        key, raw = split_param(text)
        values[key] = param_from_text(dag_params, key, raw)
    try:
        plan = trigger_plan(
            ns, dag, dag_params, values, when, run_name, who_am_i(custom, kubeconfig, context)
        )
    except ParamsError as e:
        fail(str(e))
    try:
        created = create_dagrun(custom, ns, plan.manifest)
    except WriteError as e:
        if e.status == 409:
            fail(
                f"DAGRun {plan.name} already exists in {ns}: pass another --logical-date or --name"
            )
        fail(str(e))
    if output:
        emit(created, output)
        return
    click.echo(f"dagrun.airkube.io/{plan.name} created in {ns}")


@main.command()
@click.argument("dag")
@click.option(
    "--start",
    "start_text",
    required=True,
    metavar="TIME",
    help=f"First logical date: {TIME_FORMS}.",
)
@click.option(
    "--end",
    "end_text",
    required=True,
    metavar="TIME",
    help="Last logical date, included (same forms as --start).",
)
@click.option("--rerun-failed", is_flag=True, help="Run again the intervals whose run failed.")
@click.option("--rerun-all", is_flag=True, help="Run again every finished interval.")
@click.option("--dry-run", is_flag=True, help="List the runs it would create; create nothing.")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def backfill(
    dag: str,
    start_text: str,
    end_text: str,
    rerun_failed: bool,
    rerun_all: bool,
    dry_run: bool,
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Create backfill runs of DAG for the data intervals with logical dates in [start, end].

    Intervals that already have a run are skipped unless --rerun-failed or --rerun-all;
    the operator starts the runs within the DAG's maxActiveRuns, oldest first.
    """
    from airkube.api import GROUP, VERSION
    from airkube.core.backfill import BackfillError, backfill_intervals
    from airkube.core.requests import backfill_manifest, backfill_mode, existing_runs
    from airkube.kube.writes import WriteError, create_dagrun, delete_dagrun

    if rerun_failed and rerun_all:
        fail("give --rerun-failed or --rerun-all, not both")
    mode = backfill_mode(rerun_failed, rerun_all)
    start_typed = parse_time(start_text, "--start")
    end_typed = parse_time(end_text, "--end")
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    spec = dag_spec(read_dag(custom, ns, dag))
    start, end = dag_time(start_typed, spec.timezone), dag_time(end_typed, spec.timezone)
    listed: Any = custom.list_namespaced_custom_object(GROUP, VERSION, ns, "dagruns")
    existing = existing_runs(listed["items"], dag)
    try:
        plan = backfill_intervals(
            dag, spec, start, end, now=datetime.now(UTC), existing=existing, mode=mode
        )
    except BackfillError as e:
        fail(str(e))
    user = who_am_i(custom, kubeconfig, context) if plan.runs and not dry_run else None
    records: list[dict[str, Any]] = []

    def report(record: dict[str, Any], line: str) -> None:
        if output:
            records.append(record)
        else:
            click.echo(line)

    for when, why in plan.skipped:
        report(
            {"action": "skip", "logicalDate": when.isoformat(), "reason": why},
            f"skip    {when.isoformat()}  {why}",
        )
    for run in plan.runs:
        interval = f"{run.data_interval_start.isoformat()} to {run.data_interval_end.isoformat()}"
        record = {
            "run": run.name,
            "dataIntervalStart": run.data_interval_start.isoformat(),
            "dataIntervalEnd": run.data_interval_end.isoformat(),
        }
        if dry_run:
            report({"action": "wouldCreate", **record}, f"would create  {run.name}  ({interval})")
            continue
        try:
            if run.replaces is not None:
                delete_dagrun(custom, ns, run.replaces.name)
            create_dagrun(custom, ns, backfill_manifest(ns, dag, run, user))
        except WriteError as e:
            if e.status != 409:
                fail(str(e))
            report({"action": "exists", **record}, f"exists  {run.name}")
            continue
        report({"action": "created", **record}, f"created {run.name}  ({interval})")
    if output:
        emit(records, output)
    elif not plan.runs:
        click.echo("nothing to backfill")


@main.command("render-task")
@click.argument("dag")
@click.argument("task")
@click.option(
    "--logical-date",
    required=True,
    metavar="TIME",
    help=f"The logical date to render for: {TIME_FORMS}.",
)
@click.option("--param", "-p", "params", multiple=True, help="KEY=VALUE overriding a param.")
@namespace_option
@output_option
@kubeconfig_option
@context_option
def render_task(
    dag: str,
    task: str,
    logical_date: str,
    params: tuple[str, ...],
    namespace: str | None,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Show TASK's pod command, args and env as a run of DAG would render them (runs nothing)."""
    from airkube.core.model.render import RenderError
    from airkube.core.params import ParamsError, param_from_text
    from airkube.core.templates import render_task_preview

    typed = parse_time(logical_date, "--logical-date")
    ns = namespace or current_namespace(kubeconfig, context)
    custom = custom_api(kubeconfig, context)
    body = read_dag(custom, ns, dag)
    spec = dag_spec(body)
    overrides = {}
    for text in params:
        key, raw = split_param(text)
        overrides[key] = param_from_text(spec.params, key, raw)
    when = dag_time(typed, spec.timezone)
    try:
        rendered = render_task_preview(dag, spec, task, logical_date=when, params=overrides)
    except (ValueError, ParamsError, RenderError) as e:
        fail(str(e))
    if output:
        emit(
            {
                "runId": rendered.run_id,
                "logicalDate": rendered.logical_date.isoformat(),
                "dataIntervalStart": rendered.data_interval.start.isoformat(),
                "dataIntervalEnd": rendered.data_interval.end.isoformat(),
                "command": list(rendered.command or []),
                "args": list(rendered.args or []),
                "env": [e.to_dict() for e in rendered.env],
            },
            output,
        )
        return
    click.echo(f"run_id:        {rendered.run_id}")
    click.echo(f"logical_date:  {rendered.logical_date.isoformat()}")
    click.echo(
        f"data interval: {rendered.data_interval.start.isoformat()} to "
        f"{rendered.data_interval.end.isoformat()}"
    )
    click.echo(f"command:       {json.dumps(list(rendered.command or []))}")
    click.echo(f"args:          {json.dumps(list(rendered.args or []))}")
    for env in rendered.env:
        shown = env.value if env.value is not None else "(from valueFrom)"
        click.echo(f"env:           {env.name}={shown}")


@main.command()
@click.argument("dag")
@namespace_option
@click.option("--limit", default=25, show_default=True, type=click.IntRange(1, 10_000))
@output_option
@db_option
@server_options
@kubeconfig_option
@context_option
def history(
    dag: str,
    namespace: str | None,
    limit: int,
    output: str | None,
    db_url: str,
    server: str | None,
    token: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """List DAG's past runs from the metadata database (deleted DAGRuns included): directly
    with --db-url, else through the cluster's airkube web server when it has one."""
    from airkube.store.errors import StoreError
    from airkube.store.repository import Store

    ns = namespace or current_namespace(kubeconfig, context)
    remote = remote_for(server, token, kubeconfig, context)
    runs: list[Any]
    if remote is not None:
        runs, where = remote.history(ns, dag, limit), remote.where
    else:
        try:
            with Store.from_url(db_url, migrate=False) as store:
                runs, where = store.list_runs(ns, dag, limit), str(store.url)
        except StoreError as e:
            fail(str(e))
    if output:
        emit(
            [
                {
                    "name": r.name,
                    "runType": r.run_type,
                    "logicalDate": r.logical_date.isoformat(),
                    "state": r.state,
                    "startTime": r.start_time.isoformat() if r.start_time else None,
                    "endTime": r.end_time.isoformat() if r.end_time else None,
                    "resourceDeleted": r.resource_deleted_at is not None,
                    "tries": f"kubectl airkube tries {r.name} -n {ns}",
                }
                for r in runs
            ],
            output,
        )
        return
    if not runs:
        click.echo(f"no runs of DAG {dag} in namespace {ns} recorded in {where}")
        return
    rows = []
    for r in runs:
        duration = (
            str(r.end_time - r.start_time).split(".")[0] if r.start_time and r.end_time else ""
        )
        rows.append(
            (
                r.name,
                r.run_type,
                r.logical_date.strftime("%Y-%m-%d %H:%M:%S"),
                state_text(r.state),
                r.start_time.strftime("%Y-%m-%d %H:%M:%S") if r.start_time else "",
                duration,
                "deleted" if r.resource_deleted_at else "present",
            )
        )
    print_table(("RUN", "TYPE", "LOGICAL DATE", "STATE", "STARTED", "DURATION", "RESOURCE"), rows)
    click.echo(
        f"\nEvery try of a run, with its times, pod, exit code and stored log: "
        f"kubectl airkube tries RUN -n {ns} (then kubectl airkube logs RUN TASK --try N)"
    )


for command in (runs.get, runs.logs, runs.tries, runs.cancel, runs.clear, runs.mark):
    main.add_command(command)
for command in dagfiles.COMMANDS:
    main.add_command(command)
main.add_command(ui.ui)
main.add_command(web.web)


if __name__ == "__main__":
    main()
