"""Calling callbacks: the I/O of the alerts core decides (:mod:`airkube.core.rules.callbacks`).

A webhook is an HTTP POST of the payload (or its Slack form), its URL and headers read
from Secrets when the DAG says so, retried with exponential backoff on a connection error,
a timeout, 408, 429 or a 5xx answer. A notifier pod is created under a name that follows
from the callback's idempotency key (AlreadyExists: created before). Calls run in the
background with bounded concurrency: a pass never waits for one, and a callback never
changes its run. A callback that fails for good is a Warning event on the run
(``CallbackFailed``) and counted in ``failures`` (by hook), for the metrics.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from kubernetes.client.exceptions import ApiException

from airkube.api import API_VERSION, DAGRun, DAGRunStatus, DAGSpec, TaskStatus
from airkube.api.callbacks import ValueFromSecret, Webhook, WebhookFormat
from airkube.core.conditions import set_condition
from airkube.core.model.result import Plan
from airkube.core.rules.callbacks import (
    Notice,
    RunFacts,
    check_deadline,
    has_callbacks,
    notifier_pod,
    recall_notices,
    slack_text,
    transition_notices,
)
from airkube.core.rules.events import RunEnded, pass_transitions, recent_transitions
from airkube.core.timestamps import parse_time
from airkube.kube.apply import Kube, api_message
from airkube.store.errors import StoreError

from . import metrics
from .clock import Clock, utc_now
from .informer import Key

if TYPE_CHECKING:
    from .runs import RunReconciler

log = logging.getLogger(__name__)

USER_AGENT = "airkube-callbacks/1"
_RETRIED_STATUSES = frozenset({408, 425, 429})
_SEEN_KEYS = 10_000


class CallbackError(Exception):
    """A callback that cannot be called (for now, or at all)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class AlertSettings:
    concurrency: int = 8
    """At most this many callbacks are being called at once."""
    attempts: int = 5
    """Tries of a webhook before it counts as failed."""
    backoff: float = 1.0
    """The delay before the second try; doubled before each next one."""
    max_backoff: float = 60.0
    timeout: float = 10.0
    """The longest one HTTP request may take."""


class Alerts:
    """Calls callbacks in the background."""

    def __init__(
        self, kube: Kube, settings: AlertSettings | None = None, clock: Clock = utc_now
    ) -> None:
        self.kube = kube
        self.settings = settings or AlertSettings()
        self.clock = clock
        self.failures: Counter[str] = Counter()
        """Callbacks that failed for good, by hook (onFailure, deadline…)."""
        self.delivered: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Keys called by this process: a transition seen twice is called once.
        self._seen: OrderedDict[str, None] = OrderedDict()

    def send(self, run_ref: Mapping[str, Any], run: RunFacts, notices: Iterable[Notice]) -> None:
        """Call ``notices`` in the background (returns at once)."""
        for notice in notices:
            if notice.key in self._seen:
                continue
            self._seen[notice.key] = None
            if len(self._seen) > _SEEN_KEYS:
                self._seen.popitem(last=False)
            task = asyncio.create_task(self._call(run_ref, run, notice))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every callback sent so far was called (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # Hooks of the run reconciler ----------------------------------------------------------

    def after_pass(
        self,
        rec: RunReconciler,
        key: Key,
        resource: DAGRun,
        version: str | None,
        before: Mapping[str, TaskStatus],
        result: Plan,
    ) -> None:
        """Call the callbacks of a pass's transitions (its status was written)."""
        spec = rec.specs.get((key[0], resource.spec.dag_ref.name, version or ""))
        if spec is None or not has_callbacks(spec):
            return
        finish = result.finish
        run_end = (
            RunEnded(
                finish.state, result.clear_number, finish.reason, finish.message, result.end_time
            )
            if finish is not None
            else None
        )
        transitions = pass_transitions(before, result.tasks, result.changed, result.ended, run_end)
        if transitions:
            run = run_facts(resource)
            self.send(_ref(resource), run, transition_notices(spec, run, transitions))

    async def recalled(
        self, rec: RunReconciler, key: Key, resource: DAGRun, status: DAGRunStatus, now: datetime
    ) -> None:
        """A run this process had not seen: call again the callbacks of its recent
        transitions, in case a process killed since had not (at-least-once)."""
        version = status.dag_version
        if version is None:
            return
        dag_name = resource.spec.dag_ref.name
        spec = rec.specs.get((key[0], dag_name, version))
        if spec is None:
            try:
                row = await rec._db(rec.store.get_dag_version, key[0], dag_name, version)
                spec = DAGSpec.from_dict(row.spec) if row is not None else None
            except (StoreError, ValueError) as e:  # the pass reports the database's troubles
                log.debug("run %s/%s: no DAG version for callbacks: %s", *key, e)
                return
        if spec is None or not has_callbacks(spec):
            return
        run = run_facts(resource)
        notices = recall_notices(spec, run, status, recent_transitions(status, now), now)
        self.send(_ref(resource), run, notices)

    async def deadline(self, rec: RunReconciler, key: Key) -> None:
        """The run's deadline: wake the run when it is due; once it passed, record it in
        the run's status (a condition: it fires once) and then call its callbacks."""
        mem, body = rec.memory.get(key), rec.runs.get(key)
        if mem is None or body is None:
            return
        dag_name = str(((body.get("spec") or {}).get("dagRef") or {}).get("name") or "")
        version = mem.status.dag_version
        spec = rec.specs.get((key[0], dag_name, version)) if version is not None else None
        if spec is None and version is None:
            # Not started yet: the DAG's current spec (a Queued run's deadline counts too).
            raw = ((rec.dags.get((key[0], dag_name)) or {}).get("spec")) or {}
            if "deadline" not in raw:
                return
            try:
                spec = DAGSpec.from_dict(raw)
            except ValueError:
                return
        if spec is None or spec.deadline is None:
            return
        now = rec.clock()
        run = run_facts_of_body(body, mem.uid)
        verdict = check_deadline(spec.deadline, run, mem.status, now)
        if verdict.wake_at is not None:
            rec.wake_after(key, max(0.0, (verdict.wake_at - now).total_seconds()))
        if verdict.condition is None:
            return
        conditions = set_condition(mem.status.conditions, verdict.condition, now)
        status = mem.status.model_copy(update={"conditions": conditions})
        raw_status = {**mem.written, "conditions": [c.to_dict() for c in conditions or ()]}
        if not await rec._write(key, mem, status, raw_status):
            return
        note = verdict.condition.message or "the run missed its deadline"
        await self.kube.post_event(
            body, type_="Warning", reason="DeadlineMissed", note=note, now=now, key="deadline"
        )
        self.send(body, run, verdict.notices)

    async def _call(self, run_ref: Mapping[str, Any], run: RunFacts, notice: Notice) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.concurrency)
        async with self._slots:
            try:
                if notice.callback.webhook is not None:
                    await self._webhook(run.namespace, notice.callback.webhook, notice)
                elif notice.callback.pod is not None:
                    await self._pod(run, notice)
            except CallbackError as e:
                await self._failed(run_ref, notice, str(e))
            except Exception as e:  # a callback never breaks the operator
                log.exception("callback %s of %s/%s", notice.key, run.namespace, run.name)
                await self._failed(run_ref, notice, f"{type(e).__name__}: {e}")
            else:
                self.delivered[notice.hook.value] += 1

    async def _failed(self, run_ref: Mapping[str, Any], notice: Notice, error: str) -> None:
        self.failures[notice.hook.value] += 1
        metrics.callback_failed(notice.hook.value)
        what = notice.payload.get("task")
        where = f' of task "{what}" try {notice.payload.get("try")}' if what else ""
        kind = "webhook" if notice.callback.webhook is not None else "notifier pod"
        note = f"{notice.hook.value} {kind}{where} failed: {error}"
        log.warning(
            "run %s/%s: %s", run_ref["metadata"]["namespace"], run_ref["metadata"]["name"], note
        )
        await self.kube.post_event(
            run_ref,
            type_="Warning",
            reason="CallbackFailed",
            note=note,
            now=self.clock(),
            key=f"callback-failed/{notice.key}",
        )

    # Webhooks -----------------------------------------------------------------------------

    async def _webhook(self, namespace: str, hook: Webhook, notice: Notice) -> None:
        url = hook.url or await self._secret(namespace, hook.url_from)
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        for header in hook.headers or ():
            headers[header.name] = (
                header.value
                if header.value is not None
                else await self._secret(namespace, header.value_from)
            )
        headers["Idempotency-Key"] = notice.key
        body = slack_text(notice.payload) if hook.format is WebhookFormat.SLACK else notice.payload
        data = json.dumps(body).encode()
        s = self.settings
        delay = s.backoff
        for attempt in range(1, s.attempts + 1):
            try:
                await self._post(url, data, headers)
                return
            except CallbackError as e:
                if not e.retry or attempt == s.attempts:
                    raise CallbackError(f"{e} (after {attempt} tries)", retry=False) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, s.max_backoff)

    async def _post(self, url: str, data: bytes, headers: Mapping[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout)
            )
        try:
            async with self._session.post(url, data=data, headers=headers) as response:
                if response.status < 300:
                    return
                text = (await response.text(errors="replace"))[:200].strip()
                retry = response.status >= 500 or response.status in _RETRIED_STATUSES
                answer = f": {text}" if text else ""
                raise CallbackError(
                    f"{_safe(url)} answered HTTP {response.status}{answer}", retry=retry
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            raise CallbackError(
                f"POST {_safe(url)}: {type(e).__name__} {e}".strip(), retry=True
            ) from None

    async def _secret(self, namespace: str, ref: ValueFromSecret | None) -> str:
        assert ref is not None  # the model requires one of value and valueFrom
        sel = ref.secret_key_ref
        try:
            secret = await asyncio.to_thread(
                self.kube.core.read_namespaced_secret, sel.name, namespace
            )
        except ApiException as e:
            raise CallbackError(
                f"cannot read Secret {sel.name}: {api_message(e)}", retry=False
            ) from None
        raw = (secret.data or {}).get(sel.key)
        if raw is None:
            raise CallbackError(f"Secret {sel.name} has no key {sel.key}", retry=False)
        return base64.b64decode(raw).decode("utf-8", errors="replace").strip()

    # Notifier pods ------------------------------------------------------------------------

    async def _pod(self, run: RunFacts, notice: Notice) -> None:
        assert notice.callback.pod is not None
        manifest = notifier_pod(notice.callback.pod, notice, run, API_VERSION)
        (result,) = await self.kube.create_pods(run.namespace, [manifest])
        if result.error is not None:
            raise CallbackError(
                f"the API server refused the notifier pod: {result.error}", retry=False
            )


def _safe(url: str) -> str:
    """The URL without its path and query, which may hold a secret (Slack's does)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def run_facts(resource: DAGRun) -> RunFacts:
    meta = resource.metadata
    return RunFacts(
        namespace=meta.namespace or "",
        name=meta.name or "",
        uid=meta.uid or "",
        dag=resource.spec.dag_ref.name,
        logical_date=resource.spec.logical_date or meta.creation_timestamp,
        queued_at=meta.creation_timestamp,
    )


def run_facts_of_body(body: Mapping[str, Any], uid: str) -> RunFacts:
    """The facts of a run read from its raw resource (no full parse of a big status)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    created = _time(meta.get("creationTimestamp"))
    return RunFacts(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        uid=uid,
        dag=(spec.get("dagRef") or {}).get("name") or "",
        logical_date=_time(spec.get("logicalDate")) or created,
        queued_at=created,
    )


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value else None
    except (TypeError, ValueError):
        return None


def _ref(resource: DAGRun) -> dict[str, Any]:
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": resource.metadata.name,
            "namespace": resource.metadata.namespace,
            "uid": resource.metadata.uid,
        },
    }
