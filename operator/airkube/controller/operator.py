"""The operator process: kopf's watches and handlers, and the run work queue, in one loop.

kopf watches DAGs, DAGRuns and airkube's pods (server-side filtered by label). Pods go
into a kopf index — kopf calls no handler before every index is complete, so a restarted
operator never plans a run before it has seen all of that run's pods. Handlers only
record what they see and wake the run concerned; the work queue reconciles each run in
one worker at a time.

With ``--peering NAME`` several replicas run and one of them acts (the standing is
followed by :class:`airkube.controller.peering.Peering`, by the rules of
``airkube.core.peering``): kopf's peering pauses the watches of the others, and
everything of airkube's own — the work queues, the schedule loop, the handlers' writes,
the database — waits for this replica to be the active one. An active replica that loses
that standing stops, so that it starts again as a standby with fresh caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, cast

import kopf
from kubernetes import client

from airkube.api import RunState
from airkube.core.model.observed import ObservedPod
from airkube.core.peering import peering_priority
from airkube.core.pods import LABEL_MANAGED_BY, MANAGED_BY
from airkube.kube.apply import Kube
from airkube.kube.client import load_configuration
from airkube.logstore import open_log_store
from airkube.store.repository import Store

from . import metrics
from .alerts import Alerts, AlertSettings
from .clock import Clock, utc_now
from .dags import DagReconciler
from .health import Health
from .informer import Informer, Key, dag_of_run
from .logs import LogCapture
from .loop_watch import LoopWatch
from .peering import DemotedError, Peering, StandbyWriteError, guard_writes, replica_identity
from .podmap import observe_pod, owner_uid, run_key
from .runs import RunReconciler
from .scheduler import Scheduler
from .settings import OperatorSettings
from .workqueue import WorkQueue

log = logging.getLogger("airkube")

GC_THRESHOLDS = (50_000, 20, 100)
"""The garbage collector's thresholds once the operator runs (Python's: 700, 10, 10). A
big DAG's checks and a big run's passes make many objects that live a few seconds: at
the default thresholds they reach the oldest generation and trigger full collections
again and again. Measured with the fuzz test (500 DAGs, 100 runs): collection 14.6 s →
5.3 s, the largest stall of the event loop 0.60 s → 0.45 s."""

GROUP = "airkube.io"
READY_LINE = "airkube operator ready"
PodKey = tuple[str, str, str]
"""(namespace, run name, run uid) of a pod"""
TERMINAL_STATES = frozenset(s.value for s in RunState if s.finished)


class NoDiffBase(kopf.DiffBaseStorage):
    """No "last handled configuration": kopf deep-copies every object on every event to
    diff it against one, for on.create/update/resume handlers and daemons. airkube has only
    on.event handlers and indexes, which never look at that diff (bench/: the copies took
    a tenth of the operator's CPU in a 1,000-task fan-out)."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        pass


class Operator:
    """Everything one operator process holds."""

    def __init__(self, settings: OperatorSettings, store: Store, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.config = load_configuration(settings.target, pool_size=settings.api_concurrency * 2)
        self.identity = replica_identity()
        self.kopf_priority = peering_priority(
            settings.peering_priority, clock().timestamp(), secrets.randbelow(100)
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
                clock=clock,
            )
        api = client.ApiClient(self.config)
        guard_writes(api, self.may_write)
        self.metrics = metrics.Metrics()
        api_error = self.metrics.api_error
        self.kube = Kube(api, concurrency=settings.api_concurrency, name="runs", on_error=api_error)
        # The schedule loop has API threads of its own: a burst of pod traffic must not
        # delay the creation of runs that are due.
        self.schedule_kube = Kube(api, concurrency=8, name="schedule", on_error=api_error)
        # DAG passes (status writes, dry runs of their pods) neither delay pods nor schedules.
        self.dag_kube = Kube(api, concurrency=4, name="dags", on_error=api_error)
        self.store = store
        self.loop_watch = LoopWatch()
        self.health = Health(
            store.health,
            lambda: {"largestLoopStallS": round(self.loop_watch.largest, 3)},
            routes={metrics.PATH: self.metrics.serve},
        )
        self.db_pool = ThreadPoolExecutor(1, thread_name_prefix="airkube-db")
        self.queue: WorkQueue[Key] = WorkQueue()
        self.dag_queue: WorkQueue[Key] = WorkQueue()
        self.dag_status_queue: WorkQueue[Key] = WorkQueue()
        self.dag_spec_queue: WorkQueue[Key] = WorkQueue(first_retry_delay=1.0)
        self.metrics.sources = metrics.Sources(
            queues={
                "runs": self.queue,
                "dag_specs": self.dag_spec_queue,
                "schedule": self.dag_queue,
                "dag_status": self.dag_status_queue,
            },
            pods=self._all_pods,
            largest_stall=lambda: self.loop_watch.largest,
            stalls=lambda: self.loop_watch.stalls,
            active=self.may_write,
        )
        self.dags = Informer()
        self.runs = Informer(group_of=dag_of_run)
        self.pod_index: kopf.Index[PodKey, ObservedPod] | None = None
        logstore = open_log_store(settings.log_store, store)
        self.logs = (
            None
            if logstore is None
            else LogCapture(
                kube=self.kube,
                store=store,
                logstore=logstore,
                db=self._db,
                wake_after=self.queue.add_after,
                post_warning=self._post_warning,
                clock=clock,
                cap=settings.log_store.cap,
                concurrency=settings.log_store.concurrency,
            )
        )
        self.reconciler = RunReconciler(
            kube=self.kube,
            store=store,
            runs=self.runs,
            dags=self.dags,
            pods_of=self._pods_of,
            wake_after=self.queue.add_after,
            db=self._db,
            status_budget=settings.status_budget,
            clock=clock,
            alerts=Alerts(
                self.kube,
                AlertSettings(
                    attempts=settings.callback_attempts, backoff=settings.callback_backoff
                ),
                clock=clock,
            ),
            logs=self.logs,
        )
        self.scheduler = Scheduler(
            kube=self.schedule_kube,
            dags=self.dags,
            runs=self.runs,
            wake_after=self.dag_queue.add_after,
            wake_status=self.dag_status_queue.add,
            clock=clock,
        )
        self.dag_reconciler = DagReconciler(
            kube=self.dag_kube,
            store=store,
            dags=self.dags,
            runs=self.runs,
            db=self._db,
            clock=clock,
            wake_schedule=self.dag_queue.add,
            forget_schedule=self.scheduler.forget,
            wake_run=self.queue.add,
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

    async def _post_warning(self, run: Any, reason: str, note: str, key: str) -> None:
        await self.kube.post_event(
            run, type_="Warning", reason=reason, note=note, now=self.clock(), key=key
        )

    def _pods_of(self, key: Key, uid: str) -> Iterable[ObservedPod]:
        if self.pod_index is None:
            return ()
        return list(self.pod_index.get((*key, uid), ()))

    def _all_pods(self) -> Iterator[tuple[str, ObservedPod]]:
        """Every pod of the index, with its namespace (for the metrics)."""
        for (namespace, _, _), pods in (self.pod_index or {}).items():
            for pod in pods:
                yield namespace, pod

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
            # No batching.worker_limit: with one, kopf's watch loop waits for a free worker
            # (each lives idle_timeout after its object's last event), so with more pods
            # alive than the limit the whole pod stream stalls and pods look lost
            # (bench/: a 1,000-task fan-out failed at 60 s with a limit of 64).
            settings.persistence.finalizer = f"{GROUP}/finalizer"
            settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
            settings.persistence.diffbase_storage = NoDiffBase()

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
                self.reconciler.deleted(key, body["metadata"].get("uid"))
            self.queue.add(key)

        @kopf.on.event(GROUP, "dags", registry=registry)
        async def dag_event(type: str | None, body: kopf.Body, **kwargs: Any) -> None:
            self.pod_index = kwargs["pods_by_run"]
            self.dag_spec_queue.add(self.dags.update(type, body))

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
            queued = status.get("state", RunState.QUEUED) == RunState.QUEUED
            if queued and not status.get("startTime"):
                self.queue.add(other_key)

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
        """airkube's own machinery: the run work queue, the DAG work queue, the schedule
        loop and the DAG status writer. A replica that peers starts them once it is the
        active one."""
        s = self.settings
        timed = self.metrics.timed
        await self.until_active()
        await asyncio.gather(
            self.queue.run(
                timed("runs", self.reconciler.reconcile), s.workers, self.reconciler.failed
            ),
            self.dag_spec_queue.run(timed("dag_specs", self.dag_reconciler.reconcile), 4),
            self.dag_queue.run(timed("schedule", self.scheduler.reconcile), 8),
            self.dag_status_queue.run(timed("dag_status", self.scheduler.write_status), 4),
        )

    async def run(self) -> None:
        # Everything this operator runs counts into its own metrics.
        with metrics.active(self.metrics):
            await self._run()

    async def _run(self) -> None:
        s = self.settings
        if self.peering is not None:
            await self.peering.prepare()
        ready = asyncio.Event()
        if s.health_port:
            await self.health.start(s.health_port)
        health_task = asyncio.create_task(self.health.watch(), name="health")
        watch_task = asyncio.create_task(self.loop_watch.run(), name="loop-watch")
        kopf_task = asyncio.create_task(
            kopf.operator(
                registry=self.registry,
                standalone=self.peering is None,
                peering_name=s.peering,
                priority=self.kopf_priority if self.peering is not None else None,
                identity=cast(Any, self.identity),  # kopf types it as its own NewType
                clusterwide=not s.namespaces,
                namespaces=list(s.namespaces),
                liveness_endpoint=None,  # ours: self.health (see airkube.controller.health)
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
            # What exists now (modules, schemas, clients, the informers' first lists) lives
            # as long as the process: out of the garbage collector's sight, a full
            # collection costs what changed since, not the whole heap (measured: 0.2-0.6 s
            # per full collection on a loaded node, each one a stall of every watch). Then
            # fewer collections (GC_THRESHOLDS).
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
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
            for task in (self.work_task, peering_task, health_task, watch_task):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.health.stop()
            await self.reconciler.alerts.close()
            log.info("%s", self.loop_watch.summary())
            if self.logs is not None:
                self.logs.close()
            self.db_pool.shutdown(wait=True)
            self.kube.close()
            self.schedule_kube.close()
            self.dag_kube.close()
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
