"""Capturing task logs: when a try ends, its container log goes to the log store before
pod GC may delete its pod.

The run reconciler calls :meth:`LogCapture.track` with a run's pods after each pass, and
asks :meth:`LogCapture.collectable` which of the pods pod GC wants may go. A capture runs
in the background (at most ``concurrency`` at once), never in a pass: it streams the log
through :class:`airkube.core.logs.LogCap` (head and tail kept), puts it in the store,
then records in the metadata database how it ended (Stored, Missing, Failed). A try is
*settled* once that record is written (or, with the database unreachable, once this
process gave up): only then may pod GC delete its pod, and the run is woken to do so.

After a restart nothing is in memory: the settled tries of a run are read from the
database the first time the run is tracked, so a try whose log was not stored yet (the
operator was killed in between) is captured then, if its pod still exists.

A failure never fails a task: it is retried a few times with backoff, then recorded as
Failed, posted as a Warning event on the run, and counted (:attr:`LogCapture.failures`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from kubernetes.client.exceptions import ApiException

from airkube.api.dagrun import TaskStatus
from airkube.core.logs import LogCap, LogKey, LogState, logs_to_capture
from airkube.core.model.observed import ObservedPod
from airkube.core.pods import CONTAINER_NAME
from airkube.kube.apply import Kube, api_message
from airkube.logstore import LogStore, LogStoreError
from airkube.store.errors import StoreError
from airkube.store.records import TaskLogRecord
from airkube.store.repository import Store

from . import metrics
from .informer import Key

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
RETRY_DELAYS = (1.0, 3.0, 9.0)
"""Seconds between the tries of one capture; after the last, it gives up (Failed)."""
READ_TIMEOUT_S = 60

TryId = tuple[str, int]


@dataclass
class _RunLogs:
    settled: set[TryId] = field(default_factory=set)
    running: set[TryId] = field(default_factory=set)
    loaded: bool = False


class LogCapture:
    def __init__(
        self,
        *,
        kube: Kube,
        store: Store,
        logstore: LogStore,
        db: Callable[..., Awaitable[Any]],
        wake_after: Callable[[Key, float], None],
        post_warning: Callable[[Mapping[str, Any], str, str, str], Awaitable[None]],
        clock: Callable[[], datetime],
        cap: int,
        concurrency: int = 4,
    ) -> None:
        self.kube = kube
        self.store = store
        self.logstore = logstore
        self.db = db
        self.wake_after = wake_after
        self.post_warning = post_warning
        self.clock = clock
        self.cap = cap
        self.slots = asyncio.Semaphore(concurrency)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="airkube-logs")
        self.runs: dict[str, _RunLogs] = {}
        """By run uid."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.stored = 0
        self.failures = 0
        """Captures that gave up (for metrics)."""

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def forget(self, uid: str | None) -> None:
        """The run is gone (its pods with it)."""
        if uid is not None:
            self.runs.pop(uid, None)

    async def track(
        self,
        key: Key,
        run: Mapping[str, Any],
        dag: str,
        uid: str,
        pods: Iterable[ObservedPod],
        tasks: Mapping[str, TaskStatus],
    ) -> None:
        """Start the captures due among ``pods`` (tries ended, not settled, not running)."""
        state = await self._state(key, uid)
        if state is None:
            return
        for pod in logs_to_capture(pods, tasks, state.settled | state.running):
            try_id = (pod.task, pod.try_number)
            state.running.add(try_id)
            logkey = LogKey(key[0], dag, key[1], pod.task, pod.try_number)
            task = asyncio.create_task(
                self._capture(key, run, uid, pod, logkey), name=f"log-{pod.name}"
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def busy(self, uid: str | None) -> bool:
        """Whether a capture of the run's logs is under way (its pods must stay)."""
        state = self.runs.get(uid or "")
        return state is not None and bool(state.running)

    def collectable(self, uid: str, pods: Iterable[ObservedPod]) -> tuple[list[str], bool]:
        """Of the pods pod GC wants to delete, those whose log capture settled; and whether
        some were held back (the run is woken when their capture settles)."""
        state = self.runs.get(uid)
        ok: list[str] = []
        held = False
        for pod in pods:
            if state is not None and state.loaded and (pod.task, pod.try_number) in state.settled:
                ok.append(pod.name)
            else:
                held = True
        return ok, held

    async def _state(self, key: Key, uid: str) -> _RunLogs | None:
        state = self.runs.setdefault(uid, _RunLogs())
        if state.loaded:
            return state
        try:
            logs = await self.db(partial(self.store.task_logs, uid=uid), key[0], key[1])
        except StoreError as e:
            log.warning("run %s/%s: cannot read which logs are stored: %s", key[0], key[1], e)
            self.wake_after(key, 5)
            return None
        state.settled.update((x.task_name, x.try_number) for x in logs)
        state.loaded = True
        return state

    async def _capture(
        self, key: Key, run: Mapping[str, Any], uid: str, pod: ObservedPod, logkey: LogKey
    ) -> None:
        try_id = (pod.task, pod.try_number)
        record: TaskLogRecord | None = None
        error = ""
        async with self.slots:
            for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    record = await self._store_once(key, pod, logkey)
                    break
                except _NoLogError as e:
                    record = self._record(pod, logkey, LogState.MISSING, error=str(e))
                    break
                except (LogStoreError, StoreError, ApiException, OSError) as e:
                    error = api_message(e) if isinstance(e, ApiException) else str(e)
                    log.info("log of %s (try %d of its capture): %s", pod.name, attempt + 1, error)
        if record is None:
            record = self._record(pod, logkey, LogState.FAILED, error=error)
            self.failures += 1
            metrics.log_store_failed(self.logstore.name)
            await self.post_warning(
                run,
                "LogNotStored",
                f"{pod.task}: the log of try {pod.try_number} (pod {pod.name}) was not stored: "
                f"{error}",
                f"log-{pod.task}-{pod.try_number}",
            )
        elif record.state == LogState.STORED:
            self.stored += 1
        try:
            await self.db(
                partial(self.store.record_task_log, run_uid=uid, now=self.clock()),
                key[0],
                key[1],
                record,
            )
        except StoreError as e:
            log.warning("log of %s: recording it failed: %s", pod.name, e)
        state = self.runs.get(uid)
        if state is not None:
            state.running.discard(try_id)
            state.settled.add(try_id)
        self.wake_after(key, 0)

    async def _store_once(self, key: Key, pod: ObservedPod, logkey: LogKey) -> TaskLogRecord:
        loop = asyncio.get_running_loop()
        capped = await loop.run_in_executor(self.pool, self._read, key[0], pod.name)
        data = capped.result()
        if self.logstore.uses_database:
            await self.db(self.logstore.put, logkey, data)
        else:
            await loop.run_in_executor(self.pool, self.logstore.put, logkey, data)
        return self._record(
            pod, logkey, LogState.STORED, store=self.logstore.name, size=len(data), cut=capped.cut
        )

    def _record(
        self,
        pod: ObservedPod,
        logkey: LogKey,
        state: str,
        *,
        store: str | None = None,
        size: int | None = None,
        cut: int | None = None,
        error: str | None = None,
    ) -> TaskLogRecord:
        return TaskLogRecord(
            task_name=pod.task,
            try_number=pod.try_number,
            state=state,
            store=store,
            key=self.logstore.location(logkey) if store else None,
            pod_name=pod.name,
            node_name=pod.node_name,
            size=size,
            cut_bytes=cut,
            error=error or None,
        )

    def _read(self, namespace: str, pod: str) -> LogCap:
        """Stream the task container's log through the cap (in a thread)."""
        capped = LogCap(self.cap)
        try:
            response: Any = self.kube.core.read_namespaced_pod_log(
                pod,
                namespace,
                container=CONTAINER_NAME,
                _preload_content=False,
                _request_timeout=READ_TIMEOUT_S,
            )
        except ApiException as e:
            if e.status == 404:
                raise _NoLogError(f"pod {pod} was gone before its log was read") from None
            if e.status == 400:
                # "container ... is waiting to start": it never ran, there is no log.
                raise _NoLogError(f"no log to read: {api_message(e)}") from None
            raise
        try:
            for chunk in response.stream(CHUNK, decode_content=True):
                capped.feed(chunk)
        finally:
            response.release_conn()
        return capped


class _NoLogError(Exception):
    """There is no log to read (the pod is gone, or its container never started)."""
