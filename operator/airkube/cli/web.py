"""``airkube web``: the web UI and API served in the cluster (the chart's ``web.enabled``).

Unlike ``kubectl airkube ui`` it listens on all interfaces (0.0.0.0) and serves many users:
each request must carry the user's own Kubernetes bearer token, and everything the server
reads from Kubernetes it reads with that token (:mod:`airkube.web.auth`). Its own
credentials (the pod's ServiceAccount, or --kubeconfig) only ask SubjectAccessReviews, and
read the metadata database for those the reviews allow.

TLS is optional: give --tls-cert and --tls-key, or terminate TLS at an ingress in front of
it (then tokens cross the cluster network in clear from the ingress to the pod).
"""

from __future__ import annotations

import time
from typing import Any

import click

from airkube.cli.common import context_option, db_option, fail, kubeconfig_option
from airkube.cli.logstore_options import s3_options, s3_settings


@click.command("web")
@click.option(
    "--host",
    envvar="AIRKUBE_WEB_HOST",
    default="0.0.0.0",
    show_default=True,
    help="Address to listen on.",
)
@click.option(
    "--port",
    envvar="AIRKUBE_WEB_PORT",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
)
@click.option(
    "--namespace",
    "-n",
    envvar="AIRKUBE_WEB_NAMESPACE",
    default="default",
    show_default=True,
    help="The namespace the home page shows.",
)
@click.option(
    "--tls-cert",
    envvar="AIRKUBE_WEB_TLS_CERT",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this certificate (PEM); with --tls-key.",
)
@click.option(
    "--tls-key",
    envvar="AIRKUBE_WEB_TLS_KEY",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--cache-seconds",
    envvar="AIRKUBE_WEB_CACHE_SECONDS",
    type=click.FloatRange(0, 600),
    default=30.0,
    show_default=True,
    help="How long a token's identity and access reviews are reused.",
)
@click.option(
    "--forwarded-allow-ips",
    envvar="AIRKUBE_WEB_FORWARDED_ALLOW_IPS",
    default="127.0.0.1",
    show_default=True,
    help="Proxies (an ingress) whose X-Forwarded-Proto is trusted: behind one that "
    "terminates TLS, the login cookie is then marked Secure.",
)
@db_option
@s3_options
@kubeconfig_option
@context_option
def web(
    host: str,
    port: int,
    namespace: str,
    tls_cert: str | None,
    tls_key: str | None,
    cache_seconds: float,
    forwarded_allow_ips: str,
    db_url: str,
    log_s3_bucket: str | None,
    log_s3_prefix: str,
    log_s3_endpoint: str | None,
    log_s3_region: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Serve the web UI and API for every user of the cluster, each with their own token."""
    from kubernetes.client import ApiClient

    from airkube.kube.client import KubeConfigError, KubeTarget, load_configuration
    from airkube.web import serving
    from airkube.web.auth import Authenticator, KubeBackend
    from airkube.web.incluster import create_incluster_app
    from airkube.web.live import KubeWatchSource

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together: give both, or neither (TLS at an ingress)")
    try:
        server = load_configuration(KubeTarget(kubeconfig, context), pool_size=16)
    except KubeConfigError as e:
        fail(str(e))
    history = open_history(
        db_url,
        s3_settings(log_s3_bucket, log_s3_prefix, log_s3_endpoint, log_s3_region),
        note="airkube web: no history or stored logs",
        # Started beside the operator, the server may come up before the operator has
        # created or migrated the database: wait for it rather than serve without it.
        wait=HISTORY_WAIT_S,
    )
    authenticator = Authenticator(KubeBackend(server), history, ttl=cache_seconds)
    # The live streams' shared watches read with the server's own (read-only) account;
    # each stream first checks that its user may list what it streams.
    watches = KubeWatchSource(ApiClient(server))
    app = create_incluster_app(authenticator, namespace=namespace, watches=watches)
    scheme = "https" if tls_cert else "http"
    click.echo(f"airkube web: serving {scheme}://{host}:{port} (every request needs a token)")
    serving.server(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    ).run()


HISTORY_WAIT_S = 25.0
"""How long `airkube web` waits at start for the metadata database to be ready (within
the chart's liveness probe's first 35 s; a restart waits again)."""


def open_history(db_url: str, s3: Any, *, note: str, wait: float = 0.0) -> Any:
    """The web server's view of the metadata database and the log store (a
    :class:`~airkube.web.data.StoreHistory`), or None, said in one line after ``note``,
    when the database cannot be opened within ``wait`` seconds (tried every second): the
    server then shows live state only."""
    from airkube.store.errors import StoreError
    from airkube.store.repository import Store
    from airkube.web.data import StoreHistory

    deadline = time.monotonic() + wait
    while True:
        try:
            return StoreHistory(Store.from_url(db_url, migrate=False), s3)
        except StoreError as e:
            if time.monotonic() >= deadline:
                click.echo(f"{note}: {e}", err=True)
                return None
        time.sleep(1.0)
