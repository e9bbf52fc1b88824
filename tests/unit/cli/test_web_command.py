"""`airkube web`: how it starts the in-cluster server (the server's run stubbed out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from airkube.cli.main import main
from airkube.web.incluster import InClusterMiddleware

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: c
clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]
users: [{name: u, user: {token: server-token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
"""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from airkube.web.serving import Server

    calls: list[dict[str, Any]] = []

    def run(self: Server, sockets: Any = None) -> None:
        c = self.config
        calls.append({"app": c.app, "host": c.host, "port": c.port, "ssl_certfile": c.ssl_certfile})

    monkeypatch.setattr(Server, "run", run)
    monkeypatch.setattr("airkube.cli.web.HISTORY_WAIT_S", 0.0)  # no database here: no wait
    return calls


def test_it_serves_every_interface_with_tokens_required(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(KUBECONFIG)
    db = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(
        main, ["web", "--kubeconfig", str(kubeconfig), "--db-url", db, "--port", "9000"]
    )
    assert result.exit_code == 0, result.output
    assert "serving http://0.0.0.0:9000 (every request needs a token)" in result.output
    [call] = started
    assert (call["host"], call["port"], call["ssl_certfile"]) == ("0.0.0.0", 9000, None)
    assert any(m.cls is InClusterMiddleware for m in call["app"].user_middleware)


def test_a_certificate_without_its_key_is_one_line(tmp_path: Path) -> None:
    cert = tmp_path / "tls.crt"
    cert.write_text("x")
    result = CliRunner().invoke(main, ["web", "--tls-cert", str(cert)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "airkube: --tls-cert and --tls-key go together: give both, or neither (TLS at an ingress)"
    )


def test_a_bad_kubeconfig_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["web", "--kubeconfig", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert result.output.startswith("airkube: cannot load kubeconfig")


def test_the_server_waits_for_a_database_the_operator_has_not_migrated_yet(
    tmp_path: Path,
) -> None:
    import threading

    from airkube.cli.web import open_history
    from airkube.store.repository import Store

    url = f"sqlite:///{tmp_path / 'airkube.db'}"
    assert open_history(url, None, note="no history") is None  # not migrated, no wait

    def operator_starts() -> None:
        Store.from_url(url, migrate=True).close()

    later = threading.Timer(1.5, operator_starts)
    later.start()
    try:
        assert open_history(url, None, note="no history", wait=20) is not None
    finally:
        later.join()
