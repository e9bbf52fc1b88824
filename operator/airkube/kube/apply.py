"""Applying a plan's Kubernetes side: create and delete pods, patch run status, post events.

Creation is idempotent: an AlreadyExists answer means an earlier pass (perhaps of an
operator that was killed since) already created that pod, which counts as done.
Deletion of a pod that is already gone counts as done too. Every answer that is not a
success (404 and 409 included), and every call the API server did not answer, is told to
``on_error`` (the operator's metrics count them by HTTP code).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from airkube.api import GROUP, VERSION

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKGROUND_DELETE = client.V1DeleteOptions(propagation_policy="Background")
_NOT_ABOUT_THE_POD = ("exceeded quota", "is being terminated", "does not support dry run")
"""Refusals of a dry run that are about the moment or the cluster, not the pod."""


@dataclass(frozen=True)
class PodResult:
    name: str
    created: bool  # False: it already existed
    error: str | None = None  # the API server refused it (bad manifest, quota, …)


class Kube:
    """The Kubernetes calls the operator makes, run in a thread pool with bounded concurrency."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        concurrency: int = 32,
        name: str = "kube",
        on_error: Callable[[int | None], None] | None = None,
    ) -> None:
        self.api = api
        self._on_error = on_error or _ignore
        """Told the HTTP code of each error answer, None for a call without an answer."""
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.events = client.EventsV1Api(api)
        # A pool of our own: asyncio's default one has min(32, CPUs + 4) threads, which
        # on a small node serialises a pass that creates many pods.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"airkube-{name}")

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, partial(fn, *args, **kwargs))
        except ApiException as e:
            self._on_error(e.status or None)
            raise
        except (HTTPError, OSError):
            self._on_error(None)
            raise

    async def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """A write whose answer is not needed as an object: the client's deserialisation of
        the response (a whole Pod, say) is skipped, which costs more CPU than the call."""

        def raw() -> bytes:
            response = fn(*args, _preload_content=False, **kwargs)
            return bytes(response.data)

        return await self._call(raw)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def create_pods(
        self, namespace: str, manifests: Iterable[Mapping[str, Any]]
    ) -> list[PodResult]:
        """Create pods concurrently; AlreadyExists is success."""
        return list(await asyncio.gather(*(self._create_pod(namespace, m) for m in manifests)))

    async def _create_pod(self, namespace: str, manifest: Mapping[str, Any]) -> PodResult:
        name = manifest["metadata"]["name"]
        # Sent as JSON, not through the client's Pod model: building and checking that
        # model cost more CPU than the call itself (bench/), and the API server checks
        # the pod anyway (the DAG's dry run did, strictly, before any run).
        status, body = await self._call(
            self._request,
            "POST",
            "/api/v1/namespaces/{namespace}/pods",
            {"namespace": namespace},
            manifest,
        )
        if status == 409:
            return PodResult(name, created=False)
        if status in (400, 403, 422):
            return PodResult(name, created=False, error=_status_message(body) or f"HTTP {status}")
        _raise_for(status, body)
        return PodResult(name, created=True)

    def _request(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """One request with a JSON body as it is (no model): (HTTP status, answer)."""
        request = self.api.param_serialize(
            method=method,
            resource_path=path,
            path_params=dict(path_params),
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=dict(body) if body is not None else None,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*request)
        if not 200 <= response.status <= 299:
            self._on_error(response.status)
        return response.status, bytes(response.read() or b"")

    async def dry_run_pod(self, namespace: str, manifest: Mapping[str, Any]) -> str | None:
        """Ask the API server whether it would create ``manifest``: a server-side dry run
        (nothing is stored) with strict field validation (an unknown field is an error, not
        dropped). None when it would, else its message.

        The manifest is sent as it is: the client's own models would refuse an unknown
        field before the API server could say which. What says nothing about the pod
        counts as accepted: a namespace gone, out of quota or being deleted, an admission
        webhook that cannot take dry runs. Other failures (the API server unreachable or
        throttling) raise :class:`ApiException`.
        """
        status, body = await self._call(self._post_dry_run, namespace, manifest)
        if 200 <= status <= 299 or status == 404:
            return None
        message = _status_message(body) or f"HTTP {status}"
        if status not in (400, 403, 422):
            raise ApiException(status=status, reason=message)
        if any(passing in message for passing in _NOT_ABOUT_THE_POD):
            return None
        return message

    def _post_dry_run(self, namespace: str, manifest: Mapping[str, Any]) -> tuple[int, bytes]:
        return self._request(
            "POST",
            "/api/v1/namespaces/{namespace}/pods",
            {"namespace": namespace},
            manifest,
            [("dryRun", "All"), ("fieldValidation", "Strict")],
        )

    async def delete_pods(self, namespace: str, names: Iterable[str]) -> None:
        await asyncio.gather(*(self._delete_pod(namespace, n) for n in names))

    async def _unless_gone(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Write with ``fn``; None when the API server answers 404 (the object is gone)."""
        try:
            return await self._write(fn, *args, **kwargs)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    async def _delete_pod(self, namespace: str, name: str) -> None:
        await self._unless_gone(
            self.core.delete_namespaced_pod, name, namespace, body=BACKGROUND_DELETE
        )

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool:
        """Merge-patch an airkube resource's status; False when the resource is gone."""
        code, body = await self._call(
            self._request,
            "PATCH",
            f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{plural}/{{name}}/status",
            {"namespace": namespace, "name": name},
            {"status": dict(status)},
            content_type="application/merge-patch+json",
        )
        if code == 404:
            return False
        _raise_for(code, body)
        return True

    async def create_resource(self, plural: str, namespace: str, body: Mapping[str, Any]) -> bool:
        """Create an airkube resource; False when one of that name exists already."""
        try:
            await self._write(
                self.custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                dict(body),
            )
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    async def delete_resource(self, plural: str, namespace: str, name: str) -> None:
        """Delete an airkube resource (its pods go with it, through their ownerReferences)."""
        await self._unless_gone(
            self.custom.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            body=BACKGROUND_DELETE,
        )

    async def post_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        note: str,
        now: datetime,
        action: str = "Reconcile",
        key: str | None = None,
    ) -> None:
        """Post an events.k8s.io/v1 Event about ``involved`` (best effort: never fails a pass).

        With ``key`` (the transition it announces) the event's name follows from it, and
        one posted already is not posted again."""
        meta = involved["metadata"]
        if key is None:
            name = event_name(meta["name"], now, reason, note)
        else:
            name = keyed_event_name(meta["name"], meta.get("uid") or "", key)
        event = client.EventsV1Event(
            metadata=client.V1ObjectMeta(name=name),
            event_time=now,
            reporting_controller="airkube.io/operator",
            reporting_instance="airkube-operator",
            action=action,
            reason=reason,
            # The API server counts a note's UTF-8 bytes, not its characters.
            note=note.encode()[:1024].decode(errors="ignore"),
            type=type_,
            regarding=client.V1ObjectReference(
                api_version=involved["apiVersion"],
                kind=involved["kind"],
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta.get("uid"),
            ),
        )
        try:
            await self._write(self.events.create_namespaced_event, meta["namespace"], event)
        except ApiException as e:
            if e.status == 409 and key is not None:
                return  # posted before (by a pass redone after a restart)
            log.warning("could not post event %s on %s: %s", reason, meta["name"], api_message(e))


def _ignore(_code: int | None) -> None:
    pass


def event_name(involved: str, now: datetime, reason: str, note: str) -> str:
    """<object>.<unix nanoseconds, hex>, as client-go's recorder names events, and a hash
    of what it says: one pass posts several events at the same (injected) time."""
    digest = hashlib.sha256(f"{reason}\0{note}".encode()).hexdigest()[:8]
    return f"{involved[:226]}.{int(now.timestamp() * 1e9):x}{digest}"


def keyed_event_name(involved: str, uid: str, key: str) -> str:
    """<object>.<hash of the object's uid and the transition>: the same transition of the
    same object always has the same name."""
    digest = hashlib.sha256(f"{uid}\0{key}".encode()).hexdigest()[:20]
    return f"{involved[:226]}.{digest}"


def api_message(e: ApiException) -> str:
    """The API server's own message of an error answer."""
    return _status_message(e.body) or str(e.reason or e)


def _raise_for(status: int, body: bytes) -> None:
    """Raise the client's ApiException for an answer that is not a success."""
    if not 200 <= status <= 299:
        raise ApiException(status=status, reason=_status_message(body) or f"HTTP {status}")


def _status_message(body: str | bytes | None) -> str | None:
    """The message of a Status the API server answered with."""
    try:
        status = json.loads(body or "{}")
    except ValueError:
        return None
    message = status.get("message") if isinstance(status, dict) else None
    return str(message) if message else None
