"""Cross-site request protection (airkube.web.csrf): a write needs this server's Origin
(or Referer) and the session's token, by header or form field; GET needs neither and
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from action_fakes import ORIGIN, WritableCluster
from fastapi.testclient import TestClient
from web_fakes import dag

from airkube.web.app import create_app
from airkube.web.csrf import COOKIE, CSRFTokens
from airkube.web.security import LocalSecurity

PAUSE = "/api/v1/namespaces/data/dags/alpha/pause"


@pytest.fixture
def cluster() -> WritableCluster:
    c = WritableCluster()
    c.dags["alpha"] = dag("alpha")
    return c


@pytest.fixture
def client(cluster: WritableCluster) -> TestClient:
    return TestClient(create_app(cluster, None, namespace="data", user="alice"))


def token(client: TestClient) -> str:
    answer = client.get("/api/v1/csrf")
    assert answer.status_code == 200
    value: str = answer.json()["token"]
    return value


def test_the_token_comes_with_a_strict_httponly_cookie(client: TestClient) -> None:
    answer = client.get("/api/v1/csrf")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={answer.json()['token']}")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    # The same session keeps its token: no new cookie.
    again = client.get("/api/v1/csrf")
    assert again.json()["token"] == answer.json()["token"]
    assert "set-cookie" not in again.headers


def test_a_write_with_the_token_and_origin_passes(
    client: TestClient, cluster: WritableCluster
) -> None:
    headers = {"X-CSRF-Token": token(client), "Origin": ORIGIN}
    answer = client.post(PAUSE, json={"paused": True}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [w[0] for w in cluster.writes] == ["patch-dag"]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Origin": ORIGIN}, "missing or wrong CSRF token"),
        ({"Origin": ORIGIN, "X-CSRF-Token": "forged.0000"}, "missing or wrong CSRF token"),
        ({"Origin": "http://evil.example", "X-CSRF-Token": "TOKEN"}, "cross-site"),
        ({"Referer": "http://evil.example/page", "X-CSRF-Token": "TOKEN"}, "cross-site"),
        ({"X-CSRF-Token": "TOKEN"}, "must say where it comes from"),
        ({"Origin": "null", "X-CSRF-Token": "TOKEN"}, "must say where it comes from"),
    ],
)
def test_a_write_without_the_token_or_from_another_origin_is_refused(
    client: TestClient, cluster: WritableCluster, headers: dict[str, str], says: str
) -> None:
    real = token(client)
    headers = {k: real if v == "TOKEN" else v for k, v in headers.items()}
    answer = client.post(PAUSE, json={"paused": True}, headers=headers)
    assert answer.status_code == 403
    assert says in answer.json()["message"]
    assert cluster.writes == []


def test_a_write_without_the_session_cookie_is_refused(cluster: WritableCluster) -> None:
    """A cross-site request carries no SameSite=Strict cookie: a token alone is not enough."""
    first = TestClient(create_app(cluster, None, namespace="data"))
    stolen = token(first)
    other = TestClient(create_app(cluster, None, namespace="data"))
    answer = other.post(
        PAUSE, json={"paused": True}, headers={"X-CSRF-Token": stolen, "Origin": ORIGIN}
    )
    assert answer.status_code == 403
    assert "no CSRF session cookie" in answer.json()["message"]
    assert cluster.writes == []


def test_a_cookie_not_signed_by_this_server_is_not_a_session(
    client: TestClient, cluster: WritableCluster
) -> None:
    planted = CSRFTokens().new()  # signed by another secret
    client.cookies.set(COOKIE, planted)
    answer = client.post(
        PAUSE, json={"paused": True}, headers={"X-CSRF-Token": planted, "Origin": ORIGIN}
    )
    assert answer.status_code == 403
    assert cluster.writes == []


def test_a_form_carries_the_token_in_its_field(
    client: TestClient, cluster: WritableCluster
) -> None:
    page = client.get("/ui/namespaces/data/dags")
    real = page.cookies.get(COOKIE) or client.cookies.get(COOKIE)
    assert real
    assert f'value="{real}"' in page.text
    assert f'"X-CSRF-Token": "{real}"' in page.text  # htmx's hx-headers on the body
    form = {"csrf_token": real, "paused": "true"}
    ok = client.post(
        "/ui/namespaces/data/dags/alpha/pause",
        data=form,
        headers={"Referer": f"{ORIGIN}/ui/namespaces/data/dags"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert cluster.dags["alpha"]["spec"]["paused"] is True
    wrong = client.post(
        "/ui/namespaces/data/dags/alpha/pause",
        data={"csrf_token": "x", "paused": "false"},
        headers={"Origin": ORIGIN},
    )
    assert wrong.status_code == 403
    assert cluster.dags["alpha"]["spec"]["paused"] is True


def test_every_route_that_is_not_a_get_is_checked(cluster: WritableCluster) -> None:
    """The check is the middleware's, so no write route can forget it: each POST route
    of the app is refused without a token."""
    app = create_app(cluster, None, namespace="data")
    client = TestClient(app)
    posts = [r for r in all_routes(app.routes) if "POST" in (getattr(r, "methods", None) or ())]
    assert len(posts) >= 10
    for route in posts:
        path = route.path.format(namespace="data", dag="alpha", run="alpha-1", task="t", n=1)
        answer = client.post(path, json={}, headers={"Origin": ORIGIN})
        assert answer.status_code == 403, path


def all_routes(routes: list[Any], prefix: str = "") -> list[Any]:
    """The app's routes, those of included routers too (FastAPI keeps them apart)."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += all_routes(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            found.append(route)
    return found


def test_the_local_servers_guard_still_applies(cluster: WritableCluster) -> None:
    security = LocalSecurity(hosts=frozenset({"testserver"}))
    client = TestClient(create_app(cluster, None, security=security, namespace="data"))
    refused = client.get("/api/v1/csrf")
    assert refused.status_code == 401  # no session: the guard answers before anything
    client.get(f"/?token={security.token}", follow_redirects=False)
    assert client.get("/api/v1/csrf").status_code == 200
    foreign = client.post(PAUSE, json={"paused": True}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert cluster.writes == []
