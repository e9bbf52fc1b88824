"""How the CLI finds the installed web server and the pod and port it port-forwards to
(airkube.cli.remote), against a fake CoreV1Api; the port-forward itself needs a real pod."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner
from kubernetes.client.exceptions import ApiException

from airkube.cli import remote
from airkube.cli.remote import WEB_SELECTOR, WebService, find_web_service

SELECTOR = {"app.kubernetes.io/name": "airkube-web", "app.kubernetes.io/instance": "ops"}


def service(ns: str = "airkube", target: Any = "http") -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(namespace=ns, name="ops-airkube-web"),
        spec=SimpleNamespace(
            selector=SELECTOR,
            ports=[
                SimpleNamespace(name="other", port=1, target_port=1),
                SimpleNamespace(name="http", port=80, target_port=target),
            ],
        ),
    )


def pod(name: str, ready: bool, port: int = 8080) -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name),
        status=SimpleNamespace(
            conditions=[SimpleNamespace(type="Ready", status="True" if ready else "False")]
        ),
        spec=SimpleNamespace(
            containers=[SimpleNamespace(ports=[SimpleNamespace(name="http", container_port=port)])]
        ),
    )


class FakeCore:
    def __init__(self, services: list[Any], *, cluster_wide: bool = True) -> None:
        self.services = services
        self.cluster_wide = cluster_wide
        self.pods: list[Any] = []
        self.calls: list[tuple[str, str | None, str]] = []

    def list_service_for_all_namespaces(self, label_selector: str, **_: Any) -> Any:
        self.calls.append(("all", None, label_selector))
        if not self.cluster_wide:
            raise ApiException(status=403, reason="Forbidden")
        return SimpleNamespace(items=self.services)

    def list_namespaced_service(self, namespace: str, label_selector: str, **_: Any) -> Any:
        self.calls.append(("services", namespace, label_selector))
        return SimpleNamespace(
            items=[s for s in self.services if s.metadata.namespace == namespace]
        )

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> Any:
        self.calls.append(("pods", namespace, label_selector))
        return SimpleNamespace(items=self.pods)


def test_the_service_is_found_by_its_labels_in_all_namespaces() -> None:
    core = FakeCore([service("ops")])
    assert find_web_service(core) == WebService("ops", "ops-airkube-web", SELECTOR, "http")
    assert core.calls == [("all", None, WEB_SELECTOR)]


def test_without_cluster_wide_list_it_looks_in_the_airkube_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRKUBE_WEB_NAMESPACE", raising=False)
    core = FakeCore([service("airkube")], cluster_wide=False)
    assert find_web_service(core) is not None
    assert core.calls[-1] == ("services", "airkube", WEB_SELECTOR)
    monkeypatch.setenv("AIRKUBE_WEB_NAMESPACE", "tools")
    assert find_web_service(core) is None
    assert core.calls[-1] == ("services", "tools", WEB_SELECTOR)


def test_no_service_means_the_database_as_before() -> None:
    assert find_web_service(FakeCore([])) is None


def test_a_ready_pod_and_the_named_target_port() -> None:
    core = FakeCore([])
    core.pods = [pod("web-0", ready=False), pod("web-1", ready=True, port=9000)]
    found = WebService("airkube", "ops-airkube-web", SELECTOR, "http")
    assert remote._ready_pod(core, found) == ("web-1", 9000)
    assert core.calls == [
        ("pods", "airkube", "app.kubernetes.io/instance=ops,app.kubernetes.io/name=airkube-web")
    ]
    assert remote._ready_pod(core, WebService("airkube", "x", SELECTOR, 8081)) == ("web-1", 8081)


def test_no_ready_pod_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    core = FakeCore([])
    core.pods = [pod("web-0", ready=False)]
    with pytest.raises(SystemExit):
        remote._ready_pod(core, WebService("airkube", "ops-airkube-web", SELECTOR, "http"))
    err = capsys.readouterr().err
    assert "airkube: the airkube web server airkube/ops-airkube-web has no ready pod" in err


@pytest.mark.parametrize(
    ("args", "env", "looks"),
    [
        ([], {}, True),
        (["--db-url", "sqlite:///x.db"], {}, False),
        ([], {"AIRKUBE_DB_URL": "sqlite:///x.db"}, False),
        ([], {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, False),
    ],
)
def test_the_server_is_looked_for_only_without_a_database_url_outside_the_cluster(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], looks: bool
) -> None:
    from airkube.cli.common import db_option

    for name in ("AIRKUBE_DB_URL", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    looked: list[Any] = []
    monkeypatch.setattr(remote, "find_web_service", lambda core: looked.append(core))
    monkeypatch.setattr("airkube.kube.client.api_client", lambda *a, **k: None)

    @click.command()
    @db_option
    def command(db_url: str) -> None:
        assert remote.remote_for(None, None, None, None) is None

    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert bool(looked) is looks
