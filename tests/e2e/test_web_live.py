"""Live updates against the local cluster: the web server's SSE stream (fed by its shared
watches of the real API server) delivers a DAGRun's changes within a second, and a
running try's log streams from its pod and ends when the try ends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from kubernetes import client

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, sim, task
from .test_task_logs import KWOK_LOG

Event = tuple[str, str, str, float]
"""(event, id, data, when it arrived: time.monotonic())."""


@contextmanager
def sse(url: str) -> Iterator[Iterator[Event]]:
    with (
        httpx2.Client(timeout=httpx2.Timeout(10, read=60)) as c,
        c.stream("GET", url) as response,
    ):
        assert response.status_code == 200, response.read()

        def events() -> Iterator[Event]:
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    key, _, value = line.partition(": ")
                    fields[key] = value
                    continue
                if "data" in fields:
                    yield (
                        fields.get("event", "message"),
                        fields.get("id", ""),
                        fields["data"],
                        time.monotonic(),
                    )
                fields = {}

        yield events()


def test_the_stream_delivers_a_dagruns_changes_within_a_second(
    operator: OperatorProcess,
    web: str,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "livedag",
        tasks=[task("a", podTemplate=sim(duration="1s")), task("b", "a")],
    )
    url = f"{web}/api/v1/namespaces/{namespace}/watch?run=livedag-1&kind=DAGRun"
    with sse(url) as events:
        # The namespace's watches start with its first subscriber: each list resyncs.
        for event, _, data, _ in events:
            if event == "resync" and "DAGRun" in json.loads(data)["reason"]:
                break
        created = time.monotonic()
        create_run(custom, namespace, "livedag-1", "livedag")
        event, rv, data, arrived = next(e for e in events if e[0] == "change")
        change = json.loads(data)
        assert (change["name"], change["type"], change["dag"]) == ("livedag-1", "ADDED", "livedag")
        assert rv == change["resourceVersion"]
        assert arrived - created < 1.0, f"the DAGRun's creation took {arrived - created:.2f}s"

        # Each state the operator writes arrives too, in order, ending with the run's end.
        states: list[str] = []
        for event, _, data, _ in events:
            if event == "change" and json.loads(data).get("state") not in (None, *states[-1:]):
                states.append(json.loads(data)["state"])
            if states[-1:] == ["Succeeded"]:
                break
        assert states == ["Running", "Succeeded"], states


def test_a_running_trys_log_streams_and_ends_with_the_try(
    operator: OperatorProcess,
    web: str,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(custom, namespace, "logdag", tasks=[task("talk", podTemplate=sim(duration="4s"))])
    create_run(custom, namespace, "logdag-1", "logdag")
    base = f"{web}/api/v1/namespaces/{namespace}/dags/logdag/runs/logdag-1/tasks/talk/tries/1"
    deadline = time.monotonic() + 60
    while httpx2.get(base, timeout=10).json().get("podPhase") != "Running":
        assert time.monotonic() < deadline, "the try's pod never ran"
        time.sleep(0.1)
    with sse(f"{base}/logs/stream") as events:
        lines: list[str] = []
        for event, rv, data, _ in events:
            if event == "line":
                assert rv == str(len(lines))
                lines.append(data)
            elif event == "end":
                # The run succeeded: its pods may be deleted (podGC) as it ends.
                assert json.loads(data) in ("the pod Succeeded", "the pod is gone")
                break
    assert "".join(line + "\n" for line in lines) == KWOK_LOG
    # Then the log is read as usual (the pod's, or the store's once it is gone).
    assert httpx2.get(f"{base}/logs", timeout=10).json()["lines"] == lines
