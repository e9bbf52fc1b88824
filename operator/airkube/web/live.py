"""Live state for open pages: one shared watch per resource kind and namespace (DAGs,
DAGRuns, airkube's task pods), fanned out to any number of subscribers (the SSE streams of
the open browser tabs), never a watch per tab.

The :class:`Hub` runs each watch in a thread of its own (the kubernetes client is
blocking) and hands what it sees to the event loop, where every subscriber has a bounded
queue: a subscriber that falls behind (a slow or stalled tab) loses its queue and gets one
:data:`RESYNC` instead, so memory stays bounded whatever the tabs do. A watch that ends or
breaks resumes from the last resourceVersion it saw; one whose resourceVersion is too old
(410 GoneError) lists again and tells the namespace's subscribers to resync, since what changed
in between is unknown.

Each change's id is its object's resourceVersion: the last few hundred changes of each
namespace are kept, so a browser that reconnects with ``Last-Event-ID`` gets what it
missed, or a resync when its id is no longer kept. Nothing here reads an object's content
for a page: a change only says *what* changed (kind, name, DAG, run, task, state), and the
page fetches its own small fragment through the request's own service (and credentials).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from airkube.core.pods import (
    ANNOTATION_DAG,
    ANNOTATION_RUN,
    LABEL_DAG,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    LABEL_TASK,
    LABEL_TRY,
    MANAGED_BY,
    label_value,
)

log = logging.getLogger(__name__)

DAG: Final = "DAG"
DAGRUN: Final = "DAGRun"
POD: Final = "Pod"
KINDS: Final = (DAG, DAGRUN, POD)

QUEUE_SIZE = 256
"""Changes waiting for one subscriber before it is told to resync instead."""
RING_SIZE = 512
"""Changes kept per namespace for browsers that reconnect (``Last-Event-ID``)."""
WATCH_SECONDS = 240
"""How long one watch request lasts before it is renewed from its resourceVersion."""
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Waits before re-watching after a failure, growing while the failures go on."""


class GoneError(Exception):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


class WatchSource(Protocol):
    """Where the hub's watches come from: the Kubernetes API, or a fake in tests."""

    def list_version(self, kind: str, namespace: str) -> str:
        """The resourceVersion of a current list of ``kind`` in ``namespace``."""
        ...

    def watch(
        self, kind: str, namespace: str, resource_version: str, timeout_seconds: int
    ) -> Iterator[dict[str, Any]]:
        """The watch events (``{"type": ..., "object": {...}}``) after ``resource_version``;
        raises :class:`GoneError` when that version is too old. Ends after ``timeout_seconds``."""
        ...

    def close(self) -> None:
        """Unblock the watches in progress (the hub is stopping)."""
        ...


@dataclass(frozen=True)
class Change:
    """One object changed: what a page needs to know to refetch its fragment."""

    id: str
    """The object's resourceVersion: the SSE event's id."""
    kind: str
    type: str
    """ADDED, MODIFIED or DELETED."""
    namespace: str
    name: str
    dag: str | None = None
    run: str | None = None
    task: str | None = None
    """A pod's task (its label value)."""
    try_number: int | None = None
    state: str | None = None
    """A DAGRun's state, a pod's phase."""

    def data(self) -> str:
        fields = {
            "kind": self.kind,
            "type": self.type,
            "namespace": self.namespace,
            "name": self.name,
            "dag": self.dag,
            "run": self.run,
            "task": self.task,
            "try": self.try_number,
            "state": self.state,
            "resourceVersion": self.id,
        }
        return json.dumps({k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class Resync:
    """What changed is unknown (a gap in the watch, or the subscriber fell behind):
    fetch everything shown again."""

    reason: str


RESYNC_BEHIND = Resync("this stream fell behind")
RESYNC_UNKNOWN_ID = Resync("the last event seen is no longer kept")
STOPPING = Resync("the server is stopping")
"""Given to every subscriber by :meth:`Hub.close_streams`: its stream ends (unsent)."""


def change_of(kind: str, event: dict[str, Any]) -> Change | None:
    """The change a watch event reports; None for bookmarks and objects without a name."""
    kind_type = str(event.get("type") or "")
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    name, rv = meta.get("name"), meta.get("resourceVersion")
    if kind_type not in ("ADDED", "MODIFIED", "DELETED") or not name or not rv:
        return None
    namespace = str(meta.get("namespace") or "")
    status = obj.get("status") or {}
    if kind == DAG:
        return Change(rv, kind, kind_type, namespace, name, dag=name)
    if kind == DAGRUN:
        dag = ((obj.get("spec") or {}).get("dagRef") or {}).get("name")
        return Change(rv, kind, kind_type, namespace, name, dag, name, state=status.get("state"))
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    try_label = str(labels.get(LABEL_TRY) or "")
    return Change(
        rv,
        kind,
        kind_type,
        namespace,
        name,
        dag=annotations.get(ANNOTATION_DAG) or labels.get(LABEL_DAG),
        run=annotations.get(ANNOTATION_RUN) or labels.get(LABEL_RUN),
        task=labels.get(LABEL_TASK),
        try_number=int(try_label) if try_label.isdigit() else None,
        state=status.get("phase"),
    )


@dataclass(frozen=True)
class Filter:
    """Which changes a subscriber wants: one namespace, and optionally one DAG, run, task."""

    namespace: str
    dag: str | None = None
    run: str | None = None
    task: str | None = None
    kinds: frozenset[str] = frozenset(KINDS)

    def matches(self, c: Change) -> bool:
        if c.namespace != self.namespace or c.kind not in self.kinds:
            return False
        if self.dag is not None and c.dag != self.dag:
            return False
        if self.run is not None and c.run != self.run:
            return False
        # The task narrows pods only: its run's changes are the task's changes too.
        return self.task is None or c.task is None or c.task == label_value(self.task)


Item = Change | Resync


class Subscription:
    """One subscriber's bounded queue of changes (and resyncs)."""

    def __init__(self, filter: Filter, size: int) -> None:
        self.filter = filter
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        self.overflows = 0

    def offer(self, item: Item) -> None:
        """Queue ``item``; when the queue is full, replace all it holds by one resync."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflows += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC_BEHIND)

    def close(self) -> None:
        """Make :data:`STOPPING` the next item, whatever is queued."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(STOPPING)

    async def get(self) -> Item:
        return await self.queue.get()


def follow_kind(
    source: WatchSource,
    kind: str,
    namespace: str,
    emit: Callable[[Item], None],
    stopping: threading.Event,
    *,
    watch_seconds: int = WATCH_SECONDS,
    retry: tuple[float, ...] = RETRY_SECONDS,
) -> None:
    """List once, then watch ``kind`` in ``namespace`` until ``stopping`` is set, emitting
    each change: resume from the last resourceVersion when a watch ends or breaks; list
    again (and emit a :class:`Resync`) when it is GoneError."""
    version: str | None = None
    failures = 0
    while not stopping.is_set():
        try:
            if version is None:
                version = source.list_version(kind, namespace)
                # Whoever subscribed before this list (a page opened as the namespace's
                # watches started, or during a gap after a 410) may have missed changes.
                emit(Resync(f"the {kind} watch listed at {version}"))
            for event in source.watch(kind, namespace, version, watch_seconds):
                if stopping.is_set():
                    return
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise GoneError(str(status.get("message") or "410 GoneError"))
                    raise RuntimeError(f"watch error: {status.get('message') or status}")
                found = ((event.get("object") or {}).get("metadata") or {}).get("resourceVersion")
                if found:
                    version = str(found)
                change = change_of(kind, event)
                if change is not None:
                    emit(change)
            failures = 0
        except GoneError as e:
            log.info("the %s watch in %s: %s; listing again", kind, namespace, e)
            version = None
        except Exception as e:
            if stopping.is_set():  # its connection was shut down: the hub is stopping
                return
            # Broken connection, a refusal, a server restart: retry from the same version.
            wait = retry[min(failures, len(retry) - 1)]
            failures += 1
            log.warning("the %s watch in %s failed (%s); retrying in %ss", kind, namespace, e, wait)
            if stopping.wait(wait):
                return


@dataclass
class _Scope:
    """The watches of one namespace, and its recent changes."""

    ring: deque[Change]
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    subscribers: set[Subscription] = field(default_factory=set)


class Hub:
    """The shared watches and their subscribers. :meth:`start` and :meth:`subscribe` are
    called on the event loop; the watches run in threads and hand changes to the loop."""

    def __init__(
        self,
        source: WatchSource,
        *,
        queue_size: int = QUEUE_SIZE,
        ring_size: int = RING_SIZE,
        heartbeat: float = 15.0,
        watch_seconds: int = WATCH_SECONDS,
        retry: tuple[float, ...] = RETRY_SECONDS,
    ) -> None:
        self.source = source
        self.queue_size = queue_size
        self.ring_size = ring_size
        self.heartbeat = heartbeat
        """Seconds between the comment lines that keep an idle stream open through proxies."""
        self.watch_seconds = watch_seconds
        self.retry = retry
        self.scopes: dict[str, _Scope] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        """The server is stopping: streams end (see :meth:`close_streams`)."""

    def start(self, namespaces: tuple[str, ...] = ()) -> None:
        """Begin (on the running event loop), watching ``namespaces`` at once."""
        self.loop = asyncio.get_running_loop()
        for ns in namespaces:
            self.ensure(ns)

    def close_streams(self) -> None:
        """End every open stream (on the event loop). A server stops only once its open
        responses have ended, and a stream never ends by itself: call this when the
        server is told to stop (:meth:`close_streams_threadsafe` from a signal handler)."""
        self.closing = True
        for scope in self.scopes.values():
            for sub in scope.subscribers:
                sub.close()

    def close_streams_threadsafe(self) -> None:
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                self.loop.call_soon_threadsafe(self.close_streams)

    def stop(self) -> None:
        for scope in self.scopes.values():
            scope.stopping.set()
        self.source.close()
        for scope in self.scopes.values():
            for t in scope.threads:
                t.join(timeout=5)
        self.scopes.clear()

    def ensure(self, namespace: str) -> _Scope:
        """The namespace's watches, started on its first subscriber."""
        scope = self.scopes.get(namespace)
        if scope is None:
            scope = self.scopes[namespace] = _Scope(deque(maxlen=self.ring_size))
            for kind in KINDS:
                t = threading.Thread(
                    target=self._run,
                    args=(kind, namespace, scope),
                    name=f"watch-{kind}-{namespace}",
                    daemon=True,
                )
                scope.threads.append(t)
                t.start()
        return scope

    def _run(self, kind: str, namespace: str, scope: _Scope) -> None:
        loop = self.loop
        assert loop is not None, "Hub.start first"

        def emit(item: Item) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the server stopped
                loop.call_soon_threadsafe(self._deliver, namespace, item)

        follow_kind(
            self.source,
            kind,
            namespace,
            emit,
            scope.stopping,
            watch_seconds=self.watch_seconds,
            retry=self.retry,
        )

    def _deliver(self, namespace: str, item: Item) -> None:
        scope = self.scopes.get(namespace)
        if scope is None:
            return
        if isinstance(item, Resync):
            scope.ring.clear()  # no resuming across a gap
            for sub in scope.subscribers:
                sub.offer(item)
            return
        scope.ring.append(item)
        for sub in scope.subscribers:
            if sub.filter.matches(item):
                sub.offer(item)

    def subscribe(self, filter: Filter, last_id: str | None = None) -> Subscription:
        """A new subscriber; with ``last_id`` (the last change it saw), the changes after
        it are queued first, or a resync when it is no longer kept."""
        scope = self.ensure(filter.namespace)
        sub = Subscription(filter, self.queue_size)
        if last_id:
            ids = [c.id for c in scope.ring]
            if last_id in ids:
                for c in list(scope.ring)[ids.index(last_id) + 1 :]:
                    if filter.matches(c):
                        sub.offer(c)
            else:
                sub.offer(RESYNC_UNKNOWN_ID)
        scope.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        scope = self.scopes.get(sub.filter.namespace)
        if scope is not None:
            scope.subscribers.discard(sub)

    def subscribers(self) -> int:
        return sum(len(s.subscribers) for s in self.scopes.values())


def sse(item: Item) -> str:
    """``item`` as a server-sent event: ``change`` with its id, or ``resync``."""
    if isinstance(item, Resync):
        return f"event: resync\ndata: {json.dumps({'reason': item.reason})}\n\n"
    return f"id: {item.id}\nevent: change\ndata: {item.data()}\n\n"


class KubeWatchSource:
    """:class:`WatchSource` through a kubernetes ``ApiClient``: DAGs and DAGRuns, and the
    pods labelled ``app.kubernetes.io/managed-by=airkube``. Objects are read as JSON (no
    model classes: a pod's model costs more than the rest of its handling)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        # Same credentials, a connection pool of its own: the watches hold their
        # connections for minutes, and the pages' calls must not wait behind them.
        own = client.ApiClient(api_client.configuration)
        self.custom = client.CustomObjectsApi(own)
        self.core = client.CoreV1Api(own)
        self._open: set[Any] = set()
        self._lock = threading.Lock()

    def _call(self, kind: str, namespace: str, **kwargs: Any) -> Any:
        from airkube.api import GROUP, VERSION

        if kind == POD:
            return self.core.list_namespaced_pod(
                namespace,
                label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY}",
                _preload_content=False,
                **kwargs,
            )
        plural = "dags" if kind == DAG else "dagruns"
        return self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, _preload_content=False, **kwargs
        )

    def list_version(self, kind: str, namespace: str) -> str:
        # One item is enough: the list's resourceVersion is where the watch starts, and
        # nothing is cached here (pages read what they show themselves).
        response = self._call(kind, namespace, limit=1, _request_timeout=30)
        body = json.loads(response.data)
        return str(body["metadata"]["resourceVersion"])

    def watch(
        self, kind: str, namespace: str, resource_version: str, timeout_seconds: int
    ) -> Iterator[dict[str, Any]]:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.watch.watch import iter_resp_lines

        try:
            response = self._call(
                kind,
                namespace,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _request_timeout=(10, timeout_seconds + 30),
            )
        except ApiException as e:
            if e.status == 410:
                raise GoneError(str(e.reason)) from None
            raise
        with self._lock:
            self._open.add(response)
        try:
            for line in iter_resp_lines(response):
                if line.strip():
                    yield json.loads(line)
        finally:
            with self._lock:
                self._open.discard(response)
            response.release_conn()

    def close(self) -> None:
        with self._lock:
            for response in self._open:
                with contextlib.suppress(Exception):
                    response.shutdown()  # urllib3 2.3+: unblocks a read in another thread
