"""Making DAGs and DAGRuns in the e2e tests, and reading them back."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kubernetes import client

from .waiting import GROUP, VERSION, watch_resource

TERMINAL = ("Succeeded", "Failed", "Cancelled")

SIMULATED = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": (
        '[{"key": "airkube.io/simulated", "operator": "Exists", "effect": "NoSchedule"}]'
    ),
}
"""The annotations that send a namespace's pods to the simulated node."""


def sim(**annotations: str) -> dict[str, Any]:
    """A podTemplate whose kwok annotations script the pod (see hack/kwok/stages.yaml)."""
    return {
        "metadata": {
            "annotations": {
                f"sim.airkube.io/{k.replace('_', '-')}": v for k, v in annotations.items()
            }
        }
    }


def task(name: str, *upstream: str, **fields: Any) -> dict[str, Any]:
    t: dict[str, Any] = {"name": name, "command": ["sh", "-c", f"echo {name}"], **fields}
    if upstream:
        t["dependsOn"] = list(upstream)
    return t


def apply_dag(custom: client.CustomObjectsApi, namespace: str, name: str, **spec: Any) -> None:
    spec.setdefault("defaults", {})
    spec["defaults"].setdefault("image", "busybox:1.36")
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAG",
        "metadata": {"name": name},
        "spec": spec,
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dags", body)


def create_run(
    custom: client.CustomObjectsApi, namespace: str, name: str, dag: str, **spec: Any
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAGRun",
        "metadata": {"name": name},
        "spec": {"dagRef": {"name": dag}, **spec},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns", body)


def get_run(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "dagruns", name
    )
    return result


def state(run: dict[str, Any]) -> str | None:
    return (run.get("status") or {}).get("state")


def tasks(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return (run.get("status") or {}).get("tasks") or {}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_dag(
    custom: client.CustomObjectsApi, namespace: str, name: str, until: Any, timeout: float = 30
) -> dict[str, Any]:
    return watch_resource(custom, namespace, "dags", name, until, timeout)


def events_of(
    api: client.ApiClient,
    namespace: str,
    name: str,
    having: Iterable[str] = (),
    timeout: float = 15,
) -> list[client.EventsV1Event]:
    """The events about ``name``; once those with the reasons ``having`` are there (the
    operator posts a pass's events after its status write: a test that saw the status
    may be early)."""
    want = set(having)
    deadline = time.monotonic() + timeout
    while True:
        events = client.EventsV1Api(api).list_namespaced_event(
            namespace, field_selector=f"regarding.name={name}"
        )
        found = list(events.items)
        missing = want - {e.reason for e in found}
        if not missing:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {sorted(missing)} event about {name} in {timeout} s")
        time.sleep(0.2)
