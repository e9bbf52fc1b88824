"""The CLI's database commands through the in-cluster web server (``--web-url URL``, the seam
the port-forward uses too): the same output as from the database itself, the user's token
sent, and the server's refusals as one line."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from auth_fakes import FakeBackend
from click.testing import CliRunner

from airkube.cli.main import main
from airkube.core.logs import LogKey
from airkube.logstore import DatabaseLogStore
from airkube.store import RunRecord, Store, TaskTryRecord
from airkube.store.records import TaskLogRecord
from airkube.web.auth import Authenticator
from airkube.web.data import StoreHistory
from airkube.web.incluster import create_incluster_app
from e2e.web_server import serve

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'airkube.db'}"
    with Store.from_url(url) as s:
        for i, state in enumerate(("Succeeded", "Failed")):
            s.record_pass(
                RunRecord(
                    namespace="data",
                    name=f"etl-{i}",
                    uid=f"u{i}",
                    dag_name="etl",
                    run_type="manual",
                    logical_date=T0.replace(day=1 + i),
                    state=state,
                    start_time=T0.replace(day=1 + i),
                    end_time=T0.replace(day=1 + i, minute=3),
                ),
                [
                    TaskTryRecord(
                        task_name="load",
                        try_number=1,
                        state="Failed",
                        exit_code=2,
                        message="boom <b>",
                        start_time=T0,
                        end_time=T0.replace(second=5),
                    ),
                    TaskTryRecord(task_name="load", try_number=2, state=state, exit_code=0),
                ],
                T0,
            )
        DatabaseLogStore(s).put(LogKey("data", "etl", "etl-1", "load", 1), b"<b>one</b>\n")
        s.record_task_log(
            "data",
            "etl-1",
            TaskLogRecord(
                task_name="load", try_number=1, state="Stored", store="database", key="k"
            ),
        )
    return url


@pytest.fixture(scope="module")
def server(db: str) -> Iterator[str]:
    store = Store.from_url(db, migrate=False)
    app = create_incluster_app(Authenticator(FakeBackend(), StoreHistory(store)))
    with serve(app) as url:
        yield url
    store.close()


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [
        ["history", "etl", "-n", "data"],
        ["history", "etl", "-n", "data", "-o", "json"],
        ["history", "nothing", "-n", "data"],
        ["tries", "etl-1", "-n", "data"],
        ["tries", "etl-1", "load", "-n", "data", "-o", "yaml"],
    ],
)
def test_through_the_server_the_output_is_the_databases(
    db: str, server: str, command: list[str]
) -> None:
    direct = cli(*command, "--db-url", db)
    remote = cli(*command, "--web-url", server, "--token", "alice")
    assert direct[0] == remote[0] == 0, remote[1]
    # Where the records came from is named only when there are none.
    where = re.compile(r"recorded in .*$", re.M)
    assert where.sub("", remote[1]) == where.sub("", direct[1])
    assert where.findall(remote[1]) in ([], [f"recorded in the airkube web server at {server}"])
    assert ("load" in remote[1] or "etl-1" in remote[1]) == (command[1] != "nothing")


def test_a_user_the_review_refuses_gets_one_line_naming_the_verb_and_namespace(
    server: str,
) -> None:
    code, out = cli("history", "etl", "-n", "data", "--web-url", server, "--token", "bob")
    assert code == 1
    assert out.startswith(f"airkube: the airkube web server at {server} answered 403: ")
    assert 'cannot list resource "dagruns.airkube.io" in namespace "data"' in out
    assert len(out.strip().splitlines()) == 1


def test_a_token_the_api_server_refuses_is_401(server: str) -> None:
    code, out = cli("tries", "etl-1", "-n", "data", "--web-url", server, "--token", "mallory")
    assert code == 1
    assert "answered 401: the Kubernetes API did not accept this token" in out


def test_a_run_the_database_lacks_is_one_line(server: str) -> None:
    code, out = cli("tries", "gone", "-n", "data", "--web-url", server, "--token", "alice")
    assert code == 1
    assert "run gone is not in the metadata database of the airkube web server" in out


def test_an_unreachable_server_is_one_line() -> None:
    code, out = cli(
        "history", "etl", "-n", "data", "--web-url", "http://127.0.0.1:9", "--token", "alice"
    )
    assert code == 1
    assert out.startswith("airkube: talking to the airkube web server at http://127.0.0.1:9: ")


def test_a_bad_server_url_is_one_line() -> None:
    code, out = cli("history", "etl", "-n", "data", "--web-url", "ftp://x", "--token", "a")
    assert code == 1
    assert "is not an http:// or https:// URL" in out


def test_a_kubeconfig_without_a_token_asks_for_one(tmp_path: Path, server: str) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {username: a, password: b}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    code, out = cli(
        "history", "etl", "-n", "data", "--web-url", server, "--kubeconfig", str(kubeconfig)
    )
    assert code == 1
    assert "give --token" in out
    kubeconfig.write_text(
        kubeconfig.read_text().replace("{username: a, password: b}", "{token: alice}")
    )
    code, out = cli(
        "history", "etl", "-n", "data", "--web-url", server, "--kubeconfig", str(kubeconfig)
    )
    assert code == 0, out
    assert "etl-1" in out


class FakeForward:
    """Stands for kubernetes.stream.portforward's PortForward: its socket reaches the
    in-process server instead of a pod (the websocket needs a real kubelet)."""

    opened: ClassVar[list[FakeForward]] = []

    def __init__(self, address: tuple[str, int], pod: str, namespace: str, ports: str) -> None:
        self.sock = socket.create_connection(address)
        self.where = (pod, namespace, ports)
        self.closed = False
        FakeForward.opened.append(self)

    def socket(self, port: int) -> socket.socket:
        assert str(port) == self.where[2]
        return self.sock

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def test_over_a_port_forward_each_request_opens_and_closes_its_own(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kubernetes.stream

    from airkube.cli.remote import WebService, forwarded_remote

    address = ("127.0.0.1", int(server.rsplit(":", 1)[1]))
    FakeForward.opened.clear()

    def portforward(method: Any, pod: str, namespace: str, ports: str) -> FakeForward:
        assert method == "connect"
        return FakeForward(address, pod, namespace, ports)

    monkeypatch.setattr(kubernetes.stream, "portforward", portforward)
    core = SimpleNamespace(
        connect_get_namespaced_pod_portforward="connect",
        list_namespaced_pod=lambda namespace, label_selector: SimpleNamespace(
            items=[
                SimpleNamespace(
                    metadata=SimpleNamespace(name="web-0"),
                    status=SimpleNamespace(
                        conditions=[SimpleNamespace(type="Ready", status="True")]
                    ),
                )
            ]
        ),
    )
    web = WebService("airkube", "ops-airkube-web", {"app": "web"}, 8080)
    remote = forwarded_remote(core, web, "alice")
    assert [r.name for r in remote.history("data", "etl", 5)] == ["etl-1", "etl-0"]
    assert remote.stored_log("data", "etl-1", "load", 1) == b"<b>one</b>\n"
    assert [f.where for f in FakeForward.opened] == [("web-0", "airkube", "8080")] * 2
    assert all(f.closed for f in FakeForward.opened)
    assert "port-forward to web-0" in remote.where
