"""The in-cluster server's guard: a token per request, its identity from a SelfSubjectReview
made with it, a per-user service, the database views gated by a SubjectAccessReview, and
the short cache of all of these."""

from __future__ import annotations

from typing import Any

import pytest
from auth_fakes import ALICE, FakeBackend
from fastapi import Request
from fastapi.testclient import TestClient
from web_fakes import FakeCluster, FakeHistory, stored_run, stored_try

from airkube.web import context
from airkube.web.app import create_app
from airkube.web.auth import Authenticator, token_key
from airkube.web.incluster import TOKEN_COOKIE, create_incluster_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history() -> FakeHistory:
    h = FakeHistory()
    h.runs["etl-old"] = stored_run("etl-old", "etl")
    h.tries["etl-old"] = [stored_try("extract", 1)]
    h.logs[("etl-old", "extract", 1)] = b"hello <b>log</b>\n"
    return h


@pytest.fixture
def auth(backend: FakeBackend, history: FakeHistory, clock: Clock) -> Authenticator:
    return Authenticator(backend, history, ttl=30.0, clock=clock)


@pytest.fixture
def client(auth: Authenticator) -> TestClient:
    app = create_incluster_app(auth, namespace="data")
    return TestClient(app, base_url="http://web.example", follow_redirects=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    answer = client.get("/api/v1/namespaces/data/dags")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "no token" in answer.json()["message"]


def test_a_page_without_a_token_is_the_login_page_with_401(client: TestClient) -> None:
    answer = client.get("/ui/namespaces/data/dags?search=e")
    assert answer.status_code == 401
    assert '<form method="post" action="/login">' in answer.text
    assert 'value="/ui/namespaces/data/dags?search=e"' in answer.text
    assert 'class="error"' not in answer.text  # a first visit: no complaint yet
    client.cookies.set(TOKEN_COOKIE, "expired")
    again = client.get("/ui/namespaces/data/dags")
    assert again.status_code == 401
    assert "did not accept this token" in again.text


def test_a_token_the_api_server_refuses_is_401(client: TestClient, backend: FakeBackend) -> None:
    answer = client.get("/api/v1/namespaces/data/dags", headers=bearer("mallory"))
    assert answer.status_code == 401
    assert "did not accept this token" in answer.json()["message"]
    assert backend.who_calls == ["mallory"]


def test_the_identity_comes_from_a_self_subject_review_with_the_token_and_calls_use_it(
    client: TestClient, backend: FakeBackend
) -> None:
    answer = client.get("/api/v1/namespaces/data/dags/etl", headers=bearer("alice"))
    assert answer.status_code == 200
    assert backend.who_calls == ["alice"]
    # The DAG came from the cluster built for alice's token, not from a shared one.
    assert answer.json()["name"] == "etl"
    assert list(backend.clusters) == ["alice"]


def test_kubernetes_refusals_pass_through_as_403(client: TestClient, backend: FakeBackend) -> None:
    client.get("/api/v1/namespaces/data/dags", headers=bearer("bob"))
    backend.clusters["bob"].refuse = 403
    answer = client.get("/api/v1/namespaces/data/dags", headers=bearer("bob"))
    assert answer.status_code == 403
    page = client.get("/ui/namespaces/data/dags", headers=bearer("bob"))
    assert page.status_code == 403
    assert "<h1>Forbidden</h1>" in page.text
    assert "forbidden" in page.text


def test_database_views_are_gated_by_a_subject_access_review(
    client: TestClient, backend: FakeBackend
) -> None:
    denied = client.get("/api/v1/namespaces/data/recorded/dags/etl/runs", headers=bearer("bob"))
    assert denied.status_code == 403
    message = denied.json()["message"]
    assert '"bob" cannot list resource "dagruns.airkube.io" in namespace "data"' in message
    assert backend.may_calls == [("bob", "list", "dagruns", "data")]
    allowed = client.get("/api/v1/namespaces/data/recorded/dags/etl/runs", headers=bearer("alice"))
    assert allowed.status_code == 200
    assert [r["name"] for r in allowed.json()["items"]] == ["etl-old"]
    other = client.get("/api/v1/namespaces/other/recorded/dags/etl/runs", headers=bearer("alice"))
    assert other.status_code == 403
    assert 'in namespace "other"' in other.json()["message"]


def test_merged_views_need_the_review_too(client: TestClient) -> None:
    # The run list merges the database's runs: bob may read the DAG but not the history.
    answer = client.get("/api/v1/namespaces/data/dags/etl/runs", headers=bearer("bob"))
    assert answer.status_code == 403
    assert "list" in answer.json()["message"]
    ok = client.get("/api/v1/namespaces/data/dags/etl/runs", headers=bearer("alice"))
    assert [r["name"] for r in ok.json()["items"]] == ["etl-old"]


def test_identities_and_reviews_are_cached_by_token_until_the_ttl(
    client: TestClient, backend: FakeBackend, auth: Authenticator, clock: Clock
) -> None:
    url = "/api/v1/namespaces/data/recorded/dags/etl/runs"
    for _ in range(3):
        assert client.get(url, headers=bearer("alice")).status_code == 200
    assert backend.who_calls == ["alice"]
    assert len(backend.may_calls) == 1
    assert token_key("alice") in auth._sessions
    assert "alice" not in auth._sessions  # keyed by the token's hash, not the token
    clock.now += 31
    assert client.get(url, headers=bearer("alice")).status_code == 200
    assert backend.who_calls == ["alice", "alice"]
    assert len(backend.may_calls) == 2


def test_refused_tokens_are_not_cached(client: TestClient, backend: FakeBackend) -> None:
    for _ in range(2):
        client.get("/api/v1/namespaces/data/dags", headers=bearer("mallory"))
    assert backend.who_calls == ["mallory", "mallory"]


def test_the_cache_is_bounded(backend: FakeBackend, history: FakeHistory, clock: Clock) -> None:
    auth = Authenticator(backend, history, max_entries=1, clock=clock)
    auth.session("alice")
    auth.session("bob")
    auth.session("alice")
    assert backend.who_calls == ["alice", "bob", "alice"]


def form_post(client: TestClient, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    """POST a form as this server's login page does: from its own origin, with the CSRF
    token of the session the page gave."""
    client.get("/login")
    token = client.cookies.get("airkube_csrf")
    headers = {"origin": str(client.base_url).rstrip("/"), **kwargs.pop("headers", {})}
    return client.post(path, data={**data, "csrf_token": token or ""}, headers=headers, **kwargs)


def test_login_sets_an_httponly_strict_cookie_and_the_cookie_is_enough(
    client: TestClient,
) -> None:
    answer = form_post(client, "/login", {"token": "alice", "next": "/ui/namespaces/data/dags"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/namespaces/data/dags"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure
    assert client.get("/api/v1/namespaces/data/dags").status_code == 200


def test_login_over_tls_marks_the_cookie_secure(auth: Authenticator) -> None:
    tls = TestClient(create_incluster_app(auth), base_url="https://web.example")
    answer = form_post(tls, "/login", {"token": "alice"}, follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]


def test_login_with_a_bad_token_shows_the_form_again(client: TestClient) -> None:
    answer = form_post(client, "/login", {"token": "mallory"})
    assert answer.status_code == 401
    assert "did not accept this token" in answer.text
    assert TOKEN_COOKIE not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "headers",
    [{"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}],
)
def test_login_from_another_site_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    answer = form_post(client, "/login", {"token": "alice"}, headers=headers)
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil"])
def test_login_goes_back_to_this_server_only(client: TestClient, target: str) -> None:
    answer = form_post(client, "/login", {"token": "alice", "next": target})
    assert answer.headers["location"] == "/"


def test_logout_forgets_the_cookie(client: TestClient) -> None:
    form_post(client, "/login", {"token": "alice"})
    answer = form_post(client, "/logout", {})
    assert answer.status_code == 303
    assert f'{TOKEN_COOKIE}=""' in answer.headers["set-cookie"]


def test_health_and_static_files_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"
    assert client.get("/static/airkube.css").status_code == 200


def test_the_stored_records_as_the_cli_reads_them(client: TestClient) -> None:
    tries = client.get(
        "/api/v1/namespaces/data/recorded/runs/etl-old/tries", headers=bearer("alice")
    )
    assert tries.status_code == 200
    body: dict[str, Any] = tries.json()
    assert body["run"]["dagName"] == "etl"
    assert body["run"]["resourceDeletedAt"] is not None
    assert [(t["taskName"], t["tryNumber"]) for t in body["tries"]] == [("extract", 1)]
    assert body["logs"][0]["key"] == "data/x/etl-old/extract/1"
    log = client.get(
        "/api/v1/namespaces/data/recorded/runs/etl-old/tasks/extract/tries/1/log",
        headers=bearer("alice"),
    )
    assert log.status_code == 200
    assert log.headers["content-type"] == "text/plain; charset=utf-8"
    assert log.content == b"hello <b>log</b>\n"
    missing = client.get(
        "/api/v1/namespaces/data/recorded/runs/nope/tries", headers=bearer("alice")
    )
    assert missing.status_code == 404


def test_routes_check_what_the_server_reads_for_all_with_context_require(
    auth: Authenticator, backend: FakeBackend
) -> None:
    app = create_incluster_app(auth, namespace="data")

    @app.get("/api/v1/namespaces/{namespace}/probe")
    def probe(request: Request, namespace: str) -> dict[str, str | None]:
        context.require(request, "watch", "dagruns", namespace)
        who = context.identity(request)
        return {"user": who.username if who else None}

    backend.allowed.add((ALICE.username, "watch", "dagruns", "data"))
    web = TestClient(app)
    ok = web.get("/api/v1/namespaces/data/probe", headers=bearer("alice"))
    assert ok.json() == {"user": ALICE.username}
    refused = web.get("/api/v1/namespaces/other/probe", headers=bearer("alice"))
    assert refused.status_code == 403
    assert (
        'cannot watch resource "dagruns.airkube.io" in namespace "other"'
        in refused.json()["message"]
    )


def test_on_the_local_server_context_require_allows_and_there_is_no_identity() -> None:
    app = create_app(FakeCluster(), None)

    @app.get("/probe")
    def probe(request: Request) -> dict[str, bool]:
        context.require(request, "watch", "dagruns", "any")
        return {"identity": context.identity(request) is not None}

    assert TestClient(app).get("/probe").json() == {"identity": False}


def test_pages_say_who_is_signed_in_with_a_log_out_button(client: TestClient) -> None:
    form_post(client, "/login", {"token": "alice"})
    page = client.get("/ui/namespaces/data/dags").text
    assert '<form class="whoami" method="post" action="/logout">' in page
    assert ">system:serviceaccount:data:alice</span> <button>Log out</button>" in page
