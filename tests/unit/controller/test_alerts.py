"""Calling callbacks (controller.alerts): webhooks against a real aiohttp server in the
test's loop (retried with backoff when the answer says so, once per key), notifier pods
through the fake API server, and the run reconciler's hooks: a pass's transitions call
their callbacks, a deadline is recorded in the status once and then called."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from airkube.api.callbacks import Callback
from airkube.controller.alerts import Alerts, AlertSettings
from airkube.core.rules.callbacks import Hook, Notice, RunFacts, notifier_pod_name, payload
from unit.controller.fakes import START, FakeKube, run_body
from unit.controller.test_runs import NS, Scene

RUN = RunFacts(NS, "r1", "uid-1", "etl", logical_date=START, queued_at=START)
REF = {
    "apiVersion": "airkube.io/v1alpha1",
    "kind": "DAGRun",
    "metadata": {"name": "r1", "namespace": NS, "uid": "uid-1"},
}
FAST = AlertSettings(attempts=3, backoff=0.01, timeout=2)


@asynccontextmanager
async def receiver(answers: Callable[[int], int]) -> AsyncIterator[tuple[str, list[Any]]]:
    """A server whose n-th request (from 0) is answered ``answers(n)``; yields its URL and
    the requests (headers, body)."""
    got: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.json()))
        return web.Response(status=answers(len(got) - 1), text="nope")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", got
    finally:
        await runner.cleanup()


def notice(callback: dict[str, Any], key: str = "uid-1/task/a/1/Failed/onFailure/0") -> Notice:
    body = payload(
        RUN,
        Hook.ON_FAILURE,
        key,
        state="Failed",
        reason="Error",
        message="boom",
        time=START,
        task="a",
        try_number=1,
    )
    return Notice(Hook.ON_FAILURE, Callback.model_validate(callback), key, body)


def test_a_webhook_answering_5xx_is_tried_again_until_it_takes_it() -> None:
    kube = FakeKube()

    async def go() -> list[Any]:
        async with receiver(lambda n: 503 if n < 2 else 204) as (url, got):
            alerts = Alerts(kube.as_kube(), FAST)
            alerts.send(REF, RUN, [notice({"webhook": {"url": url}})])
            await alerts.idle()
            assert alerts.delivered == {"onFailure": 1}
            await alerts.close()
            return got

    got = asyncio.run(go())
    assert len(got) == 3
    assert got[0][0]["Idempotency-Key"] == "uid-1/task/a/1/Failed/onFailure/0"
    assert got[0][1]["event"] == "TaskFailed"
    assert kube.events == []


def test_a_webhook_refusing_for_good_is_tried_once_and_is_an_event() -> None:
    kube = FakeKube()

    async def go() -> tuple[list[Any], Alerts]:
        async with receiver(lambda n: 400) as (url, got):
            alerts = Alerts(kube.as_kube(), FAST)
            alerts.send(REF, RUN, [notice({"webhook": {"url": url, "format": "slack"}})])
            await alerts.idle()
            await alerts.close()
            return got, alerts

    got, alerts = asyncio.run(go())
    assert len(got) == 1
    assert list(got[0][1]) == ["text"]
    assert alerts.failures == {"onFailure": 1}
    (event,) = kube.events
    assert (event["type"], event["reason"]) == ("Warning", "CallbackFailed")
    assert 'onFailure webhook of task "a" try 1 failed' in event["note"]
    assert "answered HTTP 400: nope (after 1 tries)" in event["note"]
    assert "/hook" not in event["note"]  # a URL's path may be a secret


def test_an_unreachable_webhook_fails_after_its_tries() -> None:
    kube = FakeKube()

    async def go() -> Alerts:
        async with receiver(lambda n: 204) as (url, _):
            pass  # stopped: nobody listens there any more
        alerts = Alerts(kube.as_kube(), FAST)
        alerts.send(REF, RUN, [notice({"webhook": {"url": url}})])
        await alerts.idle()
        await alerts.close()
        return alerts

    alerts = asyncio.run(go())
    assert alerts.failures == {"onFailure": 1}
    assert "(after 3 tries)" in kube.events[0]["note"]


def test_the_same_call_sent_twice_is_made_once() -> None:
    kube = FakeKube()

    async def go() -> list[Any]:
        async with receiver(lambda n: 204) as (url, got):
            alerts = Alerts(kube.as_kube(), FAST)
            alerts.send(REF, RUN, [notice({"webhook": {"url": url}})])
            alerts.send(REF, RUN, [notice({"webhook": {"url": url}})])
            alerts.send(REF, RUN, [notice({"webhook": {"url": url}}, key="other")])
            await alerts.idle()
            await alerts.close()
            return got

    assert [g[1]["idempotencyKey"] for g in asyncio.run(go())] == [
        "uid-1/task/a/1/Failed/onFailure/0",
        "other",
    ]


def test_a_notifier_pod_is_created_once_by_its_name() -> None:
    kube = FakeKube()
    pod = notice({"pod": {"image": "me/notify:1"}})

    async def go() -> None:
        for _ in range(2):  # two processes (a restart): the second finds it created
            alerts = Alerts(kube.as_kube(), FAST)
            alerts.send(REF, RUN, [pod])
            await alerts.idle()
            await alerts.close()

    asyncio.run(go())
    assert kube.names("pods", NS) == [notifier_pod_name("r1", pod.key)]
    assert kube.events == []


def hook(path: str) -> dict[str, Any]:
    return {"webhook": {"url": f"http://receiver.invalid/{path}"}}


def recording(scene: Scene) -> list[Notice]:
    sent: list[Notice] = []
    scene.reconciler.alerts.send = lambda ref, run, notices: sent.extend(notices)  # type: ignore[method-assign]
    return sent


def test_a_pass_calls_the_callbacks_of_its_transitions_once(tmp_path: Path) -> None:
    spec = {
        "defaults": {"image": "busybox", "onSuccess": [hook("ok")], "onFailure": [hook("fail")]},
        "onRunFailure": [hook("run")],
        "tasks": [{"name": "a"}, {"name": "b", "dependsOn": ["a"]}],
    }
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    sent = recording(scene)
    scene.reconcile("r1")
    assert sent == []
    scene.set_phase(scene.pod_of("a"), "Succeeded", 0)
    scene.reconcile("r1")
    scene.reconcile("r1")  # nothing new
    scene.set_phase(scene.pod_of("b"), "Failed", 1)
    scene.reconcile("r1")
    assert [(n.hook, n.payload["task"], n.payload["try"]) for n in sent] == [
        (Hook.ON_SUCCESS, "a", 1),
        (Hook.ON_FAILURE, "b", 1),
        (Hook.ON_RUN_FAILURE, None, None),
    ]
    assert scene.status("r1")["state"] == "Failed"


def test_a_deadline_wakes_the_run_then_is_recorded_and_called_once(tmp_path: Path) -> None:
    spec = {
        "defaults": {"image": "busybox"},
        "deadline": {"reference": "Queued", "interval": "10m", "callbacks": [hook("late")]},
        "tasks": [{"name": "a"}],
    }
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    sent = recording(scene)
    scene.reconcile("r1")
    assert scene.wakeups.delays[(NS, "r1")] == 600
    assert sent == []
    scene.set_phase(scene.pod_of("a"), "Running")
    scene.reconcile("r1")
    scene.clock.advance(minutes=10)
    scene.reconcile("r1")
    scene.reconcile("r1")
    (call,) = sent
    assert (call.hook, call.payload["event"], call.payload["state"]) == (
        Hook.DEADLINE,
        "DeadlineMissed",
        "Running",
    )
    conditions = {c["type"]: c for c in scene.status("r1")["conditions"]}
    assert conditions["DeadlineMissed"]["status"] == "True"
    assert "10m after it was queued" in conditions["DeadlineMissed"]["message"]
    assert [e["reason"] for e in scene.kube.events] == ["DeadlineMissed"]
    scene.set_phase(scene.pod_of("a"), "Succeeded", 0)
    scene.reconcile("r1")
    status = scene.status("r1")
    assert status["state"] == "Succeeded"  # the deadline changes nothing
    assert "DeadlineMissed" in {c["type"] for c in status["conditions"]}


def test_a_restarted_operator_calls_the_recent_transitions_again_with_the_same_keys(
    tmp_path: Path,
) -> None:
    spec = {
        "defaults": {"image": "busybox", "onFailure": [hook("fail")]},
        "onRunFailure": [hook("run")],
        "tasks": [{"name": "a"}],
    }
    scene = Scene(tmp_path, spec, run_body("r1", "etl"))
    sent = recording(scene)
    scene.reconcile("r1")
    scene.set_phase(scene.pod_of("a"), "Failed", 1)
    scene.reconcile("r1")
    first = [n.key for n in sent]
    assert len(first) == 2
    # A new process: nothing in memory, the DAG version read from the database.
    scene.reconciler.memory.clear()
    scene.reconciler.specs.clear()
    sent.clear()
    scene.reconcile("r1")
    assert [n.key for n in sent] == first
    # Long after, nothing is called again.
    scene.reconciler.memory.clear()
    sent.clear()
    scene.clock.advance(hours=2)
    scene.reconcile("r1")
    assert sent == []
