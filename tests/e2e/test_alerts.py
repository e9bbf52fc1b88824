"""Callbacks against a real HTTP receiver: an aiohttp server started by the test on
127.0.0.1, which the operator (a process on this host) calls. A failing task calls its
webhook once per try with the documented payload; a run past its deadline calls its
callbacks once; a callback that fails changes nothing about the run and is an event."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from kubernetes import client

from airkube.core.rules.callbacks import PAYLOAD_VERSION, notifier_pod_name

from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, events_of, sim, state, task, wait_dag
from .waiting import watch_run


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver:
    """An HTTP server in a thread of the test process that records every POST; a path
    under /fail/ answers 500."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        assert self.started.wait(10), "the receiver did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(request: web.Request) -> web.Response:
            received = Received(request.path, dict(request.headers), await request.json())
            with self.lock:
                self.requests.append(received)
            if request.path.startswith("/fail/"):
                return web.Response(status=500, text="receiver is broken")
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 60) -> list[Received]:
        """The requests to ``path`` once there are ``count``; then none more arrives for
        a while (it is called once, not at least once)."""
        _poll(lambda: len(self.at(path)) >= count, timeout, f"{count} POSTs to {path}")
        settle = time.monotonic() + 3
        while time.monotonic() < settle:
            assert len(self.at(path)) == count, self.at(path)
            time.sleep(0.2)
        return self.at(path)


def _poll(ok: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def test_a_failing_task_calls_its_webhook_once_per_try_with_the_payload(
    operator: OperatorProcess,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    namespace: str,
    receiver: Receiver,
) -> None:
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="alerting-hook"),
        string_data={"url": receiver.url("/failure"), "token": "Bearer s3cret"},
    )
    core.create_namespaced_secret(namespace, secret)
    from_secret = {"secretKeyRef": {"name": "alerting-hook", "key": "url"}}
    token = {"secretKeyRef": {"name": "alerting-hook", "key": "token"}}
    apply_dag(
        custom,
        namespace,
        "alerting",
        defaults={
            "podTemplate": sim(duration="200ms"),
            "onFailure": [
                {
                    "webhook": {
                        "urlFrom": from_secret,
                        "headers": [{"name": "Authorization", "valueFrom": token}],
                    }
                }
            ],
        },
        onRunFailure=[{"webhook": {"url": receiver.url("/slack"), "format": "slack"}}],
        onRunSuccess=[{"webhook": {"url": receiver.url("/never")}}],
        tasks=[
            task(
                "load",
                retries=1,
                retryDelay="1s",
                podTemplate=sim(exit_code="3", message="source table is locked"),
                onRetry=[
                    {
                        "webhook": {
                            "url": receiver.url("/retry"),
                            "headers": [{"name": "X-Team", "value": "data"}],
                        }
                    }
                ],
            ),
        ],
    )
    create_run(custom, namespace, "alerting-1", "alerting")
    run = watch_run(custom, namespace, "alerting-1", finished, timeout=60)
    assert state(run) == "Failed", run["status"]

    (retry,) = receiver.wait("/retry", 1)
    (failure,) = receiver.wait("/failure", 1)
    uid = run["metadata"]["uid"]
    assert failure.body == {
        "version": PAYLOAD_VERSION,
        "event": "TaskFailed",
        "hook": "onFailure",
        "namespace": namespace,
        "dag": "alerting",
        "run": "alerting-1",
        "task": "load",
        "try": 2,
        "state": "Failed",
        "reason": "Error",
        "message": "source table is locked",
        "logicalDate": run["spec"].get("logicalDate") or run["metadata"]["creationTimestamp"],
        "time": run["status"]["tasks"]["load"]["endTime"],
        "link": f"kubectl airkube logs -n {namespace} alerting-1 load --try 2",
        "idempotencyKey": f"{uid}/task/load/2/Failed/onFailure/0",
    }
    assert failure.headers["Idempotency-Key"] == failure.body["idempotencyKey"]
    assert failure.headers["Authorization"] == "Bearer s3cret"
    assert (retry.body["event"], retry.body["try"], retry.body["state"]) == (
        "TaskRetrying",
        1,
        "UpForRetry",
    )
    assert retry.headers["X-Team"] == "data"
    (slack,) = receiver.wait("/slack", 1)
    assert list(slack.body) == ["text"]
    assert "RunFailed" in slack.body["text"]
    assert f"{namespace}/alerting-1" in slack.body["text"]
    assert receiver.at("/never") == []


def test_a_run_past_its_deadline_calls_its_callbacks_once(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    namespace: str,
    receiver: Receiver,
) -> None:
    apply_dag(
        custom,
        namespace,
        "late",
        deadline={
            "reference": "Queued",
            "interval": "2s",
            "callbacks": [
                {"webhook": {"url": receiver.url("/deadline")}},
                {"pod": {"image": "busybox:1.36", "command": ["true"], "payloadEnv": "PAYLOAD"}},
            ],
        },
        tasks=[task("slow", podTemplate=sim(duration="5s"))],
    )
    create_run(custom, namespace, "late-1", "late")
    (call,) = receiver.wait("/deadline", 1, timeout=30)
    assert call.body["event"] == "DeadlineMissed"
    assert call.body["hook"] == "deadline"
    assert call.body["state"] == "Running"
    assert call.body["task"] is None
    assert "2s after it was queued" in call.body["message"]
    run = watch_run(custom, namespace, "late-1", finished, timeout=60)
    assert state(run) == "Succeeded", run["status"]  # the deadline changes nothing
    conditions = {c["type"]: c for c in run["status"].get("conditions") or []}
    assert conditions["DeadlineMissed"]["status"] == "True"
    assert len(receiver.at("/deadline")) == 1
    assert "DeadlineMissed" in {
        e.reason for e in events_of(api, namespace, "late-1", {"DeadlineMissed"})
    }
    key = f"{run['metadata']['uid']}/deadline/deadline/1"
    pod = core.read_namespaced_pod(notifier_pod_name("late-1", key), namespace)
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert '"event": "DeadlineMissed"' in env["PAYLOAD"]
    assert pod.metadata.owner_references[0].uid == run["metadata"]["uid"]


def test_a_failing_callback_does_not_change_the_run_and_is_an_event(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    receiver: Receiver,
) -> None:
    down = f"http://127.0.0.1:{_free_port()}/nobody"
    apply_dag(
        custom,
        namespace,
        "noisy",
        defaults={
            "podTemplate": sim(duration="200ms"),
            "onSuccess": [
                {"webhook": {"url": receiver.url("/fail/success")}},
                {"webhook": {"url": down}},
            ],
        },
        tasks=[task("a"), task("b", "a")],
    )
    create_run(custom, namespace, "noisy-1", "noisy")
    run = watch_run(custom, namespace, "noisy-1", finished, timeout=60)
    assert state(run) == "Succeeded", run["status"]
    assert run["status"]["progress"] == "2/2"

    def failed_notes() -> list[str]:
        return [
            e.note for e in events_of(api, namespace, "noisy-1") if e.reason == "CallbackFailed"
        ]

    # Five tries each, 1+2+4+8 s apart by default.
    _poll(lambda: len(failed_notes()) == 4, 60, "4 CallbackFailed events")
    notes = failed_notes()
    assert sum("HTTP 500" in n for n in notes) == 2, notes
    assert sum("127.0.0.1" in n and "HTTP 500" not in n for n in notes) == 2, notes
    assert all("after 5 tries" in n for n in notes), notes
    assert len(receiver.at("/fail/success")) == 10  # 5 tries of each task's call
    again = watch_run(custom, namespace, "noisy-1", finished, timeout=5)
    assert state(again) == "Succeeded"


def test_a_bad_callback_makes_the_dag_not_ready_naming_it(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "badhook",
        onRunFailure=[{"webhook": {"url": "http://receiver.example/x", "format": "slack"}}],
        tasks=[task("a", onFailure=[{"webhook": {"url": "mailto:ops@example.com"}}])],
    )

    def not_ready(d: dict[str, Any]) -> bool:
        conditions = (d.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "False" for c in conditions)

    dag = wait_dag(custom, namespace, "badhook", not_ready)
    (ready,) = [c for c in dag["status"]["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"] == (
        "task \"a\": onFailure[0].webhook.url: url 'mailto:ops@example.com' is not an "
        "http:// or https:// URL with a host"
    )
