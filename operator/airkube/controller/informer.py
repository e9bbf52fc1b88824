"""What the operator has seen of DAGs and DAGRuns: the latest object of each, fed by watch
events (kopf hands them to the event handlers after its pod index is complete)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Key = tuple[str, str]
"""(namespace, name)"""


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return meta["namespace"], meta["name"]


def dag_of_run(body: Mapping[str, Any]) -> Key | None:
    """(namespace, DAG name) of a DAGRun."""
    dag = (body.get("spec") or {}).get("dagRef", {}).get("name")
    return (body["metadata"]["namespace"], dag) if dag else None


class Informer:
    """The latest body of every object of one kind, optionally grouped (runs by DAG), so
    that "the runs of this DAG" costs what that DAG has, not what the cluster has."""

    def __init__(self, group_of: Callable[[Mapping[str, Any]], Key | None] | None = None) -> None:
        self._objects: dict[Key, dict[str, Any]] = {}
        self._group_of = group_of
        self._groups: dict[Key, set[Key]] = {}

    def update(self, event_type: str | None, body: Mapping[str, Any]) -> Key:
        key = key_of(body)
        old = self._objects.pop(key, None)
        if old is not None and self._group_of is not None:
            members = self._groups.get(self._group_of(old) or key)
            if members is not None:
                members.discard(key)
        if event_type != "DELETED":
            self._objects[key] = dict(body)
            group = self._group_of(body) if self._group_of is not None else None
            if group is not None:
                self._groups.setdefault(group, set()).add(key)
        return key

    def get(self, key: Key) -> dict[str, Any] | None:
        return self._objects.get(key)

    def in_group(self, group: Key) -> list[tuple[Key, dict[str, Any]]]:
        """The objects of one group (the runs of one DAG)."""
        return [
            (k, self._objects[k]) for k in sorted(self._groups.get(group, ())) if k in self._objects
        ]

    def __len__(self) -> int:
        return len(self._objects)
