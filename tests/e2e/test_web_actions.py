"""The write actions against the local cluster through the web server's JSON API (on a
real port, as a browser's fetch or an API client reaches it): a trigger with params makes
a run that succeeds; clear, mark and cancel change real runs as the CLI's requests do;
backfill creates the runs its preview listed; pause toggles the DAG; each records who
asked (the user a SelfSubjectReview names); a request without the CSRF token changes
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client

from airkube.api import GROUP, VERSION
from airkube.core.requests import CANCELLED_BY, CLEARED_BY, MARKED_BY, PAUSED_BY, TRIGGERED_BY
from airkube.kube.identity import review_user
from airkube.web.app import create_app
from airkube.web.data import KubeCluster

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, get_run, sim, state, task, tasks
from .waiting import watch_run
from .web_server import serve


@pytest.fixture
def user(api: client.ApiClient) -> str:
    name = review_user(api)
    assert name, "the local cluster answers SelfSubjectReviews"
    return name


class Http(requests.Session):
    """A session with the server's base URL: ``http.post("/api/v1/...")``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base_url + str(url), *args, **kwargs)


@pytest.fixture
def web_api(api: client.ApiClient, operator: OperatorProcess, user: str) -> Iterator[Http]:
    """An API client of a web server acting as ``user``, holding the session's CSRF token."""
    with serve(create_app(KubeCluster(api), None, user=user)) as url, Http(url) as http:
        token = http.get("/api/v1/csrf").json()["token"]
        http.headers.update({"X-CSRF-Token": token, "Origin": url})
        yield http


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def annotations(body: dict[str, Any]) -> dict[str, str]:
    return body["metadata"].get("annotations") or {}


def test_trigger_with_params_then_clear_and_mark(
    web_api: Http, custom: client.CustomObjectsApi, namespace: str, user: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "acts",
        params={"rows": {"default": 1, "type": "integer", "minimum": 1}},
        tasks=[
            task("first", command=["sh", "-c", "echo {{ params.rows }}"]),
            task("second", "first"),
        ],
    )
    base = f"/api/v1/namespaces/{namespace}/dags/acts"
    bad = web_api.post(f"{base}/runs", json={"params": {"rows": 0}})
    assert bad.status_code == 422
    assert bad.json()["fields"] == {"params.rows": "param rows must be at least 1, got 0"}
    preview = ok(web_api.post(f"{base}/runs?dryRun=true", json={"params": {"rows": "3"}}))
    assert preview["values"] == {"rows": 3}
    assert preview["command"].startswith(f"kubectl airkube trigger acts -n {namespace} ")
    assert custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")["items"] == []

    made = ok(web_api.post(f"{base}/runs", json={"params": {"rows": 3}, "name": "acts-1"}), 201)
    assert made["applied"] is True
    run = watch_run(custom, namespace, "acts-1", lambda r: state(r) == "Succeeded", timeout=60)
    assert annotations(run)[TRIGGERED_BY] == user
    assert run["spec"]["params"] == {"rows": 3}

    cleared = ok(web_api.post(f"{base}/runs/acts-1/clear?dryRun=true", json={"tasks": ["second"]}))
    assert [(c["task"], c["before"], c["after"]) for c in cleared["changes"]] == [
        ("second", "Succeeded", "None")
    ]
    ok(web_api.post(f"{base}/runs/acts-1/clear", json={"tasks": ["second"]}))
    run = watch_run(
        custom,
        namespace,
        "acts-1",
        lambda r: state(r) == "Succeeded" and tasks(r)["second"].get("tryNumber") == 2,
        timeout=60,
    )
    assert tasks(run)["first"]["tryNumber"] == 1  # only the cleared task ran again
    assert annotations(run)[CLEARED_BY] == user

    marked = ok(web_api.post(f"{base}/runs/acts-1/mark", json={"state": "failed"}))
    assert marked["newRunState"] == "Failed"
    run = watch_run(custom, namespace, "acts-1", lambda r: state(r) == "Failed", timeout=60)
    assert annotations(run)[MARKED_BY] == user


def test_cancel_a_running_run(
    web_api: Http, custom: client.CustomObjectsApi, namespace: str, user: str
) -> None:
    apply_dag(custom, namespace, "slow", tasks=[task("wait", podTemplate=sim(duration="60s"))])
    create_run(custom, namespace, "slow-1", "slow")
    watch_run(custom, namespace, "slow-1", lambda r: state(r) == "Running", timeout=60)
    base = f"/api/v1/namespaces/{namespace}/dags/slow/runs/slow-1"
    preview = ok(web_api.post(f"{base}/cancel?dryRun=true"))
    assert preview["changes"][0]["task"] == "wait"
    assert preview["newRunState"] == "Cancelled"
    assert state(get_run(custom, namespace, "slow-1")) == "Running"
    ok(web_api.post(f"{base}/cancel"))
    run = watch_run(custom, namespace, "slow-1", lambda r: state(r) == "Cancelled", timeout=60)
    assert annotations(run)[CANCELLED_BY] == user
    again = web_api.post(f"{base}/cancel")
    assert again.status_code == 409


def test_backfill_and_pause(
    web_api: Http, custom: client.CustomObjectsApi, namespace: str, user: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "daily",
        schedule="@daily",
        startDate="2026-01-01T00:00:00Z",
        paused=True,
        tasks=[task("only")],
    )
    base = f"/api/v1/namespaces/{namespace}/dags/daily"
    body = {"start": "2026-01-01", "end": "2026-01-02"}
    preview = ok(web_api.post(f"{base}/backfill?dryRun=true", json=body))
    names = [r["name"] for r in preview["runs"]]
    assert names == ["daily-backfill-20260101t000000", "daily-backfill-20260102t000000"]
    done = ok(web_api.post(f"{base}/backfill", json=body))
    assert [r["outcome"] for r in done["runs"]] == ["created", "created"]
    for name in names:
        run = watch_run(custom, namespace, name, lambda r: state(r) == "Succeeded", timeout=60)
        assert run["spec"]["runType"] == "backfill"
        assert annotations(run)[TRIGGERED_BY] == user

    ok(web_api.post(f"{base}/pause", json={"paused": False}))
    dag = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "daily")
    assert dag["spec"]["paused"] is False
    ok(web_api.post(f"{base}/pause", json={"paused": True}))
    dag = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "daily")
    assert dag["spec"]["paused"] is True
    assert annotations(dag)[PAUSED_BY] == user


def test_a_cross_site_request_changes_nothing(
    web_api: Http, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(custom, namespace, "guarded", tasks=[task("only")])
    url = f"/api/v1/namespaces/{namespace}/dags/guarded/runs"
    token = web_api.headers["X-CSRF-Token"]
    no_token = web_api.post(url, json={}, headers={"X-CSRF-Token": ""})
    foreign = web_api.post(url, json={}, headers={"Origin": "http://evil.example"})
    no_cookie = requests.post(
        web_api.base_url + url,
        json={},
        headers={"X-CSRF-Token": str(token), "Origin": web_api.base_url},
        timeout=30,
    )
    assert [a.status_code for a in (no_token, foreign, no_cookie)] == [403, 403, 403]
    assert custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")["items"] == []
