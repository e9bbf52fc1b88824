"""What the operator has seen of DAGs and DAGRuns: the latest object of each, fed by watch
events (kopf hands them to the event handlers after its pod index is complete)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Key = tuple[str, str]
"""(namespace, name)"""


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return meta["namespace"], meta["name"]


class Informer:
    """The latest body of every object of one kind."""

    def __init__(self) -> None:
        self._objects: dict[Key, dict[str, Any]] = {}

    def update(self, event_type: str | None, body: Mapping[str, Any]) -> Key:
        key = key_of(body)
        if event_type == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = dict(body)
        return key

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._objects.get(key)

    def in_namespace(self, namespace: str) -> Iterator[tuple[Key, dict[str, Any]]]:
        for key, body in list(self._objects.items()):
            if key[0] == namespace:
                yield key, body

    def __len__(self) -> int:
        return len(self._objects)
