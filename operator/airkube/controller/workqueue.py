"""A keyed work queue for reconcilers, in the manner of client-go's workqueue.

Each key (one DAGRun) is processed by at most one worker at a time; adding a key
that is already waiting is a no-op, and adding one that is being processed makes it
run once more afterwards, so no wake-up is lost and no run is reconciled twice at
once. ``add_after`` schedules a wake-up (retry delays, timeouts); an earlier one
replaces a later one.

A handler that fails never stops a worker, and only its own key waits: it is retried
after a delay that doubles with each failure in a row (:func:`retry_delay`). A failure is
logged with its traceback the first time it happens to a key, then in one line while it
repeats; ``on_failure`` tells the object's owner (e.g. an event on the object, so that its
user sees why nothing moves).
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

RETRY_FIRST_DELAY = 1.0
RETRY_MAX_DELAY = 300.0

OnFailure = Callable[[K, str, float], Awaitable[None]]
"""Called with the key, what went wrong (one line) and the delay before the next try."""


def retry_delay(failures: int, first: float = RETRY_FIRST_DELAY) -> float:
    """How long to wait after the ``failures``-th failure in a row: ``first``, doubling, at
    most 5 minutes."""
    return min(RETRY_MAX_DELAY, first * 2.0 ** min(failures - 1, 30))


class WorkQueue(Generic[K]):
    def __init__(self, first_retry_delay: float = 5.0) -> None:
        self.first_retry_delay = first_retry_delay
        self._failures: dict[K, tuple[int, str]] = {}
        """Per key failing now: (failures in a row, the last one's text)."""
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
        self._failures.pop(key, None)
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

    async def run(
        self,
        handler: Callable[[K], Awaitable[None]],
        workers: int,
        on_failure: OnFailure[K] | None = None,
    ) -> None:
        """Process keys with ``workers`` concurrent workers until cancelled."""

        async def worker() -> None:
            while True:
                key = await self._get()
                try:
                    await handler(key)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    await self._failed(key, e, on_failure)
                else:
                    self._failures.pop(key, None)
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

    async def _failed(self, key: K, e: Exception, on_failure: OnFailure[K] | None) -> None:
        if isinstance(e, ApiException):
            # The API server said no (a refused status write, an outage): its answer,
            # as for any answer of a server, never a traceback.
            text = f"the API server answered {e.status}: {api_message(e)}"
        else:
            text = f"{type(e).__name__}: {e}"
        failures = self._failures.get(key, (0, ""))[0] + 1
        first = failures == 1 or self._failures[key][1] != text
        self._failures[key] = (failures, text)
        delay = retry_delay(failures, self.first_retry_delay)
        log.warning(
            "reconciling %s failed%s: %s; retrying in %.3gs",
            key,
            "" if failures == 1 else f" ({failures} times in a row)",
            text,
            delay,
            exc_info=(first and not isinstance(e, ApiException)) or None,
        )
        self.add_after(key, delay)
        if on_failure is not None and first:
            try:
                await on_failure(key, text, delay)
            except Exception as report:  # telling about it must not fail the worker
                log.warning("reporting the failure of %s failed too: %s", key, report)
