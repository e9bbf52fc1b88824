"""The live streams (Server-Sent Events, ``text/event-stream``):

- ``GET /api/v1/namespaces/{namespace}/watch``: the namespace's changes to DAGs, DAGRuns
  and task pods, from the shared watches of :mod:`airkube.web.live`, narrowed by ``dag``,
  ``run``, ``task`` and ``kind``. Each ``change`` event's id is the object's
  resourceVersion: a browser that reconnects sends it back (``Last-Event-ID``) and gets
  what it missed, or a ``resync`` event when that is no longer known.
- ``GET /api/v1/namespaces/{namespace}/dags/{dag}/runs/{run}/tasks/{task}/tries/{n}/logs/stream``:
  a running try's log, a ``line`` event per line (its id the line's index, so a reconnect
  goes on where it stopped), then one ``end`` event when the try has ended.

Both check first, through the request's own service (its credentials), that the caller
may read the namespace; both send a comment line every ``heartbeat`` seconds so proxies
keep an idle stream open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from airkube.core.model.observed import PodPhase
from airkube.web import context
from airkube.web.api import TRY
from airkube.web.data import DataError
from airkube.web.live import KINDS, POD, STOPPING, Filter, Hub, Subscription, sse
from airkube.web.service import BadRequestError, Service

router = APIRouter(prefix="/api/v1")
RETRY_MS = 1000
"""How soon a browser reconnects a dropped stream."""
POD_POLL_SECONDS = 2.0
"""How often a log stream rereads its pod when no change to it was heard."""
ENDED_PHASES = (PodPhase.SUCCEEDED, PodPhase.FAILED)
DRAIN_SECONDS = 1.0
"""After the try ended, how long a log stream still waits for lines before it ends."""
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def hub_of(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if hub is None:
        raise DataError(503, "live updates are off: this server watches no cluster")
    return hub


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=HEADERS)


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)


def _kinds(kind: list[str]) -> frozenset[str]:
    asked = {k.strip() for item in kind for k in item.split(",") if k.strip()}
    unknown = asked - set(KINDS)
    if unknown:
        raise BadRequestError(f"kind {sorted(unknown)[0]!r} is not watched: use {', '.join(KINDS)}")
    return frozenset(asked or KINDS)


@router.get(
    "/namespaces/{namespace}/watch",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def watch(
    request: Request,
    namespace: str,
    dag: str | None = None,
    run: str | None = None,
    task: str | None = None,
    kind: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: a ``change`` per DAG, DAGRun or task pod that changed in the
    namespace (``kind``: any of DAG, DAGRun, Pod, repeated or comma-separated), a
    ``resync`` when what changed is unknown (fetch what is shown again)."""
    hub = hub_of(request)
    filter = Filter(namespace, dag, run, task, _kinds(kind))
    await _in_thread(context.service(request).cluster.check_watch, namespace)
    sub = hub.subscribe(filter, last_event_id)
    return event_stream(_changes(hub, sub))


async def _changes(hub: Hub, sub: Subscription) -> AsyncIterator[str]:
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            try:
                item = await asyncio.wait_for(sub.get(), hub.heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if item is STOPPING:
                return
            yield sse(item)
    finally:
        hub.unsubscribe(sub)


@router.get(
    TRY + "/logs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def follow_log(
    request: Request,
    namespace: str,
    dag: str,
    run: str,
    task: str,
    n: int,
    start: Annotated[int, Query(ge=0, description="Skip the lines before this index.")] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: a ``line`` per log line of the try's pod while it runs (data:
    the line's text), then ``end`` (data: why) once the try has ended or its pod is gone:
    the stored log is then read from ``.../logs``."""
    service = context.service(request)
    await _in_thread(service.get_try, namespace, dag, run, task, n)  # 404s clearly
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if last_event_id and last_event_id.isdigit():
        start = max(start, int(last_event_id) + 1)
    follower = _LogFollower(service, hub, namespace, run, task, n, start)
    return event_stream(follower.events())


class _LogFollower:
    """Follows one try's pod log: the pod's log request, read in a thread; when it ends
    while the pod still runs (the node closed it), waits for the pod to change and reads
    again, skipping the lines already sent."""

    def __init__(
        self,
        service: Service,
        hub: Hub | None,
        namespace: str,
        run: str,
        task: str,
        n: int,
        start: int,
    ) -> None:
        self.service = service
        self.hub = hub
        self.namespace, self.run, self.task, self.n = namespace, run, task, n
        self.sent = start
        self.heartbeat = hub.heartbeat if hub is not None else 15.0

    def _pod(self) -> dict[str, Any] | None:
        cluster = self.service.cluster
        body = cluster.get_run(self.namespace, self.run)
        if body is None:
            return None
        return cluster.try_pod(self.namespace, self.run, self.task, self.n, body["metadata"]["uid"])

    async def events(self) -> AsyncIterator[str]:
        sub = (
            self.hub.subscribe(
                Filter(self.namespace, run=self.run, task=self.task, kinds=frozenset({POD}))
            )
            if self.hub is not None
            else None
        )
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while not self._stopping():
                pod = await _in_thread(self._pod)
                phase = None if pod is None else (pod.get("status") or {}).get("phase")
                if pod is None or phase in ENDED_PHASES:
                    why = "the pod is gone" if pod is None else f"the pod {phase}"
                    yield f"event: end\ndata: {json.dumps(why)}\n\n"
                    return
                if phase == PodPhase.RUNNING:
                    async for event in self._read(pod["metadata"]["name"], sub):
                        yield event
                async for beat in self._wait(sub):
                    yield beat
        finally:
            if sub is not None and self.hub is not None:
                self.hub.unsubscribe(sub)

    def _stopping(self) -> bool:
        return self.hub is not None and self.hub.closing

    def _ended(self) -> bool:
        pod = self._pod()
        return pod is None or (pod.get("status") or {}).get("phase") in ENDED_PHASES

    async def _changed(self, sub: Subscription | None) -> None:
        """Until the pod changes, or a while passed (then its state is read anyway)."""
        if sub is None:
            await asyncio.sleep(POD_POLL_SECONDS)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.get(), POD_POLL_SECONDS)

    async def _read(self, pod: str, sub: Subscription | None) -> AsyncIterator[str]:
        """The log's lines past those sent, until its request ends, or until the try ended
        and no line came for DRAIN_SECONDS (some nodes keep a finished log open)."""
        try:
            follow = await _in_thread(self.service.cluster.follow_pod_log, self.namespace, pod)
        except DataError:
            return  # not readable yet (or any more): the pod's state decides what next
        index, pending = 0, b""
        reading: asyncio.Future[bytes] | None = None
        changed: asyncio.Future[None] | None = None
        ended = False
        try:
            while True:
                if reading is None:
                    reading = asyncio.ensure_future(_in_thread(follow.read))
                if changed is None and not ended:
                    changed = asyncio.ensure_future(self._changed(sub))
                waits: set[asyncio.Future[Any]] = {reading}
                if changed is not None:
                    waits.add(changed)
                done, _ = await asyncio.wait(
                    waits,
                    timeout=DRAIN_SECONDS if ended else self.heartbeat,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if changed is not None and changed in done:
                    changed = None
                    if self._stopping():
                        return
                    ended = await _in_thread(self._ended)
                if reading in done:
                    chunk, reading = reading.result(), None
                    if not chunk:
                        break
                    *lines, pending = (pending + chunk).split(b"\n")
                    out = []
                    for line in lines:
                        if index >= self.sent:
                            out.append(_line_event(index, line))
                            self.sent = index + 1
                        index += 1
                    if out:
                        yield "".join(out)
                elif not done:
                    if ended:
                        break
                    yield ": heartbeat\n\n"
            if pending and index >= self.sent:  # a last line without its newline
                yield _line_event(index, pending)
                self.sent = index + 1
        finally:
            follow.close()  # ends a read still blocked in its thread
            for waiting in (reading, changed):
                if waiting is not None:
                    waiting.cancel()

    async def _wait(self, sub: Subscription | None) -> AsyncIterator[str]:
        await self._changed(sub)
        yield ": heartbeat\n\n"


def _line_event(index: int, line: bytes) -> str:
    text = line.decode(errors="replace").rstrip("\r").replace("\r", "")
    return f"id: {index}\nevent: line\ndata: {text}\n\n"
