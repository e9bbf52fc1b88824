"""The CLI's database commands (``history``, ``tries``, stored logs in ``logs``) through the
in-cluster web server (``airkube web``, the chart's ``web.enabled``) instead of a database
connection that only the operator's pod can reach.

Which source a command reads:

- ``--web-url URL`` (or AIRKUBE_WEB_URL): that web server, e.g. behind an ingress;
- else ``--db-url`` (or AIRKUBE_DB_URL) given: that database, as before;
- else, when the cluster has the web server's Service (labels
  ``app.kubernetes.io/component=web,app.kubernetes.io/part-of=airkube``, found in all
  namespaces, or in AIRKUBE_WEB_NAMESPACE / ``airkube`` when the user may not list
  Services everywhere): a port-forward to one of its ready pods, opened by the Kubernetes
  client itself (``kubernetes.stream.portforward``: a websocket through the API server, so
  no kubectl is needed; it needs ``create pods/portforward`` in that namespace);
- else the default database file, as before.

The requests carry the user's own bearer token, so the server sees who they are: ``--token``
(AIRKUBE_TOKEN), else the kubeconfig's token (a ``token``, or what an ``exec`` plugin or
auth provider returned). A kubeconfig that authenticates with a client certificate has no
token to send: then ``--token`` is needed (``kubectl create token …``).
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import click

from airkube.cli.common import fail

WEB_SELECTOR = "app.kubernetes.io/component=web,app.kubernetes.io/part-of=airkube"
DEFAULT_WEB_NAMESPACE = "airkube"
TIMEOUT = 30.0
DISCOVERY_TIMEOUT = 5.0
"""Looking for the web server must not hold up a command whose cluster is unreachable."""

F = TypeVar("F", bound=Callable[..., Any])


def server_options(fn: F) -> F:
    """``--web-url`` and ``--token`` of the commands that can read through the web server."""
    fn = click.option(
        "--token",
        envvar="AIRKUBE_TOKEN",
        help="Bearer token sent to the web server (default: your kubeconfig's).",
    )(fn)
    fn = click.option(
        "--web-url",
        "server",
        envvar="AIRKUBE_WEB_URL",
        metavar="URL",
        help="Read the history through this airkube web server instead of a database "
        "(default, without --db-url: the one installed in the cluster, over a port-forward).",
    )(fn)
    return fn


@dataclass
class Remote:
    """The records API of one web server (:mod:`airkube.web.records`)."""

    connect: Callable[[], Any]
    """Opens an ``http.client.HTTPConnection`` (or one over a port-forward's socket)."""
    token: str
    where: str
    """Names the server in messages."""

    def _get(self, path: str, **query: Any) -> tuple[int, bytes]:
        target = path + (f"?{urlencode(query)}" if query else "")
        conn = self.connect()
        try:
            conn.request(
                "GET",
                target,
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            )
            answer = conn.getresponse()
            return answer.status, answer.read()
        except (OSError, http.client.HTTPException) as e:
            fail(f"talking to {self.where}: {e}")
        finally:
            conn.close()

    def _refusal(self, status: int, body: bytes) -> str:
        try:
            message = str(json.loads(body)["message"])
        except (ValueError, KeyError, TypeError):
            message = body.decode(errors="replace").strip()[:300]
        return f"{self.where} answered {status}: {message}"

    def _json(self, path: str, *, missing_ok: bool = False, **query: Any) -> Any:
        status, body = self._get(path, **query)
        if status == 200:
            return json.loads(body)
        if status == 404 and missing_ok:
            return None
        fail(self._refusal(status, body))

    def history(self, namespace: str, dag: str, limit: int) -> list[Any]:
        from airkube.web.records import RecordedRunList

        found = self._json(f"{_base(namespace)}/dags/{_q(dag)}/runs", limit=limit)
        return list(RecordedRunList.model_validate(found).items)

    def tries(self, namespace: str, run: str) -> Any:
        """The run's RecordedTries, None when the database does not have the run."""
        from airkube.web.records import RecordedTries

        found = self._json(f"{_base(namespace)}/runs/{_q(run)}/tries", missing_ok=True)
        return None if found is None else RecordedTries.model_validate(found)

    def stored_log(self, namespace: str, run: str, task: str, n: int) -> bytes:
        path = f"{_base(namespace)}/runs/{_q(run)}/tasks/{_q(task)}/tries/{n}/log"
        status, body = self._get(path)
        if status != 200:
            fail(self._refusal(status, body))
        return body


def _q(part: str) -> str:
    return quote(part, safe="")


def _base(namespace: str) -> str:
    return f"/api/v1/namespaces/{_q(namespace)}/recorded"


def kube_token(kubeconfig: str | None, context: str | None) -> str | None:
    """The bearer token the kubeconfig authenticates with, None for a client certificate."""
    from airkube.kube.client import KubeConfigError, KubeTarget, load_configuration

    try:
        cfg = load_configuration(KubeTarget(kubeconfig, context), pool_size=2)
    except KubeConfigError:
        return None
    value = cfg.get_api_key_with_prefix("BearerToken", alias="authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token(token: str | None, kubeconfig: str | None, context: str | None) -> str:
    found = token or kube_token(kubeconfig, context)
    if not found:
        fail(
            "the airkube web server needs a bearer token and your kubeconfig has none (it "
            "authenticates with a client certificate): give --token (or AIRKUBE_TOKEN), "
            "e.g. --token $(kubectl create token SERVICEACCOUNT -n NAMESPACE)"
        )
    return found


def url_remote(url: str, token: str) -> Remote:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"--web-url {url!r} is not an http:// or https:// URL")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    host, port = parts.hostname, parts.port

    def connect() -> Any:
        return kind(host, port, timeout=TIMEOUT)

    return Remote(connect, token, f"the airkube web server at {url}")


def _db_url_given() -> bool:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True
    source = ctx.get_parameter_source("db_url")
    return source not in (None, click.core.ParameterSource.DEFAULT)


def remote_for(
    server: str | None, token: str | None, kubeconfig: str | None, context: str | None
) -> Remote | None:
    """Where the command reads the database's records: a web server, or None for the
    database itself (see the module's docstring)."""
    from kubernetes import client

    from airkube.kube.client import KubeConfigError, KubeTarget, api_client, in_cluster

    if server:
        return url_remote(server, _token(token, kubeconfig, context))
    if _db_url_given() or in_cluster():
        return None
    try:
        core = client.CoreV1Api(api_client(KubeTarget(kubeconfig, context), pool_size=2))
    except KubeConfigError:
        return None
    found = find_web_service(core)
    if found is None:
        return None
    return forwarded_remote(core, found, _token(token, kubeconfig, context))


@dataclass(frozen=True)
class WebService:
    namespace: str
    name: str
    selector: dict[str, str]
    port: int | str
    """The Service's target port: a number or a container port's name."""


def find_web_service(core: Any) -> WebService | None:
    """The installed web server's Service, None when there is none (or none this user sees)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    items: list[Any] = []
    try:
        items = core.list_service_for_all_namespaces(
            label_selector=WEB_SELECTOR, _request_timeout=DISCOVERY_TIMEOUT
        ).items
    except ApiException as e:
        if e.status != 403:
            return None
        namespace = os.environ.get("AIRKUBE_WEB_NAMESPACE") or DEFAULT_WEB_NAMESPACE
        try:
            items = core.list_namespaced_service(
                namespace, label_selector=WEB_SELECTOR, _request_timeout=DISCOVERY_TIMEOUT
            ).items
        except ApiException:
            return None
    except HTTPError:
        return None
    for svc in items:
        ports = svc.spec.ports or []
        port = next((p for p in ports if p.name == "http"), ports[0] if ports else None)
        if port is None or not svc.spec.selector:
            continue
        return WebService(
            svc.metadata.namespace,
            svc.metadata.name,
            dict(svc.spec.selector),
            port.target_port or port.port,
        )
    return None


def _ready_pod(core: Any, service: WebService) -> tuple[str, int]:
    """A ready pod behind ``service`` and the container port to forward to."""
    from kubernetes.client.exceptions import ApiException

    from airkube.kube.apply import api_message

    selector = ",".join(f"{k}={v}" for k, v in sorted(service.selector.items()))
    try:
        pods = core.list_namespaced_pod(service.namespace, label_selector=selector).items
    except ApiException as e:
        fail(f"listing the pods of the airkube web server {service.name}: {api_message(e)}")
    for pod in pods:
        conditions = (pod.status.conditions if pod.status else None) or []
        if not any(c.type == "Ready" and c.status == "True" for c in conditions):
            continue
        if isinstance(service.port, int) or str(service.port).isdigit():
            return pod.metadata.name, int(service.port)
        for c in pod.spec.containers:
            for p in c.ports or []:
                if p.name == service.port:
                    return pod.metadata.name, int(p.container_port)
    fail(
        f"the airkube web server {service.namespace}/{service.name} has no ready pod "
        f"(kubectl get pods -n {service.namespace} -l {selector}); or give --db-url"
    )


def forwarded_remote(core: Any, service: WebService, token: str) -> Remote:
    """The web server through a port-forward to one of its pods, opened per request."""
    pod, port = _ready_pod(core, service)

    def connect() -> Any:
        return _ForwardedConnection(core, service.namespace, pod, port)

    where = f"the airkube web server {service.namespace}/{service.name} (port-forward to {pod})"
    return Remote(connect, token, where)


class _ForwardedConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket is a port-forward to ``pod``'s ``port``."""

    def __init__(self, core: Any, namespace: str, pod: str, port: int) -> None:
        super().__init__("localhost", port, timeout=TIMEOUT)
        self._forward: Any = None
        self._where = (core, namespace, pod, port)

    def connect(self) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import portforward

        from airkube.kube.apply import api_message

        core, namespace, pod, port = self._where
        try:
            self._forward = portforward(
                core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
            )
        except ApiException as e:
            raise OSError(f"port-forward to pod {namespace}/{pod}: {api_message(e)}") from None
        self.sock = self._forward.socket(port)
        self.sock.settimeout(self.timeout)

    def close(self) -> None:
        super().close()
        if self._forward is not None:
            self._forward.close()
            self._forward = None
