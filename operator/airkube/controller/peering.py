"""Peering: this replica's standing among the operators that share one ClusterKopfPeering.

The I/O around kopf peering (the rules themselves are pure, in ``airkube.core.peering``):
the check at start that the peering object, its CRD and the permissions are there (the
object is created when missing and allowed); :class:`Peering`, which follows the object in
a thread of its own and tells the operator when this replica becomes the active one and
when it stops being so; the write guard that makes the operator's API client refuse every
write while the replica stands by; and the errors the ``airkube run`` command reports in
one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from airkube.core.peering import is_write, peers_of, standing

from .clock import Clock, utc_now

log = logging.getLogger("airkube")

PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL = "kopf.dev", "v1", "clusterkopfpeerings"
PEERING_KIND = "ClusterKopfPeering"
PEERING_CRD_FILE = "crds/kopf.dev_clusterkopfpeerings.yaml"


class PeeringError(Exception):
    """Peering cannot work as configured: a missing CRD or object, or missing permissions."""


class DemotedError(Exception):
    """This replica was the active one and no longer is."""


class StandbyWriteError(RuntimeError):
    """A write was attempted while this replica is not the active one (and was not sent)."""


def replica_identity() -> str:
    """This process among its peers: the host (a pod's name) and a random suffix."""
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


def guard_writes(api: client.ApiClient, may_write: Callable[[], bool]) -> None:
    """Make ``api`` refuse every write (anything but GET/HEAD/OPTIONS) unless ``may_write()``:
    whatever path of the operator tries to write while it stands by, nothing is sent."""
    rest = api.rest_client
    send = rest.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if is_write(method) and not may_write():
            log.error("refused %s %s: this replica is not the active one", method, url)
            raise StandbyWriteError(f"{method} {url}: this replica is not the active one")
        return send(method, url, *args, **kwargs)

    setattr(rest, "request", request)  # noqa: B010 (mypy refuses assigning to a method)


class Peering:
    """This replica's standing among the operators that share one ClusterKopfPeering.

    kopf keeps the object: each operator writes a keep-alive into its status (priority,
    lifetime, last seen) and pauses its watches while a live operator ranks above it. kopf
    does not tell its pause to the code around it, so this class watches the same object,
    applies the same rule (:func:`airkube.core.peering.standing`) and tells airkube's own
    machinery — the work queues, the schedule loop, the writes — when this replica is the
    active one.

    A replica is active at most once: when it loses the standing, ``on_lost`` is called
    and the process stops, to start again as a standby whose caches are rebuilt from a
    fresh listing (kopf does not forget, on resuming, the objects deleted while paused).
    """

    def __init__(
        self,
        api: client.ApiClient,
        *,
        name: str,
        identity: str,
        priority: int,
        lifetime: int,
        on_lost: Callable[[str], None],
        clock: Clock = utc_now,
    ) -> None:
        self.clock = clock
        self.custom = client.CustomObjectsApi(api)
        self.auth = client.AuthorizationV1Api(api)
        self.name = name
        self.identity = identity
        self.priority = priority
        self.lifetime = lifetime
        self.on_lost = on_lost
        self.active = False
        """Read by the write guard from the API threads."""
        self.lost: str | None = None
        self._activated = asyncio.Event()
        self._body: Mapping[str, Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._said: str | None = None
        self._since = time.monotonic()
        self._stopping = threading.Event()

    # Before kopf starts: the object and the permissions ------------------------------------

    async def prepare(self) -> None:
        """Check what peering needs (one line saying what to do when something is missing),
        and create the peering object when it does not exist and this operator may."""
        await asyncio.get_running_loop().run_in_executor(None, self._prepare)

    def _prepare(self) -> None:
        self._check_permissions()
        try:
            self.custom.get_cluster_custom_object(
                PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, self.name
            )
            return
        except ApiException as e:
            if e.status != 404:
                raise PeeringError(f"reading {PEERING_KIND} {self.name}: {_message(e)}") from None
            if not _names_object(e, self.name):
                raise PeeringError(_no_crd()) from None
        body = {
            "apiVersion": f"{PEERING_GROUP}/{PEERING_VERSION}",
            "kind": PEERING_KIND,
            "metadata": {"name": self.name, "labels": {"app.kubernetes.io/part-of": "airkube"}},
        }
        try:
            self.custom.create_cluster_custom_object(
                PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, body
            )
        except ApiException as e:
            if e.status == 409:
                return  # another replica made it meanwhile
            if e.status == 403:
                raise PeeringError(
                    f"the {PEERING_KIND} {self.name} does not exist and this operator may not "
                    f"create it: create it (kubectl create -f - with apiVersion "
                    f"{PEERING_GROUP}/{PEERING_VERSION}, kind {PEERING_KIND}, name {self.name}) "
                    "or install with the Helm chart, which makes it"
                ) from None
            if e.status == 404:
                raise PeeringError(_no_crd()) from None
            raise PeeringError(f"creating {PEERING_KIND} {self.name}: {_message(e)}") from None
        log.info("created %s %s", PEERING_KIND, self.name)

    def _check_permissions(self) -> None:
        missing = []
        # kopf lists and watches the whole kind; it patches (keep-alives) only this object.
        checks = (("list", None), ("watch", None), ("get", self.name), ("patch", self.name))
        for verb, name in checks:
            attrs = client.V1ResourceAttributes(
                group=PEERING_GROUP, resource=PEERING_PLURAL, verb=verb, name=name
            )
            review = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)
            )
            try:
                answer = self.auth.create_self_subject_access_review(review)
            except ApiException as e:
                log.warning("cannot check the peering permissions: %s", _message(e))
                return
            if not (answer.status and answer.status.allowed):
                missing.append(verb)
        if missing:
            raise PeeringError(
                f"peering {self.name}: this operator may not {', '.join(missing)} "
                f"{PEERING_PLURAL}.{PEERING_GROUP}; grant list and watch on the kind and get and "
                f"patch on {self.name} (the Helm chart's RBAC does)"
            )

    # While running ------------------------------------------------------------------------

    async def wait_active(self) -> None:
        await self._activated.wait()

    def step_down(self, why: str) -> None:
        """Stop acting, on this replica's own accord (the process stops)."""
        self.active = False
        if self.lost is None:
            self.lost = why

    async def run(self) -> None:
        """Follow the peering object until cancelled (the watch runs in a thread of its own:
        a daemon, so that a process that stops is never held by a watch in flight)."""
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._watch, args=(loop,), name="airkube-peering", daemon=True
        )
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            self._stopping.set()
            if self._timer is not None:
                self._timer.cancel()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        selector = f"metadata.name={self.name}"
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    listed: Any = self.custom.list_cluster_custom_object(
                        PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, field_selector=selector
                    )
                    version = listed["metadata"]["resourceVersion"]
                    items = listed.get("items") or []
                    self._post(loop, items[0] if items else None)
                stream = watch.Watch().stream(
                    self.custom.list_cluster_custom_object,
                    PEERING_GROUP,
                    PEERING_VERSION,
                    PEERING_PLURAL,
                    field_selector=selector,
                    resource_version=version,
                    timeout_seconds=30,
                    _request_timeout=(10, 45),
                )
                for event in stream:
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    self._post(loop, None if event["type"] == "DELETED" else obj)
                    if self._stopping.is_set():
                        break
            except Exception as e:
                version = None  # list again: nothing is missed
                if not (isinstance(e, ApiException) and e.status == 410):
                    log.warning("watching %s %s: %s; again in 1s", PEERING_KIND, self.name, e)
                    self._stopping.wait(1)

    def _post(self, loop: asyncio.AbstractEventLoop, body: Mapping[str, Any] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is stopping
            loop.call_soon_threadsafe(self.observe, body)

    def observe(self, body: Mapping[str, Any] | None) -> None:
        """The peering object as it now is (None: deleted)."""
        if body is None and self._body is not None:
            log.error(
                "%s %s was deleted: replicas that cannot see each other must not act, so this "
                "one stops; create the object again (helm upgrade does) for them to start",
                PEERING_KIND,
                self.name,
            )
        self._body = body
        self.evaluate()

    def evaluate(self) -> None:
        now = self.clock()
        s = standing(peers_of(self._body, now), self.identity, self.priority, now)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if s.recheck is not None and self.lost is None:
            delay = max(0.0, (s.recheck - now).total_seconds()) + 0.05
            self._timer = asyncio.get_running_loop().call_later(delay, self.evaluate)
        if s.active and not self.active and self.lost is None:
            self.active = True
            self._activated.set()
            log.info(
                "active: this replica (%s) is now the active operator of peering %s, after "
                "%.1fs as a standby",
                self.identity,
                self.name,
                time.monotonic() - self._since,
            )
        elif not s.active and self.active and self.lost is None:
            self.active = False
            self.lost = s.why
            log.warning(
                "no longer active: %s in peering %s; this replica stops and starts again as a "
                "standby",
                s.why,
                self.name,
            )
            self.on_lost(s.why)
        elif (
            not s.active
            and self.lost is None
            and s.ahead is not None
            and s.ahead.identity != self._said
        ):
            self._said = s.ahead.identity
            log.info(
                "standby: %s is the active operator of peering %s; this replica (%s) takes over "
                "when it stops (at once if it stops cleanly, else %ds after its last keep-alive)",
                s.ahead.identity,
                self.name,
                self.identity,
                self.lifetime,
            )


def _message(e: ApiException) -> str:
    try:
        return str(json.loads(e.body or "{}").get("message") or e.reason)
    except ValueError:
        return str(e.reason)


def _names_object(e: ApiException, name: str) -> bool:
    """Whether a 404 is about the object ``name`` (else the kind itself is unknown)."""
    try:
        details = json.loads(e.body or "{}").get("details") or {}
    except ValueError:
        return False
    return bool(details.get("name") == name)


def _no_crd() -> str:
    return (
        f"the {PEERING_KIND} CRD ({PEERING_PLURAL}.{PEERING_GROUP}) is not installed: "
        f"kubectl apply -f {PEERING_CRD_FILE} (the Helm chart installs it)"
    )
