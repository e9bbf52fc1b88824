"""Waiting on the API server by watching, with a deadline (never a blind sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch

GROUP, VERSION = "airkube.io", "v1alpha1"


def watch_until(
    list_fn: Callable[..., Any],
    args: tuple[Any, ...],
    name: str,
    until: Callable[[str, Any], bool],
    timeout: float,
    what: str,
) -> list[tuple[str, Any]]:
    """Watch one object (by name) until ``until(event_type, obj)`` holds; return the events.

    ``until`` is first asked with ``("INITIAL", obj)`` (``obj`` None when absent), so a
    condition already true returns at once.
    """
    deadline = time.monotonic() + timeout
    seen: list[tuple[str, Any]] = []
    selector = f"metadata.name={name}"
    while True:
        listed = list_fn(*args, field_selector=selector)
        items = listed["items"] if isinstance(listed, dict) else listed.items
        version = (
            listed["metadata"]["resourceVersion"]
            if isinstance(listed, dict)
            else listed.metadata.resource_version
        )
        if until("INITIAL", items[0] if items else None):
            return seen
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            last = seen[-1][1] if seen else (items[0] if items else None)
            raise TimeoutError(f"{what}: condition not met in {timeout}s; last seen: {last}")
        w = watch.Watch()
        for event in w.stream(
            list_fn,
            *args,
            field_selector=selector,
            resource_version=version,
            timeout_seconds=max(1, int(remaining)),
        ):
            seen.append((event["type"], event["object"]))
            if until(event["type"], event["object"]):
                w.stop()
                return seen
        # The watch ended (server timeout or expiry): list again and resume.


def watch_pod(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    until: Callable[[str, client.V1Pod | None], bool],
    timeout: float = 60,
) -> list[tuple[str, client.V1Pod]]:
    return watch_until(
        core.list_namespaced_pod, (namespace,), name, until, timeout, f"pod {namespace}/{name}"
    )


def watch_run(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    """Watch a DAGRun until ``until(run)`` holds for it; return it."""
    return watch_resource(custom, namespace, "dagruns", name, until, timeout)


def watch_resource(
    custom: client.CustomObjectsApi,
    namespace: str,
    plural: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    """Watch an airkube resource until ``until(obj)`` holds for it; return it."""
    found: list[dict[str, Any]] = []

    def check(_: str, obj: Any) -> bool:
        if obj is not None and until(obj):
            found.append(obj)
            return True
        return False

    watch_until(
        custom.list_namespaced_custom_object,
        (GROUP, VERSION, namespace, plural),
        name,
        check,
        timeout,
        f"{plural} {namespace}/{name}",
    )
    return found[-1]


def phases(events: list[tuple[str, client.V1Pod]]) -> list[str]:
    """The distinct pod phases in the order they were seen."""
    out: list[str] = []
    for _, pod in events:
        phase = pod.status.phase if pod.status else None
        if phase and (not out or out[-1] != phase):
            out.append(phase)
    return out


def wait_for_default_service_account(core: client.CoreV1Api, namespace: str) -> None:
    """Pods are refused until kube-controller-manager has made the namespace's default SA."""
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(
        namespace, field_selector="metadata.name=default"
    ).items:
        if time.monotonic() > deadline:
            raise AssertionError(f"namespace {namespace} got no default ServiceAccount in 30s")
        time.sleep(0.1)


def settled_pods(
    core: client.CoreV1Api, namespace: str, selector: str, timeout: float = 30
) -> list[client.V1Pod]:
    """The pods matching ``selector`` once each has a terminal phase. A real kubelet
    reports the containers' end first and the phase only after it has stopped the pod's
    sandbox (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        if all(p.status.phase in ("Succeeded", "Failed") for p in pods):
            return list(pods)
        assert time.monotonic() < deadline, [(p.metadata.name, p.status.phase) for p in pods]
        time.sleep(0.2)
