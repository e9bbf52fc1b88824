"""The local server's guard: one-time token then cookie, Host and Origin checks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_fakes import FakeCluster, dag

from airkube.web.app import create_app
from airkube.web.security import COOKIE, LocalSecurity

HOST = "127.0.0.1:8123"


@pytest.fixture
def security() -> LocalSecurity:
    return LocalSecurity.for_port(8123)


@pytest.fixture
def client(security: LocalSecurity) -> TestClient:
    cluster = FakeCluster()
    cluster.dags["alpha"] = dag("alpha")
    app = create_app(cluster, None, security=security, namespace="data")
    return TestClient(app, base_url=f"http://{HOST}", follow_redirects=False)


def test_without_the_token_or_its_cookie_nothing_is_served(client: TestClient) -> None:
    answer = client.get("/api/v1/namespaces/data/dags")
    assert answer.status_code == 401
    assert "kubectl airkube ui" in answer.text


def test_the_token_gives_a_cookie_once_and_then_the_cookie_is_enough(
    client: TestClient, security: LocalSecurity
) -> None:
    answer = client.get(f"/ui/namespaces/data/dags?token={security.token}&search=al")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/namespaces/data/dags?search=al"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert client.cookies.get(COOKIE) == security.session
    assert client.get("/api/v1/namespaces/data/dags").status_code == 200
    client.cookies.clear()
    again = client.get(f"/?token={security.token}")
    assert again.status_code == 401
    assert "used already" in again.text


def test_a_wrong_token_is_refused(client: TestClient) -> None:
    assert client.get("/?token=guess").status_code == 401


def test_another_host_is_refused_even_with_the_cookie(
    client: TestClient, security: LocalSecurity
) -> None:
    client.cookies.set(COOKIE, security.session)
    answer = client.get("/api/v1/namespaces/data/dags", headers={"host": "evil.example:8123"})
    assert answer.status_code == 403
    assert "Host" in answer.text
    assert (
        client.get("/api/v1/namespaces/data/dags", headers={"host": "localhost:8123"}).status_code
        == 200
    )


def test_another_origin_is_refused_even_with_the_cookie(
    client: TestClient, security: LocalSecurity
) -> None:
    client.cookies.set(COOKIE, security.session)
    url = "/api/v1/namespaces/data/dags"
    assert client.get(url, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.get(url, headers={"origin": f"http://{HOST}"}).status_code == 200
