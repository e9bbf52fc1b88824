"""The operator's Prometheus metrics: every metric object, and the functions that count.

Each :class:`~airkube.controller.operator.Operator` has its own :class:`Metrics`, with a
registry of its own (never prometheus_client's global one, so that several operators in
one process, as tests start them, never collide), served as ``GET /metrics`` by the
operator's health server (:mod:`airkube.controller.health`, ``--health-port``). README.md
("Metrics") lists every metric with its Airflow equivalent.

Counting from the operator's code: call this module's functions, which count into the
metrics of the operator whose work is running. The operator sets them as current (a
context variable) for everything it runs: its tasks inherit it, and so does
``asyncio.to_thread``. In a thread of a plain executor there is no current operator: take
``metrics.current()`` before going there and call its methods. Outside of any operator (a
unit test of a reconciler), counts go to a fallback that no one serves.

- ``metrics.log_store_failed(store)``: a try's log could not be stored (``store``: the
  backend, ``database`` or ``s3``) → ``airkube_log_store_failures_total{store}``.
- ``metrics.callback_failed(hook)``: a callback failed for good (``hook``: ``onFailure``,
  ``onRetry``, ``onSuccess``, ``onRunFailure``, ``onRunSuccess``, ``deadline``…) →
  ``airkube_callback_failures_total{hook}``.
- ``metrics.run_pass(...)``, ``metrics.run_created(...)``: the run reconciler and the
  schedule loop, with what core (:mod:`airkube.core.measures`) says a pass measured.

Labels are bounded: namespace, DAG, state, reason, queue, HTTP code; never a run, task or
pod name. Values read when Prometheus scrapes (queue depths, pods by phase and waiting
reason, the event loop's largest stall, whether this replica is the active one) come
from the :class:`Sources` the operator gives; they are read on the event loop, where the
watch-fed pod index changes.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from airkube.api import DAGRunStatus, DAGSpec
from airkube.core.measures import label_value, pass_measures, schedule_delay
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.result import Plan

K = TypeVar("K")

PATH: Final = "/metrics"
NO_REASON: Final = "Unspecified"
"""The reason label of a pending pod that says nothing about why it waits (yet)."""

# Buckets, in seconds, for what each histogram measures.
STEP_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
DELAY_BUCKETS: Final = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
RUN_BUCKETS: Final = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)
PASS_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class Sources:
    """What the operator lets the metrics read when Prometheus scrapes."""

    queues: Mapping[str, Sized] = field(default_factory=dict)
    """Work queues by name; their length is the keys waiting (not those being worked)."""
    pods: Callable[[], Iterable[tuple[str, ObservedPod]]] = tuple
    """Every pod of airkube's watch index, with its namespace."""
    largest_stall: Callable[[], float] | None = None
    stalls: Callable[[], int] | None = None
    active: Callable[[], bool] | None = None


class Metrics:
    """The metrics of one operator, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = Sources()
        r = self.registry
        run = ["namespace", "dag"]
        self.runs_started = Counter(
            "airkube_dagruns_started_total", "DAG runs that started.", run, registry=r
        )
        self.runs_finished = Counter(
            "airkube_dagruns_finished_total",
            "DAG runs that finished, by state (Succeeded, Failed, Cancelled).",
            [*run, "state"],
            registry=r,
        )
        self.run_duration = Histogram(
            "airkube_dagrun_duration_seconds",
            "How long finished DAG runs ran, start to end, by state.",
            [*run, "state"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.schedule_delay = Histogram(
            "airkube_dagrun_schedule_delay_seconds",
            "From the end of a scheduled run's data interval to its creation.",
            run,
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.tries = Counter(
            "airkube_task_tries_total",
            "Task tries that ended, by state (Succeeded, Failed, UpForRetry) and reason.",
            [*run, "state", "reason"],
            registry=r,
        )
        self.step_latency = Histogram(
            "airkube_task_step_latency_seconds",
            "From the end of a task's last upstream task to the creation of its pod.",
            run,
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "airkube_reconcile_duration_seconds",
            "How long one pass of a work queue's handler took, by queue.",
            ["queue"],
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "airkube_reconcile_errors_total",
            "Passes that failed (and are retried with backoff), by queue.",
            ["queue"],
            registry=r,
        )
        self.api_errors = Counter(
            "airkube_kubernetes_api_errors_total",
            "Answers of the Kubernetes API server to the operator's own calls that were not "
            "a success, by HTTP code (unreachable: no answer).",
            ["code"],
            registry=r,
        )
        self.log_store_failures = Counter(
            "airkube_log_store_failures_total",
            "Task logs that could not be stored, by log store.",
            ["store"],
            registry=r,
        )
        self.callback_failures = Counter(
            "airkube_callback_failures_total",
            "Callbacks (webhooks, notifier pods) that failed for good, by hook.",
            ["hook"],
            registry=r,
        )
        r.register(_Live(self))

    # Counting ---------------------------------------------------------------------------

    def run_pass(
        self,
        namespace: str,
        dag: str,
        before: DAGRunStatus,
        plan: Plan,
        spec: DAGSpec | None,
        created_at: datetime,
    ) -> None:
        """A pass of a run was written: count what it measured (core decides what)."""
        m = pass_measures(before, plan, spec, created_at)
        if m.started:
            self.runs_started.labels(namespace, dag).inc()
        if m.finished is not None:
            self.runs_finished.labels(namespace, dag, m.finished.value).inc()
            if m.duration_s is not None:
                self.run_duration.labels(namespace, dag, m.finished.value).observe(m.duration_s)
        for end in m.tries:
            self.tries.labels(namespace, dag, end.state.value, end.reason).inc()
        if m.step_latencies_s:
            latency = self.step_latency.labels(namespace, dag)
            for seconds in m.step_latencies_s:
                latency.observe(seconds)

    def run_created(
        self, namespace: str, dag: str, data_interval_end: datetime, created_at: datetime
    ) -> None:
        """The schedule loop created a scheduled run."""
        delay = schedule_delay(data_interval_end, created_at)
        self.schedule_delay.labels(namespace, dag).observe(delay)

    def api_error(self, code: int | str | None) -> None:
        """The API server answered a call with an error (None: it did not answer).
        Thread-safe: the Kubernetes client calls it from its threads."""
        self.api_errors.labels(str(code) if code else "unreachable").inc()

    def log_store_failed(self, store: str) -> None:
        self.log_store_failures.labels(label_value(store) or "unknown").inc()

    def callback_failed(self, hook: str) -> None:
        self.callback_failures.labels(label_value(hook) or "unknown").inc()

    def timed(
        self, queue: str, handler: Callable[[K], Awaitable[None]]
    ) -> Callable[[K], Awaitable[None]]:
        """``handler`` of the work queue ``queue``, its passes timed and failures counted."""
        seconds = self.reconcile_seconds.labels(queue)
        errors = self.reconcile_errors.labels(queue)

        async def timed_handler(key: K) -> None:
            started = time.perf_counter()
            try:
                await handler(key)
            except Exception:
                errors.inc()
                raise
            finally:
                seconds.observe(time.perf_counter() - started)

        return timed_handler

    # Serving ----------------------------------------------------------------------------

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics in the format ``accept`` asks for (Prometheus text by default, or
        OpenMetrics), with its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    async def serve(self, request: web.Request) -> web.Response:
        """``GET /metrics``. On the event loop: the live values read the watch index."""
        body, content_type = self.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})


class _Live(Collector):
    """The values read at each scrape, from the metrics' sources as they are then."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return self._families()[0]

    def collect(self) -> Iterable[Metric]:
        families, fill = self._families()
        fill()
        return families

    def _families(self) -> tuple[list[Metric], Callable[[], None]]:
        depth = GaugeMetricFamily(
            "airkube_workqueue_depth", "Keys waiting in a work queue, by queue.", labels=["queue"]
        )
        pods = GaugeMetricFamily(
            "airkube_task_pods",
            "Task pods the operator watches, by namespace and phase.",
            labels=["namespace", "phase"],
        )
        pending = GaugeMetricFamily(
            "airkube_task_pods_pending",
            "Pending task pods by namespace and what holds them back (Unschedulable, "
            f"ImagePullBackOff, ContainerCreating…; {NO_REASON}: nothing said yet).",
            labels=["namespace", "reason"],
        )
        stall = GaugeMetricFamily(
            "airkube_event_loop_largest_stall_seconds",
            "The longest the operator's event loop went without running other work.",
        )
        stalls = CounterMetricFamily(
            "airkube_event_loop_stalls",
            "Event loop stalls long enough to be logged as a warning.",
        )
        active = GaugeMetricFamily(
            "airkube_operator_active",
            "1 when this replica is the one that works (always, without peering), else 0.",
        )
        families: list[Metric] = [depth, pods, pending, stall, stalls, active]

        def fill() -> None:
            s = self.metrics.sources
            for name, queue in s.queues.items():
                depth.add_metric([name], len(queue))
            by_phase: Tally[tuple[str, str]] = Tally()
            by_reason: Tally[tuple[str, str]] = Tally()
            for namespace, pod in s.pods():
                by_phase[namespace, pod.phase.value] += 1
                if pod.phase is PodPhase.PENDING and not pod.deleted:
                    by_reason[namespace, label_value(pod.waiting_reason) or NO_REASON] += 1
            for labels, n in sorted(by_phase.items()):
                pods.add_metric(list(labels), n)
            for labels, n in sorted(by_reason.items()):
                pending.add_metric(list(labels), n)
            if s.largest_stall is not None:
                stall.add_metric([], s.largest_stall())
            if s.stalls is not None:
                stalls.add_metric([], s.stalls())
            if s.active is not None:
                active.add_metric([], 1.0 if s.active() else 0.0)

        return families, fill


# The current operator's metrics ---------------------------------------------------------

_current: ContextVar[Metrics | None] = ContextVar("airkube_metrics", default=None)
_fallback: list[Metrics] = []


def current() -> Metrics:
    """The metrics of the operator whose work is running (a fallback outside of one)."""
    found = _current.get()
    if found is not None:
        return found
    if not _fallback:
        _fallback.append(Metrics())
    return _fallback[0]


@contextlib.contextmanager
def active(metrics: Metrics) -> Iterator[Metrics]:
    """Make ``metrics`` current for the code run inside (and the tasks it starts)."""
    token = _current.set(metrics)
    try:
        yield metrics
    finally:
        _current.reset(token)


def run_pass(
    namespace: str,
    dag: str,
    before: DAGRunStatus,
    plan: Plan,
    spec: DAGSpec | None,
    created_at: datetime,
) -> None:
    """See :meth:`Metrics.run_pass`."""
    current().run_pass(namespace, dag, before, plan, spec, created_at)


def run_created(
    namespace: str, dag: str, data_interval_end: datetime, created_at: datetime
) -> None:
    """See :meth:`Metrics.run_created`."""
    current().run_created(namespace, dag, data_interval_end, created_at)


def log_store_failed(store: str = "database") -> None:
    """A try's log could not be stored in ``store`` (its backend: database, s3)."""
    current().log_store_failed(store)


def callback_failed(hook: str) -> None:
    """A callback of ``hook`` (onFailure, onRetry, onSuccess, onRunFailure, …) failed for
    good."""
    current().callback_failed(hook)
