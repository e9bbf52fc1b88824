"""What the commands share: connecting to the cluster, reading DAGs, parsing times, and
printing results (tables and colour on a terminal, plain text otherwise, or JSON/YAML)."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from airkube.core.requests import TIME_FORMS as TIME_FORMS  # the commands' help says it
from airkube.kube.client import KubeConfigError, KubeTarget, in_cluster


class CommandGroup(click.Group):
    """The ``airkube`` group: an unreachable or refusing API server is one line, never a
    traceback, whichever command met it."""

    def invoke(self, ctx: click.Context) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, MaxRetryError

        from airkube.kube.apply import api_message

        try:
            return super().invoke(ctx)
        except MaxRetryError as e:
            host = f"{e.pool.scheme}://{e.pool.host}:{e.pool.port}" if e.pool else "the server"
            fail(
                f"cannot reach the Kubernetes API server at {host}: {_reason(e.reason)} "
                "(is the cluster up? kubectl cluster-info)"
            )
        except HTTPError as e:
            fail(f"talking to the Kubernetes API server: {_reason(e)}")
        except ApiException as e:
            fail(f"the Kubernetes API server answered {e.status}: {api_message(e)}")


def _reason(error: object) -> str:
    text = str(error)
    # urllib3 nests "Failed to establish a new connection: [Errno 111] Connection refused".
    return text.rsplit(": ", 1)[-1].rstrip("')\"") if ": " in text else text


def fail(message: str) -> NoReturn:
    """One line saying what is wrong, and exit 1: no traceback for people's mistakes."""
    click.echo(f"airkube: {message}", err=True)
    sys.exit(1)


def default_db_url() -> str:
    if in_cluster():
        return "sqlite:////var/lib/airkube/airkube.db"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'airkube' / 'airkube.db'}"


kubeconfig_option = click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    help="Path of the kubeconfig file (default: ~/.kube/config).",
)
namespace_option = click.option("--namespace", "-n", help="Namespace (default: the context's).")
context_option = click.option(
    "--context", envvar="AIRKUBE_CONTEXT", help="The kubeconfig context to use."
)
db_option = click.option(
    "--db-url",
    envvar="AIRKUBE_DB_URL",
    default=default_db_url,
    show_default="a SQLite file",
    help="Metadata database: sqlite:///path or postgresql://user:pass@host/db.",
)


def api(kubeconfig: str | None, context: str | None) -> Any:
    from airkube.kube.client import api_client

    try:
        return api_client(KubeTarget(kubeconfig, context), pool_size=4)
    except KubeConfigError as e:
        fail(str(e))


def current_namespace(kubeconfig: str | None, context: str | None) -> str:
    from kubernetes import config

    try:
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
        if context:
            contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
            active = next((c for c in contexts if c["name"] == context), active)
        return str((active or {}).get("context", {}).get("namespace") or "default")
    except Exception:
        return "default"


def split_param(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--param")
    key, value = text.split("=", 1)
    return key, value


def read_object(custom: Any, namespace: str, plural: str, name: str, missing: str) -> Any:
    """A DAG or DAGRun as the API server has it; ``missing`` is the message for a 404."""
    from kubernetes.client.exceptions import ApiException

    from airkube.api import GROUP, VERSION
    from airkube.kube.apply import api_message

    try:
        return custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    except ApiException as e:
        if e.status == 404:
            fail(missing)
        fail(f"reading {plural[:-1]} {name}: {api_message(e)}")


def read_dag(custom: Any, namespace: str, dag: str) -> dict[str, Any]:
    body: dict[str, Any] = read_object(
        custom,
        namespace,
        "dags",
        dag,
        f"DAG {dag} not found in namespace {namespace} (kubectl get dags -n {namespace})",
    )
    return body


def custom_api(kubeconfig: str | None, context: str | None) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(api(kubeconfig, context))


def dag_spec(body: dict[str, Any]) -> Any:
    from airkube.core.validation import check_dag

    spec, problems = check_dag(body.get("spec") or {})
    if spec is None or problems:
        name = body["metadata"]["name"]
        fail(f"DAG {name} is invalid: " + "; ".join(p.message for p in problems))
    return spec


def parse_time(text: str, what: str) -> datetime:
    """The one reader of the times people type (ISO 8601): aware when ``text`` names a
    zone, naive (wall-clock time, a date alone is its midnight) when it does not; place a
    naive one with :func:`dag_time`. Bad input is one line naming ``what``, the value and
    the accepted forms."""
    from airkube.core.requests import TimeError, read_time

    try:
        return read_time(text, what)
    except TimeError as e:
        fail(str(e))


def dag_time(value: datetime, timezone: str | None) -> datetime:
    """``value`` as an aware UTC instant: a time without a zone is wall-clock time in the
    DAG's ``timezone`` (UTC when it has none), read as the DAG's own dates are."""
    from airkube.core.requests import TimeError, in_dag_zone

    try:
        return in_dag_zone(value, timezone)
    except TimeError as e:
        fail(str(e))


def who_am_i(custom: Any, kubeconfig: str | None, context: str | None) -> str | None:
    """Who the commands' writes are recorded as made by (a SelfSubjectReview, else the
    kubeconfig's user)."""
    from airkube.kube.identity import current_user, kubeconfig_user

    client = getattr(custom, "api_client", None)
    if client is None:
        return kubeconfig_user(kubeconfig, context)
    return current_user(client, kubeconfig, context)
