"""The operator process: kopf's watches and handlers, and the run work queue, in one loop.

kopf watches DAGs, DAGRuns and airkube's pods (server-side filtered by label). Pods go
into a kopf index — kopf calls no handler before every index is complete, so a restarted
operator never plans a run before it has seen all of that run's pods. Handlers only
record what they see and wake the run concerned; the work queue reconciles each run in
one worker at a time.

With ``--peering NAME`` several replicas run and one of them acts (see :class:`Peering`):
kopf's peering pauses the watches of the others, and everything of airkube's own — the
work queues, the schedule loop, the handlers' writes, the database — waits for this
replica to be the active one. An active replica that loses that standing stops, so that
it starts again as a standby with fresh caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import kopf
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from airkube.core.observed import ObservedPod
from airkube.core.pods import LABEL_MANAGED_BY, MANAGED_BY
from airkube.kube.apply import Kube
from airkube.kube.client import load_configuration
from airkube.store.repository import Store

from .dags import dag_status_update, validate
from .informer import Informer, Key, dag_of_run
from .podmap import observe_pod, owner_uid, parse_time, run_key
from .runs import RunReconciler
from .scheduler import Scheduler
from .settings import OperatorSettings
from .workqueue import WorkQueue

log = logging.getLogger("airkube")

GROUP = "airkube.io"
READY_LINE = "airkube operator ready"
PodKey = tuple[str, str, str]
"""(namespace, run name, run uid) of a pod"""
TERMINAL_STATES = ("Succeeded", "Failed", "Cancelled")


# Peering: one active replica among several -----------------------------------------------

PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL = "kopf.dev", "v1", "clusterkopfpeerings"
PEERING_KIND = "ClusterKopfPeering"
PEERING_CRD_FILE = "crds/kopf.dev_clusterkopfpeerings.yaml"
SENIORITY_SPAN = 10**15
"""kopf priorities of one --peering-priority differ by less than this (by start time)."""
KOPF_ASSUMED_LIFETIME = 60
"""The lifetime kopf assumes of a peer that states none."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PeeringError(Exception):
    """Peering cannot work as configured: a missing CRD or object, or missing permissions."""


class DemotedError(Exception):
    """This replica was the active one and no longer is."""


class StandbyWriteError(RuntimeError):
    """A write was attempted while this replica is not the active one (and was not sent)."""


def peering_priority(priority: int, started: float, tiebreak: int) -> int:
    """The kopf priority of a replica: its ``--peering-priority`` first, then seniority.

    Among replicas of one priority the one that started first ranks highest, so a replica
    that starts later (a rolling update's new pod, a restarted one) stands by instead of
    taking over from one that works. ``tiebreak`` (0 to 99) separates replicas started in the
    same millisecond: kopf pauses *every* operator when two of equal priority meet.
    """
    started_key = int(started * 1000) * 100 + tiebreak
    return priority * SENIORITY_SPAN + (SENIORITY_SPAN - 1 - started_key)


@dataclass(frozen=True)
class Peer:
    """One operator as a peering object lists it (kopf's keep-alive record)."""

    identity: str
    priority: int
    deadline: datetime
    """When it counts as gone unless it sends a keep-alive before."""


def peers_of(body: Mapping[str, Any] | None, now: datetime) -> list[Peer]:
    """The operators of a peering object, read as kopf reads them."""
    peers = []
    for identity, info in ((body or {}).get("status") or {}).items():
        if not isinstance(info, Mapping):
            continue
        try:
            seen = parse_time(info.get("lastseen")) or now
            lifetime = int(info.get("lifetime", KOPF_ASSUMED_LIFETIME))
            priority = int(info.get("priority", 0))
        except (TypeError, ValueError):
            continue
        seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
        peers.append(Peer(str(identity), priority, seen + timedelta(seconds=lifetime)))
    return peers


@dataclass(frozen=True)
class Standing:
    active: bool
    why: str
    ahead: Peer | None = None
    """The live operator this one gives way to, if any."""
    recheck: datetime | None = None
    """When the standing may change with no new keep-alive (a deadline passes)."""


def standing(peers: Iterable[Peer], identity: str, priority: int, now: datetime) -> Standing:
    """Whether the operator ``identity`` of kopf priority ``priority`` is the active one.

    kopf's rule: an operator pauses while another live one has a higher or an equal
    priority. One more, so that a replica never acts on a lapsed standing: its own
    keep-alive must be in the object and current (a replica cut off from the API server
    for longer than its lifetime steps down, as the others take over after that time).
    """
    peers = list(peers)
    mine = next((p for p in peers if p.identity == identity), None)
    live = [p for p in peers if p.identity != identity and p.deadline > now]
    ahead = [p for p in live if p.priority >= priority]
    deadlines = [p.deadline for p in ahead]
    if mine is not None and mine.deadline > now:
        deadlines.append(mine.deadline)
    recheck = min(deadlines) if deadlines else None
    if ahead:
        first = max(ahead, key=lambda p: p.priority)
        return Standing(False, f"{first.identity} is the active replica", first, recheck)
    if mine is None:
        return Standing(False, "its own keep-alive is not in the peering object", None, recheck)
    if mine.deadline <= now:
        return Standing(False, "its own keep-alive has lapsed", None, recheck)
    return Standing(True, "no live replica ranks above it", None, recheck)


def replica_identity() -> str:
    """This process among its peers: the host (a pod's name) and a random suffix."""
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


def guard_writes(api: client.ApiClient, may_write: Callable[[], bool]) -> None:
    """Make ``api`` refuse every write (anything but GET/HEAD/OPTIONS) unless ``may_write()``:
    whatever path of the operator tries to write while it stands by, nothing is sent."""
    rest = api.rest_client
    send = rest.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() not in READ_METHODS and not may_write():
            log.error("refused %s %s: this replica is not the active one", method, url)
            raise StandbyWriteError(f"{method} {url}: this replica is not the active one")
        return send(method, url, *args, **kwargs)

    setattr(rest, "request", request)  # noqa: B010 (mypy refuses assigning to a method)


class Peering:
    """This replica's standing among the operators that share one ClusterKopfPeering.

    kopf keeps the object: each operator writes a keep-alive into its status (priority,
    lifetime, last seen) and pauses its watches while a live operator ranks above it. kopf
    does not tell its pause to the code around it, so this class watches the same object,
    applies the same rule (:func:`standing`) and tells airkube's own machinery — the work
    queues, the schedule loop, the writes — when this replica is the active one.

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
    ) -> None:
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
        now = datetime.now(UTC)
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


class Operator:
    """Everything one operator process holds."""

    def __init__(self, settings: OperatorSettings, store: Store) -> None:
        self.settings = settings
        self.config = load_configuration(settings.target, pool_size=settings.api_concurrency * 2)
        self.identity = replica_identity()
        self.kopf_priority = peering_priority(
            settings.peering_priority, time.time(), secrets.randbelow(100)
        )
        self.peering: Peering | None = None
        self.stop_flag = asyncio.Event()
        self.stopping = False
        if settings.peering:
            self.peering = Peering(
                client.ApiClient(self.config),
                name=settings.peering,
                identity=self.identity,
                priority=self.kopf_priority,
                lifetime=settings.peering_lifetime,
                on_lost=self._lost,
            )
        api = client.ApiClient(self.config)
        guard_writes(api, self.may_write)
        self.kube = Kube(api, concurrency=settings.api_concurrency, name="runs")
        # The schedule loop has API threads of its own: a burst of pod traffic must not
        # delay the creation of runs that are due.
        self.schedule_kube = Kube(api, concurrency=8, name="schedule")
        self.store = store
        self.db_pool = ThreadPoolExecutor(1, thread_name_prefix="airkube-db")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.dag_queue: WorkQueue[Key] = WorkQueue()
        self.dag_status_queue: WorkQueue[Key] = WorkQueue()
        self.dags = Informer()
        self.runs = Informer(group_of=dag_of_run)
        self.dag_generations: dict[Key, tuple[str | None, int | None]] = {}
        self.pod_index: kopf.Index[PodKey, ObservedPod] | None = None
        self.reconciler = RunReconciler(
            kube=self.kube,
            store=store,
            runs=self.runs,
            dags=self.dags,
            pods_of=self._pods_of,
            wake_after=self.queue.add_after,
            db=self._db,
            status_budget=settings.status_budget,
        )
        self.scheduler = Scheduler(
            kube=self.schedule_kube,
            dags=self.dags,
            runs=self.runs,
            wake_after=self.dag_queue.add_after,
            wake_status=self.dag_status_queue.add,
        )
        self.work_task: asyncio.Task[None] | None = None
        self.registry = self._registry()

    def may_write(self) -> bool:
        """Whether this replica may change anything: always, unless it peers and stands by."""
        return self.peering is None or self.peering.active

    async def until_active(self) -> None:
        """Wait until this replica is the active one (at once when it does not peer)."""
        if self.peering is not None:
            await self.peering.wait_active()

    async def _db(self, fn: Any, *args: Any) -> Any:
        if not self.may_write():
            raise StandbyWriteError(f"{getattr(fn, '__name__', fn)}: this replica is not active")
        return await asyncio.get_running_loop().run_in_executor(self.db_pool, partial(fn, *args))

    def _pods_of(self, key: Key, uid: str) -> Iterable[ObservedPod]:
        if self.pod_index is None:
            return ()
        return list(self.pod_index.get((*key, uid), ()))

    # kopf handlers ----------------------------------------------------------------------

    def _registry(self) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()
        pod_labels = {LABEL_MANAGED_BY: MANAGED_BY}

        @kopf.on.startup(registry=registry)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.enabled = False  # we post the events people need, nothing else
            if self.settings.peering:
                # One ClusterKopfPeering for every mode: a namespaced operator would otherwise
                # need a KopfPeering object in each namespace it watches.
                settings.peering.clusterwide = True
                settings.peering.lifetime = self.settings.peering_lifetime
                settings.peering.stealth = True  # no log line per keep-alive
            else:
                settings.peering.standalone = True
            settings.watching.label_selectors["v1", "pods"] = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
            settings.watching.server_timeout = 300
            settings.watching.client_timeout = 330
            settings.networking.request_timeout = 60
            settings.batching.worker_limit = 64
            settings.persistence.finalizer = f"{GROUP}/finalizer"
            settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
            settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
                prefix=GROUP, key="last-handled-configuration"
            )

        @kopf.on.startup(registry=registry)
        async def take_signals(**_: Any) -> None:
            # kopf stops on SIGINT and SIGTERM by removing its keep-alive from the peering
            # object first, upon which a standby takes over: this replica's own work must
            # stop before that. (kopf installed its handlers before calling this.)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop, sig.name)

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(self.config)

        @kopf.index("pods", id="pods_by_run", labels=pod_labels, registry=registry)
        def pods_by_run(body: kopf.Body, **_: Any) -> dict[PodKey, ObservedPod] | None:
            key = run_key(body)
            pod = observe_pod(body)
            return {(*key, owner_uid(body) or ""): pod} if key and pod else None

        # Handlers are coroutines: kopf runs plain functions in threads, and the work
        # queue belongs to the event loop.
        @kopf.on.event("pods", labels=pod_labels, registry=registry)
        async def pod_event(type: str | None, body: kopf.Body, **kwargs: Any) -> None:
            self.pod_index = kwargs["pods_by_run"]
            key = run_key(body)
            if key is None:
                return
            if type == "DELETED":
                pod = observe_pod(body)
                if pod is not None:
                    self.reconciler.pod_gone(key, owner_uid(body), pod)
            self.queue.add(key)

        @kopf.on.event(GROUP, "dagruns", registry=registry)
        async def run_event(type: str | None, body: kopf.Body, **kwargs: Any) -> None:
            self.pod_index = kwargs["pods_by_run"]
            before = self.runs.get((body["metadata"]["namespace"], body["metadata"]["name"]))
            key = self.runs.update(type, body)
            self._run_changed(key, before, None if type == "DELETED" else dict(body))
            if type == "DELETED":
                self.queue.forget(key)
                self.reconciler.forget(key)
                uid = body["metadata"].get("uid")
                asyncio.get_running_loop().create_task(self._mark_deleted(key, uid))
                return
            self.queue.add(key)

        @kopf.on.event(GROUP, "dags", registry=registry)
        async def dag_event(type: str | None, body: kopf.Body, **kwargs: Any) -> None:
            self.pod_index = kwargs["pods_by_run"]
            key = self.dags.update(type, body)
            if type == "DELETED":
                # A DAG created again under this name starts afresh (generation 1 again).
                self.dag_generations.pop(key, None)
                self.scheduler.forget(key)
                await self.until_active()
                await self._db(self.store.mark_dag_deleted, key[0], key[1])
                return
            generation = body["metadata"].get("generation")
            seen = (body["metadata"].get("uid"), generation)
            if self.dag_generations.get(key) == seen:
                return  # only the status changed (our own writes): nothing to do
            # kopf resumes the watches of a replica that takes over as it learns so, which may
            # be a moment before this replica's own view of the peering says so.
            await self.until_active()
            try:
                await self._reconcile_dag(key, dict(body))
                self.dag_generations[key] = seen  # only once handled: a failure is retried
            finally:
                self.dag_queue.add(key)
                # Runs waiting for this DAG (missing or invalid until now) may start.
                for run_key_, run in self.runs.in_group(key):
                    if not (run.get("status") or {}).get("dagVersion"):
                        self.queue.add(run_key_)

        return registry

    def _run_changed(
        self, key: Key, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """A run appeared, ended or went: its DAG's schedule (lastRun, held-back catchup) and
        its runs waiting for a slot among maxActiveRuns may move."""
        old, new = (b and (b.get("status") or {}).get("state") for b in (before, after))
        body = after or before
        dag = dag_of_run(body) if body is not None else None
        if dag is None:
            return
        appeared_or_went = before is None or after is None
        ended = new in TERMINAL_STATES and old not in TERMINAL_STATES
        if not (appeared_or_went or ended):
            return
        self.dag_queue.add(dag)
        if appeared_or_went and after is not None:
            return
        for other_key, other in self.runs.in_group(dag):
            status = other.get("status") or {}
            if status.get("state", "Queued") == "Queued" and not status.get("startTime"):
                self.queue.add(other_key)

    async def _reconcile_dag(self, key: Key, body: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        spec, problems, version = validate(body)
        if version is not None:
            await self._db(
                self.store.record_dag_version, key[0], key[1], version, spec.to_dict(), now
            )
        patch = dag_status_update(body, problems, version, now)
        if patch:
            await self.kube.patch_status("dags", key[0], key[1], patch)
            if problems:
                await self.kube.post_event(
                    body,
                    type_="Warning",
                    reason=problems[0].reason.value,
                    note="; ".join(p.message for p in problems),
                    now=now,
                )

    async def _mark_deleted(self, key: Key, uid: str | None) -> None:
        await self.until_active()
        try:
            await self._db(self.store.mark_run_resource_deleted, key[0], key[1], uid)
        except Exception:
            log.exception("recording the deletion of run %s/%s failed", *key)

    # Running ----------------------------------------------------------------------------

    def stop(self, why: str = "asked to") -> None:
        """Stop cleanly: airkube's work first (and no write after), then kopf."""
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping (%s)", why)
        if self.peering is not None:
            self.peering.step_down("the operator is stopping")
        if self.work_task is not None:
            self.work_task.cancel()
        self.stop_flag.set()

    def _lost(self, why: str) -> None:
        """This replica stopped being the active one: its work stops at once (the write
        guard already refuses anything further), then kopf, cleanly (so that its keep-alive
        leaves the peering object and a standby takes over without waiting)."""
        if self.work_task is not None:
            self.work_task.cancel()
        self.stop_flag.set()

    async def _work(self) -> None:
        """airkube's own machinery: the run work queue, the schedule loop and the DAG status
        writer. A replica that peers starts them once it is the active one."""
        s = self.settings
        await self.until_active()
        await asyncio.gather(
            self.queue.run(self.reconciler.reconcile, s.workers),
            self.dag_queue.run(self.scheduler.reconcile, 8),
            self.dag_status_queue.run(self.scheduler.write_status, 4),
        )

    async def run(self) -> None:
        s = self.settings
        if self.peering is not None:
            await self.peering.prepare()
        ready = asyncio.Event()
        liveness = f"http://0.0.0.0:{s.health_port}/healthz" if s.health_port else None
        kopf_task = asyncio.create_task(
            kopf.operator(
                registry=self.registry,
                standalone=self.peering is None,
                peering_name=s.peering,
                priority=self.kopf_priority if self.peering is not None else None,
                identity=cast(Any, self.identity),  # kopf types it as its own NewType
                clusterwide=not s.namespaces,
                namespaces=list(s.namespaces),
                liveness_endpoint=liveness,
                ready_flag=ready,
                stop_flag=self.stop_flag,
            ),
            name="kopf",
        )
        self.work_task = asyncio.create_task(self._work(), name="work")
        peering_task = (
            asyncio.create_task(self.peering.run(), name="peering")
            if self.peering is not None
            else None
        )
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({kopf_task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        if ready_wait in done:
            peering = (
                f"; replica {self.identity} of peering {s.peering} (acts only while it is the "
                "active one)"
                if s.peering
                else ""
            )
            log.info(
                "%s: watching %s, database %s%s",
                READY_LINE,
                ", ".join(s.namespaces) or "all namespaces",
                self.store.url,
                peering,
            )
        try:
            await kopf_task
        finally:
            ready_wait.cancel()
            for task in (self.work_task, peering_task):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.db_pool.shutdown(wait=True)
            self.kube.close()
            self.schedule_kube.close()
        if self.peering is not None and self.peering.lost is not None and not self.stopping:
            raise DemotedError(
                f"this replica ({self.identity}) stopped being the active operator of peering "
                f"{s.peering}: {self.peering.lost}; it exits so that it starts again as a "
                "standby with fresh caches"
            )


def connection_info(cfg: Any) -> kopf.ConnectionInfo:
    """kopf's credentials from the Kubernetes client configuration we loaded."""
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
        "authorization"
    )
    parts = header.split(" ", 1) if header else []
    scheme, token = (
        (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    )
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        username=cfg.username or None,
        password=cfg.password or None,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


def run_operator(settings: OperatorSettings, store: Store) -> None:
    asyncio.run(Operator(settings, store).run())
