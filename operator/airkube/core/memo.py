"""Remembering what was computed from an immutable object (a pinned DAG spec), by identity.

Specs are pydantic models (not hashable, not weak-referenceable); the cache keeps the last
few alive, so that an id is never reused while its entry stands. The operator plans runs
in threads, so the cache's bookkeeping takes a lock (making a value does not).
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """``make(obj)`` for the last ``size`` objects asked about, each made once."""

    def __init__(self, make: Callable[[K], V], size: int = 32) -> None:
        self._make = make
        self._size = size
        self._entries: OrderedDict[int, tuple[K, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, obj: K) -> V:
        key = id(obj)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] is obj:
                self._entries.move_to_end(key)
                return hit[1]
        value = self._make(obj)
        with self._lock:
            self._entries[key] = (obj, value)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
