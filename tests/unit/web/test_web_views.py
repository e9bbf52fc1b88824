"""The graph, Gantt, events, "why isn't it running?", the try page's pod details and log
navigation, and the DAG list's single history query, against fake data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_fakes import FakeCluster, FakeHistory, dag, run, stored_run, stored_try

from airkube.web.app import create_app

API = "/api/v1/namespaces/data"
UI = "/ui/namespaces/data"


def fan_dag(width: int) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [{"name": "start", "image": "busybox", "command": ["true"]}]
    tasks += [
        {"name": f"shard-{i}", "image": "busybox", "command": ["true"], "dependsOn": ["start"]}
        for i in range(width)
    ]
    tasks.append(
        {
            "name": "report",
            "image": "busybox",
            "command": ["sh", "-c", "echo <b>done</b>"],
            "dependsOn": [f"shard-{i}" for i in range(width)],
            "triggerRule": "all_done",
        }
    )
    return dag("fan", tasks)


@pytest.fixture
def cluster() -> FakeCluster:
    c = FakeCluster()
    c.dags["fan"] = fan_dag(20)
    shards = {
        f"shard-{i}": {"state": "Succeeded" if i < 15 else "Running", "tryNumber": 1}
        for i in range(20)
    }
    c.runs["fan-1"] = run(
        "fan-1",
        "fan",
        "Running",
        start={
            "state": "Succeeded",
            "tryNumber": 1,
            "queuedTime": "2026-11-01T12:00:00Z",
            "startTime": "2026-11-01T12:00:02Z",
            "endTime": "2026-11-01T12:00:10Z",
        },
        **shards,
    )
    c.runs["fan-1"]["status"].pop("endTime")
    c.events_of[("DAGRun", "fan-1")] = [
        {
            "type": "Warning",
            "reason": "TaskRetrying",
            "message": "<i>retry</i> soon",
            "count": 2,
            "lastTimestamp": "2026-11-01T12:00:05Z",
        }
    ]
    return c


@pytest.fixture
def history() -> FakeHistory:
    return FakeHistory()


@pytest.fixture
def client(cluster: FakeCluster, history: FakeHistory) -> TestClient:
    return TestClient(create_app(cluster, history, namespace="data"))


def test_the_graph_collapses_a_wide_fan_out_with_counts_by_state(client: TestClient) -> None:
    g = client.get(f"{API}/dags/fan/graph", params={"run": "fan-1"}).json()
    assert g["tasks"] == 22
    assert [n["id"] for n in g["nodes"]] == ["start", "shard-0+19", "report"]
    group = g["nodes"][1]
    assert len(group["tasks"]) == 20
    assert group["counts"] == {"Succeeded": 15, "Running": 5}
    assert [n["layer"] for n in g["nodes"]] == [0, 1, 2]
    assert g["nodes"][0]["state"] == "Succeeded"
    # The edge into report carries its non-default trigger rule; the default shows nothing.
    rules = {(e["source"], e["target"]): e["triggerRule"] for e in g["edges"]}
    assert rules == {("start", "shard-0+19"): None, ("shard-0+19", "report"): "all_done"}


def test_the_graph_threshold_expands_groups(client: TestClient) -> None:
    g = client.get(f"{API}/dags/fan/graph", params={"threshold": 50}).json()
    assert len(g["nodes"]) == 22
    assert g["run"] is None


def test_the_graph_page_links_tasks_to_their_tries_and_shows_rules(client: TestClient) -> None:
    page = client.get(f"{UI}/dags/fan/graph", params={"run": "fan-1"})
    assert page.status_code == 200
    assert f'href="{UI}/dags/fan/runs/fan-1/tasks/start/tries/1"' in page.text
    assert ">all_done</text>" in page.text
    assert "15 Succeeded" in page.text
    assert "5 Running" in page.text
    # No run chosen: the newest run is shown.
    assert 'value="fan-1" selected' in client.get(f"{UI}/dags/fan/graph").text


def test_the_graph_of_a_missing_dag_is_a_404(client: TestClient) -> None:
    r = client.get(f"{API}/dags/nope/graph")
    assert r.status_code == 404
    assert "DAG nope not found" in r.json()["message"]


def test_why_a_task_waits_is_shown_on_the_run_page(client: TestClient) -> None:
    why = client.get(f"{API}/dags/fan/runs/fan-1/waiting").json()
    assert [(w["task"], w["reason"]) for w in why] == [("report", "TriggerRule")]
    assert "all_done not met yet: waiting for shard-15" in why[0]["message"]
    assert "15 of 20 upstream tasks finished" in why[0]["message"]
    page = client.get(f"{UI}/dags/fan/runs/fan-1").text
    assert "Why isn't it running?" in page
    assert "waiting for shard-15" in page


def test_a_pending_pods_reason_is_shown_on_the_try_page(cluster: FakeCluster) -> None:
    cluster.dags["etl"] = dag("etl")
    cluster.runs["etl-1"] = run(
        "etl-1",
        "etl",
        "Running",
        extract={
            "state": "Queued",
            "tryNumber": 1,
            "podName": "p-extract",
            "reason": "Unschedulable",
            "message": "waiting for its pod: Unschedulable: 0/2 nodes are available",
        },
    )
    client = TestClient(create_app(cluster, None, namespace="data"))
    page = client.get(f"{UI}/dags/etl/runs/etl-1/tasks/extract/tries/1").text
    assert "Unschedulable</span> its pod waits: Unschedulable: 0/2 nodes are available" in page


def test_the_run_page_has_a_gantt_and_escaped_events(client: TestClient) -> None:
    page = client.get(f"{UI}/dags/fan/runs/fan-1").text
    assert 'class="gantt-row"' in page
    assert "gantt-q" in page
    assert "&lt;i&gt;retry&lt;/i&gt; soon" in page
    assert "<i>retry</i>" not in page
    gantt = client.get(f"{API}/dags/fan/runs/fan-1/gantt").json()
    start = next(b for b in gantt["bars"] if b["task"] == "start")
    assert start["queuedTime"]
    assert start["startTime"]
    assert start["endTime"]
    assert [e["reason"] for e in client.get(f"{API}/dags/fan/runs/fan-1/events").json()] == [
        "TaskRetrying"
    ]


def test_the_gantt_has_every_recorded_try(cluster: FakeCluster, history: FakeHistory) -> None:
    history.runs["fan-0"] = stored_run("fan-0", "fan", "Failed")
    history.tries["fan-0"] = [
        stored_try("start", 1, "Failed", start_time=history.runs["fan-0"].start_time),
        stored_try("start", 2, "Failed", start_time=history.runs["fan-0"].start_time),
    ]
    client = TestClient(create_app(cluster, history, namespace="data"))
    bars = client.get(f"{API}/dags/fan/runs/fan-0/gantt").json()["bars"]
    assert [(b["task"], b["tryNumber"]) for b in bars] == [("start", 1), ("start", 2)]


def test_the_try_page_shows_the_rendered_command_and_pod_events(cluster: FakeCluster) -> None:
    cluster.pods[("fan-1", "report", 1)] = {
        "metadata": {"name": "p-report"},
        "spec": {
            "nodeName": "node-a",
            "containers": [
                {
                    "name": "task",
                    "image": "busybox",
                    "command": ["sh", "-c"],
                    "args": ["echo <b>x</b>"],
                }
            ],
        },
        "status": {"phase": "Running"},
    }
    cluster.runs["fan-1"]["status"]["tasks"]["report"] = {"state": "Running", "tryNumber": 1}
    cluster.events_of[("Pod", "p-report")] = [
        {"type": "Normal", "reason": "Pulled", "message": "image <busybox> present"}
    ]
    client = TestClient(create_app(cluster, None, namespace="data"))
    page = client.get(f"{UI}/dags/fan/runs/fan-1/tasks/report/tries/1").text
    assert "sh -c &#39;echo &lt;b&gt;x&lt;/b&gt;&#39;" in page
    assert "image &lt;busybox&gt; present" in page
    assert "node-a" in page


def test_large_logs_are_paged_with_a_tail_view(cluster: FakeCluster) -> None:
    cluster.pods[("fan-1", "start", 1)] = {"metadata": {"name": "p-start"}, "spec": {}}
    cluster.logs["p-start"] = "\n".join(f"line {i}" for i in range(1, 2501))
    client = TestClient(create_app(cluster, None, namespace="data"))
    url = f"{UI}/dags/fan/runs/fan-1/tasks/start/tries/1"
    first = client.get(url).text
    assert "lines 1\u20131000 of 2500" in first
    assert "line 1000\n" in first
    assert "line 1001" not in first
    assert "?tail=true#log" in first
    assert "?start=1000#log" in first
    tail = client.get(url, params={"tail": "true"}).text
    assert "lines 1501\u20132500 of 2500" in tail
    assert "line 2500" in tail
    assert "line 1500\n" not in tail
    assert "?start=0#log" in tail
    assert "?start=500#log" in tail
    api = client.get(f"{API}/dags/fan/runs/fan-1/tasks/start/tries/1/logs", params={"limit": 10})
    assert api.json()["nextStart"] == 10


def test_the_dag_list_asks_the_history_once_per_page(
    cluster: FakeCluster, history: FakeHistory
) -> None:
    for i in range(30):
        cluster.dags[f"d{i:02}"] = dag(f"d{i:02}")
        history.runs[f"d{i:02}-old"] = stored_run(f"d{i:02}-old", f"d{i:02}")
    client = TestClient(create_app(cluster, history, namespace="data"))
    page = client.get(f"{API}/dags", params={"limit": 20}).json()
    assert history.recent_queries == 1
    assert all(d["recentRuns"] for d in page["items"] if d["name"].startswith("d"))


def test_a_queued_run_says_it_waits_for_max_active_runs(cluster: FakeCluster) -> None:
    cluster.dags["fan"]["spec"]["maxActiveRuns"] = 1
    queued = run("fan-2", "fan", "Queued")
    queued["status"] = {"state": "Queued"}
    queued["spec"]["logicalDate"] = "2026-11-02T00:00:00Z"
    cluster.runs["fan-2"] = queued
    client = TestClient(create_app(cluster, None, namespace="data"))
    why = client.get(f"{API}/dags/fan/runs/fan-2/waiting").json()
    assert [(w["task"], w["reason"]) for w in why] == [("", "MaxActiveRuns")]
    assert "1 runs of DAG fan are running (maxActiveRuns 1)" in why[0]["message"]
    page = client.get(f"{UI}/dags/fan/runs/fan-2").text
    assert "(the run)" in page
    assert "maxActiveRuns 1" in page


def test_the_dag_list_draws_a_bar_per_recent_run(client: TestClient) -> None:
    page = client.get(f"{UI}/dags").text
    assert f'title="fan-1: Running" style="height: 3px" href="{UI}/dags/fan/runs/fan-1"' in page
