"""A keyed work queue for reconcilers, in the manner of client-go's workqueue.

Each key (one DAGRun) is processed by at most one worker at a time; adding a key
that is already waiting is a no-op, and adding one that is being processed makes it
run once more afterwards, so no wake-up is lost and no run is reconciled twice at
once. ``add_after`` schedules a wake-up (retry delays, timeouts); an earlier one
replaces a later one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kubernetes.client.exceptions import ApiException

from airkube.kube.apply import api_message

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._waiting: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        # Timers run on the event loop's monotonic clock: they measure delays, they decide
        # nothing about wall-clock time (the reconcilers' injected clock does).
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}

    def add(self, key: K) -> None:
        """Make ``key`` due now."""
        if key in self._processing:
            self._dirty.add(key)
        elif key not in self._waiting:
            self._waiting.add(key)
            self._ready.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Make ``key`` due after ``delay`` seconds, unless it is due earlier already."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        current = self._timers.get(key)
        if current is not None:
            if current[0] <= due:
                return
            current[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def forget(self, key: K) -> None:
        """Drop a pending timer of ``key`` (its object is gone)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer[1].cancel()

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def __len__(self) -> int:
        return len(self._waiting)

    async def _get(self) -> K:
        key = await self._ready.get()
        self._waiting.discard(key)
        self._processing.add(key)
        return key

    def _done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    async def run(self, handler: Callable[[K], Awaitable[None]], workers: int) -> None:
        """Process keys with ``workers`` concurrent workers until cancelled."""

        async def worker() -> None:
            while True:
                key = await self._get()
                try:
                    await handler(key)
                except asyncio.CancelledError:
                    raise
                except ApiException as e:
                    # The API server said no (a refused status write, an outage): one
                    # line, as for any answer of a server; the pass is redone.
                    log.warning(
                        "reconciling %s failed: the API server answered %s: %s; retrying in 5s",
                        key,
                        e.status,
                        api_message(e),
                    )
                    self.add_after(key, 5.0)
                except Exception:
                    # A failing reconcile must not stop the worker; it is retried later.
                    log.exception("reconciling %s failed; retrying in 5s", key)
                    self.add_after(key, 5.0)
                finally:
                    self._done(key)

        tasks = [asyncio.create_task(worker(), name=f"workqueue-{i}") for i in range(workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for _, handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
