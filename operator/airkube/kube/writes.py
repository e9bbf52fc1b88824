"""The writes people ask for through the CLI and the web server: creating a DAGRun,
patching a DAGRun or a DAG (clear, mark, cancel, pause), deleting a DAGRun and waiting
until it is gone (a backfill rerun). Each failure is a :class:`WriteError` with the API
server's status and a one-line message."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from airkube.api import GROUP, VERSION
from airkube.kube.apply import api_message


class WriteError(Exception):
    """A write failed; ``status`` is the API server's (502 when it could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiException as e:
        raise WriteError(int(e.status or 502), f"{what}: {api_message(e)}") from None
    except HTTPError as e:
        raise WriteError(502, f"{what}: cannot reach the Kubernetes API: {e}") from None


def create_dagrun(custom: Any, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create the DAGRun ``body`` (strict field validation); 409 when the name is taken."""
    name = body["metadata"]["name"]
    try:
        created: dict[str, Any] = _call(
            f"creating DAGRun {name}",
            custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "dagruns",
            body,
            field_validation="Strict",
        )
    except WriteError as e:
        if e.status == 409:
            raise WriteError(
                409,
                f"DAGRun {name} already exists in {namespace}: give another logical date or name",
            ) from None
        raise
    return created


def patch_dagrun(custom: Any, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch the DAGRun (spec requests and their annotations)."""
    patched: dict[str, Any] = _call(
        f"updating DAGRun {name}",
        custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "dagruns",
        name,
        patch,
        field_validation="Strict",
    )
    return patched


def patch_dag(custom: Any, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch the DAG (pause and unpause)."""
    patched: dict[str, Any] = _call(
        f"updating DAG {name}",
        custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "dags",
        name,
        patch,
        field_validation="Strict",
    )
    return patched


def delete_dagrun(custom: Any, namespace: str, name: str, timeout: float = 60) -> None:
    """Delete the DAGRun and wait (watching) until it is gone, so its name can be used
    again; a DAGRun already gone is fine."""
    from kubernetes import watch

    try:
        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns", name)
    except ApiException as e:
        if e.status != 404:
            raise WriteError(
                int(e.status or 502), f"deleting {name} to rerun it: {api_message(e)}"
            ) from None
    selector = f"metadata.name={name}"
    listed = _call(
        f"reading DAGRun {name}",
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "dagruns",
        field_selector=selector,
    )
    if not listed["items"]:
        return
    w = watch.Watch()
    for event in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "dagruns",
        field_selector=selector,
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=int(timeout),
    ):
        if event["type"] == "DELETED":
            w.stop()
            return
    raise WriteError(504, f"DAGRun {name} was not deleted within {timeout:.0f}s")
