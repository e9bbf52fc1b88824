"""``kubectl airkube ui``: the web UI on this machine, with the user's own kubeconfig.

It listens on 127.0.0.1 only, on a random free port, and prints a URL carrying a one-time
token (exchanged for a cookie on first use); requests for another Host or from another
Origin are refused (:mod:`airkube.web.security`). The metadata database, when it can be
opened, adds history and stored logs."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser

import click

from airkube.cli.common import (
    context_option,
    current_namespace,
    db_option,
    fail,
    kubeconfig_option,
    namespace_option,
)
from airkube.cli.logstore_options import s3_options, s3_settings


@click.command("ui")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (default: random).")
@click.option("--no-browser", is_flag=True, help="Print the URL only; open no browser.")
@namespace_option
@db_option
@s3_options
@kubeconfig_option
@context_option
def ui(
    port: int,
    no_browser: bool,
    namespace: str | None,
    db_url: str,
    log_s3_bucket: str | None,
    log_s3_prefix: str,
    log_s3_endpoint: str | None,
    log_s3_region: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Serve the web UI on 127.0.0.1 and open it in the browser (Ctrl-C stops it)."""
    from airkube.cli.web import open_history
    from airkube.kube.client import KubeConfigError, KubeTarget, api_client
    from airkube.kube.identity import current_user
    from airkube.web import serving
    from airkube.web.app import create_app
    from airkube.web.data import KubeCluster
    from airkube.web.security import LocalSecurity

    ns = namespace or current_namespace(kubeconfig, context)
    try:
        # Pages are served from a thread pool: room for its concurrent API calls.
        cluster = KubeCluster(api_client(KubeTarget(kubeconfig, context), pool_size=16))
    except KubeConfigError as e:
        fail(str(e))
    history = open_history(
        db_url,
        s3_settings(log_s3_bucket, log_s3_prefix, log_s3_endpoint, log_s3_region),
        note="note: no history or stored logs",
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same --port
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as e:
        fail(f"cannot listen on 127.0.0.1:{port}: {e.strerror} (try another --port, or none)")
    bound = sock.getsockname()[1]
    security = LocalSecurity.for_port(bound)
    # Who the actions taken in the UI are recorded as made by.
    user = current_user(cluster.api_client, kubeconfig, context)
    app = create_app(cluster, history, security=security, namespace=ns, user=user)
    server = serving.server(app)
    url = f"http://127.0.0.1:{bound}/?token={security.token}"
    click.echo(f"airkube UI: {url}", err=False)
    click.echo("(the token works once; Ctrl-C stops the server)")
    if not no_browser:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    server.run(sockets=[sock])


def _open_when_started(server: object, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not getattr(server, "started", False) and time.monotonic() < deadline:
        time.sleep(0.05)
    webbrowser.open(url)
