"""The JSON API and the pages against fake data: paging, live runs merged with the
history, 404s that say what is missing, logs from the pod or the store, escaping."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_fakes import FakeCluster, FakeHistory, dag, run, stored_run, stored_try

from airkube.web.app import create_app

API = "/api/v1/namespaces/data"


@pytest.fixture
def cluster() -> FakeCluster:
    c = FakeCluster()
    for name in ("alpha", "beta", "gamma", "delta", "epsilon"):
        c.dags[name] = dag(name)
    c.runs["alpha-1"] = run(
        "alpha-1",
        "alpha",
        "Running",
        extract={"state": "Succeeded", "tryNumber": 1, "podName": "p-extract"},
        load={"state": "Running", "tryNumber": 2, "podName": "p-load"},
    )
    return c


@pytest.fixture
def history() -> FakeHistory:
    h = FakeHistory()
    h.runs["alpha-old"] = stored_run("alpha-old", "alpha", "Failed")
    h.tries["alpha-old"] = [
        stored_try("extract", 1),
        stored_try("load", 1, "Failed", exit_code=3),
        stored_try("load", 2, "Failed", exit_code=4),
    ]
    h.logs[("alpha-old", "load", 2)] = b"stored line 1\nstored line 2\n"
    return h


@pytest.fixture
def client(cluster: FakeCluster, history: FakeHistory) -> TestClient:
    return TestClient(create_app(cluster, history, namespace="data"))


def test_dags_are_paged_by_name_with_a_continue_token(client: TestClient) -> None:
    first = client.get(f"{API}/dags", params={"limit": 2}).json()
    assert [d["name"] for d in first["items"]] == ["alpha", "beta"]
    assert first["total"] == 5
    second = client.get(f"{API}/dags", params={"limit": 2, "continue": first["continue"]}).json()
    assert [d["name"] for d in second["items"]] == ["delta", "epsilon"]
    third = client.get(f"{API}/dags", params={"limit": 2, "continue": second["continue"]}).json()
    assert [d["name"] for d in third["items"]] == ["gamma"]
    assert third["continue"] is None


def test_search_keeps_matching_dags_only(client: TestClient) -> None:
    page = client.get(f"{API}/dags", params={"search": "TA"}).json()
    assert [d["name"] for d in page["items"]] == ["beta", "delta"]
    assert page["total"] == 2


def test_a_bad_continue_token_is_a_400_saying_so(client: TestClient) -> None:
    answer = client.get(f"{API}/dags", params={"continue": "%%%"})
    assert answer.status_code == 400
    assert "continue token" in answer.json()["message"]


def test_the_dag_list_carries_recent_runs_and_readiness(cluster: FakeCluster) -> None:
    cluster.dags["beta"] = dag(
        "beta",
        conditions=[{"type": "Ready", "status": "False", "reason": "Cycle", "message": "a->a"}],
    )
    client = TestClient(create_app(cluster, None))
    items = {d["name"]: d for d in client.get(f"{API}/dags").json()["items"]}
    assert [b["name"] for b in items["alpha"]["recentRuns"]] == ["alpha-1"]
    assert items["beta"]["ready"] is False
    assert items["beta"]["readyReason"] == "Cycle"


def test_the_dag_list_has_bars_for_deleted_runs_too(client: TestClient) -> None:
    alpha = client.get(f"{API}/dags", params={"search": "alpha"}).json()["items"][0]
    assert [(b["name"], b["state"]) for b in alpha["recentRuns"]] == [
        ("alpha-1", "Running"),
        ("alpha-old", "Failed"),
    ]


def test_runs_merge_live_resources_with_the_history(client: TestClient) -> None:
    runs = client.get(f"{API}/dags/alpha/runs").json()["items"]
    by_name = {r["name"]: r for r in runs}
    assert set(by_name) == {"alpha-1", "alpha-old"}
    assert by_name["alpha-1"]["live"] is True
    assert by_name["alpha-old"] == by_name["alpha-old"] | {"live": False, "recorded": True}
    assert by_name["alpha-old"]["state"] == "Failed"


def test_a_deleted_run_is_shown_from_the_history_with_its_latest_tries(
    client: TestClient,
) -> None:
    detail = client.get(f"{API}/dags/alpha/runs/alpha-old").json()
    tasks = {t["name"]: t for t in detail["tasks"]}
    assert detail["live"] is False
    assert tasks["load"]["tryNumber"] == 2
    assert tasks["load"]["exitCode"] == 4
    assert tasks["load"]["upstream"] == ["extract"]


def test_a_live_run_lists_its_tasks_in_dag_order(client: TestClient) -> None:
    detail = client.get(f"{API}/dags/alpha/runs/alpha-1").json()
    assert [(t["name"], t["state"], t["tryNumber"]) for t in detail["tasks"]] == [
        ("extract", "Succeeded", 1),
        ("load", "Running", 2),
    ]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/dags/nope", "DAG nope not found in namespace data"),
        ("/dags/alpha/runs/nope", "run nope of DAG alpha not found in namespace data"),
        ("/dags/beta/runs/alpha-1", "run alpha-1 of DAG beta not found"),
        ("/dags/alpha/runs/alpha-1/tasks/nope/tries", "run alpha-1 has no task nope"),
        ("/dags/alpha/runs/alpha-old/tasks/load/tries/9", "has no try 9 (its tries: 1, 2)"),
    ],
)
def test_missing_things_are_404s_that_say_what_is_missing(
    client: TestClient, path: str, words: str
) -> None:
    answer = client.get(API + path)
    assert answer.status_code == 404
    assert words in answer.json()["message"]


def test_a_refusal_from_the_cluster_keeps_its_status(cluster: FakeCluster) -> None:
    cluster.refuse = 403
    answer = TestClient(create_app(cluster, None)).get(f"{API}/dags")
    assert answer.status_code == 403
    assert "forbidden" in answer.json()["message"]


def test_tries_come_from_the_history_and_the_live_entry(
    client: TestClient, history: FakeHistory
) -> None:
    history.runs["alpha-1"] = stored_run("alpha-1", "alpha", "Running")
    history.tries["alpha-1"] = [stored_try("load", 1, "Failed", exit_code=1)]
    tries = client.get(f"{API}/dags/alpha/runs/alpha-1/tasks/load/tries").json()["items"]
    assert [(t["tryNumber"], t["state"]) for t in tries] == [(1, "Failed"), (2, "Running")]


def test_a_log_comes_from_the_live_pod_while_it_exists(
    client: TestClient, cluster: FakeCluster
) -> None:
    cluster.pods[("alpha-1", "load", 2)] = {
        "metadata": {"name": "p-load"},
        "spec": {"nodeName": "node-7"},
        "status": {"phase": "Running"},
    }
    cluster.logs["p-load"] = "a\nb\nc\n"
    base = f"{API}/dags/alpha/runs/alpha-1/tasks/load/tries/2"
    page = client.get(f"{base}/logs", params={"start": 1, "limit": 1}).json()
    assert page == {
        "source": "pod",
        "start": 1,
        "lines": ["b"],
        "totalLines": 3,
        "nextStart": 2,
    }
    detail = client.get(base).json()
    assert (detail["node"], detail["podPhase"]) == ("node-7", "Running")


def test_a_log_comes_from_the_store_once_the_pod_is_gone(client: TestClient) -> None:
    page = client.get(f"{API}/dags/alpha/runs/alpha-old/tasks/load/tries/2/logs").json()
    assert page["source"] == "store"
    assert page["lines"] == ["stored line 1", "stored line 2"]
    assert page["nextStart"] is None


def test_the_openapi_document_is_served_under_api_v1(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert (
        "/api/v1/namespaces/{namespace}/dags/{dag}/runs/{run}/tasks/{task}/tries/{n}/logs"
        in (doc["paths"])
    )
    assert "TaskEntry" in doc["components"]["schemas"]


def test_no_route_changes_state_on_get_and_none_takes_another_method(client: TestClient) -> None:
    methods = {m for r in client.app.routes for m in getattr(r, "methods", ()) or ()}  # type: ignore[attr-defined]
    assert methods <= {"GET", "HEAD"}


HOSTILE = '<script>alert("x")</script>'


def test_pages_escape_log_lines_and_user_strings(client: TestClient, history: FakeHistory) -> None:
    history.logs[("alpha-old", "load", 2)] = f"{HOSTILE}\n".encode()
    history.tries["alpha-old"][-1] = stored_try("load", 2, "Failed", message=HOSTILE)
    page = client.get("/ui/namespaces/data/dags/alpha/runs/alpha-old/tasks/load/tries/2")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    run_page = client.get("/ui/namespaces/data/dags/alpha/runs/alpha-old")
    assert HOSTILE not in run_page.text


@pytest.mark.parametrize(
    "path",
    [
        "/ui/namespaces/data/dags",
        "/ui/namespaces/data/dags?search=al",
        "/ui/namespaces/data/dags/alpha",
        "/ui/namespaces/data/dags/alpha/runs/alpha-1",
        "/ui/namespaces/data/dags/alpha/runs/alpha-old/tasks/load/tries/1",
    ],
)
def test_every_page_renders_and_links_onward(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert "/static/vendor/htmx.min.js" in page.text
    assert 'href="/ui/namespaces/data/dags' in page.text


def test_the_grid_links_each_cell_to_its_try(client: TestClient) -> None:
    page = client.get("/ui/namespaces/data/dags/alpha").text
    assert 'href="/ui/namespaces/data/dags/alpha/runs/alpha-1/tasks/load/tries/2"' in page
    assert 'href="/ui/namespaces/data/dags/alpha/runs/alpha-old/tasks/load/tries/2"' in page


def test_a_missing_page_is_an_html_404_saying_what_is_missing(client: TestClient) -> None:
    page = client.get("/ui/namespaces/data/dags/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "DAG nope not found in namespace data" in page.text


def test_a_pod_whose_log_cannot_be_read_falls_back_to_the_store(
    client: TestClient, cluster: FakeCluster, history: FakeHistory
) -> None:
    from airkube.web.data import DataError

    def unreadable(namespace: str, pod: str) -> str | None:
        raise DataError(502, f"reading the log of pod {namespace}/{pod}: node lost")

    cluster.runs["alpha-old"] = run(
        "alpha-old", "alpha", "Failed", load={"state": "Failed", "tryNumber": 2}
    )
    cluster.pods[("alpha-old", "load", 2)] = {"metadata": {"name": "p"}, "status": {}}
    cluster.pod_log = unreadable  # type: ignore[method-assign]
    base = f"{API}/dags/alpha/runs/alpha-old/tasks/load/tries"
    page = client.get(f"{base}/2/logs").json()
    assert (page["source"], page["lines"]) == ("store", ["stored line 1", "stored line 2"])
    history.logs.clear()
    answer = client.get(f"{base}/2/logs")
    assert answer.status_code == 502
    assert "node lost; and from the store: no stored log" in answer.json()["message"]


def test_the_run_page_draws_the_tasks_as_a_tree(client: TestClient) -> None:
    page = client.get("/ui/namespaces/data/dags/alpha/runs/alpha-1").text
    link = '<a href="/ui/namespaces/data/dags/alpha/runs/alpha-1/tasks/'
    assert f'<span class="tree"></span>{link}extract' in page
    assert f'<span class="tree">└─ </span>{link}load' in page


def test_the_grid_escapes_task_names(cluster: FakeCluster) -> None:
    # The API server's schema would refuse such a name; the page must not trust that.
    cluster.dags["alpha"] = dag("alpha", [{"name": HOSTILE, "image": "busybox"}])
    cluster.runs["alpha-1"]["status"]["tasks"] = {HOSTILE: {"state": "Failed", "tryNumber": 1}}
    page = TestClient(create_app(cluster, None)).get("/ui/namespaces/data/dags/alpha")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "<td>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>" in page.text
