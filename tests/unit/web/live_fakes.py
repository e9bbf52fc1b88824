"""A fake of the live hub's watch source (airkube.web.live.WatchSource)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

END = object()
"""Put in a feed: the current watch request ends (as at its timeout)."""


class FakeSource:
    """Watches fed by the test: each (kind, namespace) has a queue of events; ``END``
    ends the current watch request, an exception in the queue is raised by it."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[str, str], queue.Queue[Any]] = {}
        self.lists: list[tuple[str, str]] = []
        self.watches: list[tuple[str, str, str]] = []
        self.version = "100"
        self.closed = threading.Event()

    def feed(self, kind: str, namespace: str = "data") -> queue.Queue[Any]:
        return self.feeds.setdefault((kind, namespace), queue.Queue())

    def list_version(self, kind: str, namespace: str) -> str:
        self.lists.append((kind, namespace))
        return self.version

    def watch(
        self, kind: str, namespace: str, resource_version: str, timeout_seconds: int
    ) -> Iterator[dict[str, Any]]:
        self.watches.append((kind, namespace, resource_version))
        feed = self.feed(kind, namespace)
        while not self.closed.is_set():
            try:
                item = feed.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self.closed.set()
