"""Waiting on the API server by watching, with a deadline (never a blind sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch


def watch_pod(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    until: Callable[[str, client.V1Pod | None], bool],
    timeout: float = 60,
) -> list[tuple[str, client.V1Pod]]:
    """Watch one pod until ``until(event_type, pod)`` holds; return every event seen.

    ``until`` is also asked once with ``("INITIAL", pod)`` (``pod`` None when it is
    absent), so a condition already true returns at once.
    """
    deadline = time.monotonic() + timeout
    seen: list[tuple[str, client.V1Pod]] = []
    selector = f"metadata.name={name}"
    while True:
        listed = core.list_namespaced_pod(namespace, field_selector=selector)
        current = listed.items[0] if listed.items else None
        if until("INITIAL", current):
            return seen
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"pod {namespace}/{name}: condition not met in {timeout}s; saw {describe(seen)}"
            )
        w = watch.Watch()
        event: dict[str, Any]
        for event in w.stream(
            core.list_namespaced_pod,
            namespace,
            field_selector=selector,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=max(1, int(remaining)),
        ):
            pod = event["object"]
            seen.append((event["type"], pod))
            if until(event["type"], pod):
                w.stop()
                return seen
        # The watch ended (server timeout or expiry): list again and resume.


def phases(events: list[tuple[str, client.V1Pod]]) -> list[str]:
    """The distinct pod phases in the order they were seen."""
    out: list[str] = []
    for _, pod in events:
        phase = pod.status.phase if pod.status else None
        if phase and (not out or out[-1] != phase):
            out.append(phase)
    return out


def describe(events: list[tuple[str, client.V1Pod]]) -> str:
    return ", ".join(f"{t}:{p.status.phase if p.status else '?'}" for t, p in events) or "no events"
