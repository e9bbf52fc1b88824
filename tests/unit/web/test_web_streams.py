"""The live streams over HTTP (a real uvicorn server on a local port, fake cluster and
watch source): SSE framing, ids and Last-Event-ID resume, heartbeats, the access check
through the request's service, the followed log of a running try, and the pages' live
fragments."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
from live_fakes import FakeSource
from web_fakes import FakeCluster, FakeHistory, dag, run

from airkube.web.app import create_app
from airkube.web.live import DAGRUN, POD
from e2e.web_server import serve

NS = "/api/v1/namespaces/data"
TRY = f"{NS}/dags/etl/runs/etl-1/tasks/load/tries/1"


def dagrun_event(name: str, rv: str, state: str) -> dict[str, Any]:
    return {
        "type": "MODIFIED",
        "object": {
            "metadata": {"name": name, "namespace": "data", "resourceVersion": rv},
            "spec": {"dagRef": {"name": "etl"}},
            "status": {"state": state},
        },
    }


def pod_event(rv: str, phase: str) -> dict[str, Any]:
    labels = {"airkube.io/run": "etl-1", "airkube.io/task": "load", "airkube.io/try": "1"}
    meta = {"name": "pod-load-1", "namespace": "data", "resourceVersion": rv, "labels": labels}
    return {"type": "MODIFIED", "object": {"metadata": meta, "status": {"phase": phase}}}


@pytest.fixture
def cluster() -> FakeCluster:
    c = FakeCluster()
    c.dags["etl"] = dag("etl")
    c.runs["etl-1"] = run(
        "etl-1", "etl", "Running", load={"state": "Running", "tryNumber": 1, "podName": "p"}
    )
    return c


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def server(cluster: FakeCluster, source: FakeSource) -> Iterator[str]:
    app = create_app(cluster, FakeHistory(), namespace="data", watches=source, heartbeat=0.2)
    with serve(app) as url:
        yield url


@contextmanager
def sse(url: str, **headers: str) -> Iterator[Iterator[tuple[str, str, str]]]:
    """The stream's events as (event, id, data); comment lines as ("comment", "", text)."""
    with (
        httpx2.Client(timeout=10) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")

        def events() -> Iterator[tuple[str, str, str]]:
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(":"):
                    yield ("comment", "", line[1:].strip())
                elif line == "":
                    if "event" in fields or "data" in fields:
                        yield (fields.get("event", "message"), fields.get("id", ""), fields["data"])
                    fields = {}
                else:
                    key, _, value = line.partition(": ")
                    fields[key] = value

        yield events()


def first(events: Iterator[tuple[str, str, str]], kind: str) -> tuple[str, str, str]:
    for event in events:
        if event[0] == kind:
            return event
    raise AssertionError(f"the stream ended before a {kind} event")


def test_a_change_arrives_with_its_resource_version_and_a_reconnect_resumes(
    server: str, source: FakeSource
) -> None:
    with sse(f"{server}{NS}/watch?run=etl-1&kind=DAGRun") as events:
        deadline = time.monotonic() + 5
        while len([w for w in source.watches if w[0] == DAGRUN]) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        source.feed(DAGRUN).put(dagrun_event("etl-2", "101", "Running"))  # filtered out
        source.feed(DAGRUN).put(dagrun_event("etl-1", "102", "Running"))
        event, rv, data = first(events, "change")
        assert (event, rv) == ("change", "102")
        assert json.loads(data) == {
            "kind": "DAGRun",
            "type": "MODIFIED",
            "namespace": "data",
            "name": "etl-1",
            "dag": "etl",
            "run": "etl-1",
            "state": "Running",
            "resourceVersion": "102",
        }
        assert first(events, "comment") == ("comment", "", "heartbeat")
    # Changed while the browser was away: a reconnect with the last id gets them.
    source.feed(DAGRUN).put(dagrun_event("etl-1", "103", "Succeeded"))
    with sse(f"{server}{NS}/watch?run=etl-1&kind=DAGRun", **{"Last-Event-ID": "102"}) as events:
        event, rv, data = first(events, "change")
        assert (rv, json.loads(data)["state"]) == ("103", "Succeeded")
    with sse(f"{server}{NS}/watch?run=etl-1", **{"Last-Event-ID": "1"}) as events:
        assert first(events, "resync")[0] == "resync"


def test_a_stream_needs_the_right_to_read_the_namespace(server: str, cluster: FakeCluster) -> None:
    cluster.refuse = 403
    answer = httpx2.get(f"{server}{NS}/watch", timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {"message": "listing dags in namespace data: forbidden"}
    answer = httpx2.get(f"{server}{NS}/watch?kind=Secret", timeout=10)
    assert answer.status_code == 400
    assert "kind 'Secret' is not watched" in answer.json()["message"]


def test_a_running_trys_log_streams_then_ends_with_the_try(
    server: str, cluster: FakeCluster, source: FakeSource
) -> None:
    pod = {"metadata": {"name": "pod-load-1"}, "status": {"phase": "Running"}}
    cluster.pods["etl-1", "load", 1] = pod
    cluster.logs["pod-load-1"] = "one\n<b>two</b>\r\nthree"
    with sse(f"{server}{TRY}/logs/stream?start=1") as events:
        assert first(events, "line") == ("line", "1", "<b>two</b>")
        assert first(events, "line") == ("line", "2", "three")
        # The log request ended but the pod runs: nothing more until the try ends.
        pod["status"]["phase"] = "Succeeded"
        source.feed(POD).put(pod_event("200", "Succeeded"))
        _, _, data = first(events, "end")
        assert json.loads(data) == "the pod Succeeded"
    # A reconnect goes on after the last line it got.
    pod["status"]["phase"] = "Running"
    with sse(f"{server}{TRY}/logs/stream", **{"Last-Event-ID": "1"}) as events:
        assert first(events, "line") == ("line", "2", "three")
    del cluster.pods["etl-1", "load", 1]
    with sse(f"{server}{TRY}/logs/stream") as events:
        assert first(events, "end")[2] == '"the pod is gone"'
    missing = httpx2.get(f"{server}{NS}/dags/etl/runs/etl-1/tasks/nope/tries/1/logs/stream")
    assert missing.status_code == 404


def test_a_page_answers_its_live_block_alone(server: str) -> None:
    page = httpx2.get(f"{server}/ui/namespaces/data/dags/etl/runs/etl-1", timeout=10).text
    assert 'sse-connect="/api/v1/namespaces/data/watch?run=etl-1&amp;kind=DAGRun"' in page
    assert 'hx-get="/ui/namespaces/data/dags/etl/runs/etl-1?fragment=live"' in page
    part = httpx2.get(
        f"{server}/ui/namespaces/data/dags/etl/runs/etl-1?fragment=live", timeout=10
    ).text
    assert "<html" not in part
    assert "sse-connect" not in part
    assert part.lstrip().startswith("<h1>etl-1")
    assert part.strip() in page


@pytest.mark.parametrize(
    ("page", "stream", "first_tag"),
    [
        ("/ui/namespaces/data/dags", "watch?kind=DAG,DAGRun", "<table"),
        ("/ui/namespaces/data/dags/etl", "watch?dag=etl&amp;kind=DAG,DAGRun", "<h1>"),
        (
            "/ui/namespaces/data/dags/etl/runs/etl-1/tasks/load/tries/1",
            "watch?run=etl-1&amp;task=load&amp;kind=DAGRun,Pod",
            "<h1>",
        ),
    ],
)
def test_every_live_page_subscribes_and_answers_its_live_block(
    server: str, cluster: FakeCluster, page: str, stream: str, first_tag: str
) -> None:
    cluster.pods["etl-1", "load", 1] = {
        "metadata": {"name": "pod-load-1"},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running"},
    }
    cluster.logs["pod-load-1"] = "hello\n"
    with httpx2.Client(timeout=10) as browser:  # one session: the same CSRF token in both
        whole = browser.get(f"{server}{page}").text
        part = browser.get(f"{server}{page}?fragment=live").text
    assert f'sse-connect="/api/v1/namespaces/data/{stream}"' in whole
    assert part.lstrip().startswith(first_tag)
    assert "<html" not in part
    assert part.strip() in whole


def test_a_running_trys_page_follows_its_log_after_the_lines_it_shows(
    server: str, cluster: FakeCluster
) -> None:
    cluster.pods["etl-1", "load", 1] = {
        "metadata": {"name": "pod-load-1"},
        "status": {"phase": "Running"},
    }
    cluster.logs["pod-load-1"] = "one\n<script>two</script>\n"
    url = f"{server}/ui/namespaces/data/dags/etl/runs/etl-1/tasks/load/tries/1"
    page = httpx2.get(url, timeout=10).text
    assert f'data-follow="{TRY}/logs/stream?start=2"' in page
    assert "&lt;script&gt;two&lt;/script&gt;" in page
    log = httpx2.get(f"{url}?fragment=log", timeout=10).text
    assert log.strip().startswith('<nav class="log-nav"><span class="muted">from the pod')
    cluster.pods["etl-1", "load", 1]["status"]["phase"] = "Succeeded"
    assert "data-follow" not in httpx2.get(url, timeout=10).text


def test_close_streams_ends_every_open_stream_so_the_server_can_stop(
    cluster: FakeCluster, source: FakeSource
) -> None:
    cluster.pods["etl-1", "load", 1] = {
        "metadata": {"name": "pod-load-1"},
        "status": {"phase": "Pending"},
    }
    app = create_app(cluster, FakeHistory(), namespace="data", watches=source, heartbeat=0.2)
    with (
        serve(app) as url,
        sse(f"{url}{NS}/watch") as changes,
        sse(f"{url}{TRY}/logs/stream") as log,
    ):
        assert first(changes, "comment")[0] == "comment"
        assert first(log, "comment")[0] == "comment"
        app.state.hub.close_streams_threadsafe()  # as `kubectl airkube ui` on Ctrl-C
        started = time.monotonic()
        assert [e for e in changes if e[0] != "comment"] == []  # ended, nothing more sent
        assert [e for e in log if e[0] != "comment"] == []
        assert time.monotonic() - started < 5
